/** `ballast deploy <deployment> --model <name> [--version n | --alias a]`. */
import type { Command } from "commander";
import { invalid, isBallastError } from "../../domain/errors.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { parsePositiveInt } from "../options.js";

interface DeployOptions extends ServerFlags {
  model?: string;
  version?: string;
  alias?: string;
  timeout?: string;
  delete?: boolean;
  skipStrategy?: boolean;
}

interface DeploymentStatus {
  name: string;
  rollout?: { phase: string; canary: { model: string; version: number } };
  status: {
    ready: boolean;
    error?: string;
    serving: Array<{ variant: string; model: string; version: number; state: string }>;
  };
}

export function register(program: Command): void {
  serverOptions(
    program
      .command("deploy <deployment>")
      .description("Point a deployment (the name clients call) at a model version or alias")
      .option("--model <name>", "registered model to serve (default: the deployment's name)")
      .option("--version <n>", "a fixed version")
      .option("--alias <alias>", "follow an alias (champion, …); the deployment moves when the alias does")
      .option("--timeout <ms>", "deadline for each model call, in milliseconds", "10000")
      .option("--delete", "remove the deployment")
      .option(
        "--skip-strategy",
        "switch at once even when the deployment declares a rollout strategy (default: roll the version out through it)",
      ),
  ).action(async (deployment: string, options: DeployOptions) => {
    const client = clientFor(options);
    const path = `/api/v1/deployments/${encodeURIComponent(deployment)}`;
    if (options.delete === true) {
      await client.request("DELETE", path);
      process.stdout.write(`deployment ${deployment} deleted\n`);
      return;
    }
    if (options.version !== undefined && options.alias !== undefined)
      throw invalid("give --version or --alias, not both");
    // The deployment's rollout strategy is kept, so a new version goes out through it (routing
    // and resilience name variants, which this command replaces, so they are not carried over).
    const kept = await client.request<Record<string, unknown>>("GET", path).then(
      ({ strategy }) => (strategy === undefined ? {} : { strategy }),
      (error: unknown) => {
        if (isBallastError(error) && error.code === "not_found") return {};
        throw error;
      },
    );
    const body = {
      ...kept,
      model: options.model ?? deployment,
      ...(options.version === undefined ? {} : { version: parsePositiveInt(options.version, "--version") }),
      ...(options.alias === undefined ? {} : { alias: options.alias }),
      timeoutMs: parsePositiveInt(options.timeout ?? "10000", "--timeout"),
    };
    const query = options.skipStrategy === true ? "?strategy=skip" : "";
    const result = await client.request<DeploymentStatus>("PUT", `${path}${query}`, body);
    const serving = result.status.serving.map((s) => `${s.model} v${s.version} (${s.state})`).join(", ");
    if (!result.status.ready) {
      throw invalid(
        `deployment ${deployment} saved but not serving: ${result.status.error ?? "unknown reason"}`,
      );
    }
    process.stdout.write(`deployment ${deployment} serving ${serving}\n`);
    if (result.rollout !== undefined) {
      const { canary, phase } = result.rollout;
      process.stdout.write(
        `rolling ${canary.model} v${canary.version} out through the deployment's strategy (${phase}); ` +
          `watch it with: ballast rollout status ${deployment}\n`,
      );
    }
  });
}
