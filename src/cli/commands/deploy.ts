/** `ballast deploy <deployment> --model <name> [--version n | --alias a]`. */
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { parsePositiveInt } from "../options.js";

interface DeployOptions extends ServerFlags {
  model?: string;
  version?: string;
  alias?: string;
  timeout?: string;
  delete?: boolean;
}

interface DeploymentStatus {
  name: string;
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
      .option("--delete", "remove the deployment"),
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
    const body = {
      model: options.model ?? deployment,
      ...(options.version === undefined ? {} : { version: parsePositiveInt(options.version, "--version") }),
      ...(options.alias === undefined ? {} : { alias: options.alias }),
      timeoutMs: parsePositiveInt(options.timeout ?? "10000", "--timeout"),
    };
    const result = await client.request<DeploymentStatus>("PUT", path, body);
    const serving = result.status.serving.map((s) => `${s.model} v${s.version} (${s.state})`).join(", ");
    if (!result.status.ready) {
      throw invalid(
        `deployment ${deployment} saved but not serving: ${result.status.error ?? "unknown reason"}`,
      );
    }
    process.stdout.write(`deployment ${deployment} serving ${serving}\n`);
  });
}
