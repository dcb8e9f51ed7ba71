/** `ballast rollout status|start|promote|abort|pause|resume|undo <deployment>`. */
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import type { RolloutView } from "../../rollout/rollouts.js";
import type { RolloutState } from "../../rollout/rollout-state.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { parsePositiveInt } from "../options.js";
import { formatTable, printJson } from "../table.js";

interface Options extends ServerFlags {
  output?: string;
}

const ACTIONS: Record<string, string> = {
  promote: "skip the remaining steps and promote the canary now",
  abort: "roll back: all traffic to the stable version, the canary marked failed",
  pause: "stop stepping until resumed (analysis keeps running)",
  resume: "continue a paused rollout (past a pause step or an inconclusive analysis)",
  undo: "go back to the version that was stable before the last promotion (aborts a running rollout)",
};

export function register(program: Command): void {
  const rollout = program
    .command("rollout")
    .description("Canary rollouts: start, watch, promote, abort, undo");
  const common = serverOptions;

  common(
    rollout
      .command("status <deployment>")
      .description("Where the rollout stands: step, weight, each gate's numbers")
      .option("-o, --output <format>", "text or json", "text"),
  ).action(async (deployment: string, options: Options) => {
    const view = await client(options).request<RolloutView>("GET", path(deployment));
    if (options.output === "json") return printJson(view);
    printView(view);
  });

  common(
    rollout
      .command("start <deployment>")
      .description("Roll a version out with the deployment's declared canary strategy")
      .option("--version <n>", "the version to roll out")
      .option("--alias <alias>", "roll out the version an alias points at")
      .option("--model <name>", "the model (default: the stable variant's)"),
  ).action(
    async (deployment: string, options: Options & { version?: string; alias?: string; model?: string }) => {
      if ((options.version === undefined) === (options.alias === undefined))
        throw invalid("give --version or --alias");
      const view = await client(options).request<RolloutView>("POST", path(deployment), {
        ...(options.model === undefined ? {} : { model: options.model }),
        ...(options.version === undefined ? {} : { version: parsePositiveInt(options.version, "--version") }),
        ...(options.alias === undefined ? {} : { alias: options.alias }),
      });
      printView(view);
    },
  );

  common(
    rollout
      .command("challengers <deployment>")
      .description("Every other variant (shadows too) against the champion on labelled requests")
      .option("--window <duration>", "how far back to pair predictions", "24h")
      .option("--regression", "compare squared errors (paired t-test) instead of accuracy (McNemar)")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (deployment: string, options: Options & { window: string; regression?: boolean }) => {
    const query = new URLSearchParams({
      window: options.window,
      regression: String(options.regression === true),
    });
    const result = await client(options).request<{
      challengers: Array<{
        variant: string;
        model: string;
        version: number;
        pairs: number;
        significantlyBetter: boolean;
        summary: string;
      }>;
    }>("GET", `/api/v1/deployments/${encodeURIComponent(deployment)}/challengers?${query.toString()}`);
    if (options.output === "json") return printJson(result);
    if (result.challengers.length === 0) {
      process.stdout.write(
        `deployment ${deployment} has no challengers: it serves only its champion; add a variant or a shadow to compare one\n`,
      );
      return;
    }
    process.stdout.write(
      formatTable(
        ["VARIANT", "VERSION", "PAIRS", "BETTER", "SUMMARY"],
        result.challengers.map((c) => [
          c.variant,
          `${c.model} v${c.version}`,
          c.pairs,
          c.significantlyBetter ? "yes" : "no",
          c.summary,
        ]),
      ),
    );
  });

  for (const [action, description] of Object.entries(ACTIONS)) {
    common(rollout.command(`${action} <deployment>`).description(description)).action(
      async (deployment: string, options: Options) => {
        const view = await client(options).request<RolloutView & { undone?: string }>(
          "POST",
          `${path(deployment)}/${action}`,
          {},
        );
        // Undo says what it did first: the view below it is the last rollout, as it ended.
        if (view.undone !== undefined) process.stdout.write(`deployment ${deployment}: ${view.undone}\n`);
        printView(view);
      },
    );
  }
}

const client = (o: Options) => clientFor(o);
const path = (deployment: string) => `/api/v1/deployments/${encodeURIComponent(deployment)}/rollout`;

function printView(view: RolloutView): void {
  const r = view.rollout;
  if (r === null) {
    process.stdout.write(`deployment ${view.deployment}: no rollout yet\n`);
    return;
  }
  const bar = "█".repeat(Math.round(r.weight / 5)).padEnd(20, "░");
  process.stdout.write(
    `deployment ${view.deployment}: ${r.phase}${phaseDetail(r)} — ` +
      `${r.canary.model} v${r.canary.version} over v${r.stable.version}\n` +
      `  canary ${bar} ${r.weight}%   step ${Math.min(r.step + 1, view.steps)}/${view.steps}\n` +
      `  ${r.message}\n` +
      (r.conditions === undefined || r.conditions.length === 0
        ? ""
        : `  conditions: ${r.conditions.map((c) => `${c.type}=${c.status}`).join(" ")}\n`),
  );
  if (view.experiment !== undefined) process.stdout.write(`  A/B: ${view.experiment.verdict}\n`);
  if (view.gates.length > 0) {
    process.stdout.write(
      formatTable(
        ["GATE", "DECISION", "DETAIL"],
        view.gates.map((g) => [g.gate, g.decision, g.detail]),
      ),
    );
  }
}

/** Why a rollout waits or how it ended: a pause's reason, or who rolled it back. */
function phaseDetail(r: RolloutState): string {
  if (r.pauseReason !== null) return ` (${r.pauseReason})`;
  switch (r.abortedBy) {
    case "analysis":
      return " (rolled back automatically: its analysis failed)";
    case "person":
      return " (aborted by a person)";
    case "experiment":
      return " (the A/B test kept the current version)";
    default:
      return "";
  }
}
