/** `ballast pipeline run|runs|show|logs|cancel`: retraining pipelines' runs. */
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { parseDuration } from "../../domain/duration.js";
import type { JsonValue } from "../../domain/json-value.js";
import { clientFor, serverOptions, type ServerClient, type ServerFlags } from "../client.js";
import { collect, pairs, parsePositiveInt } from "../options.js";
import { StepDisplay, stepLines, type StepLineInput } from "../pipeline-progress.js";
import { formatTable, printJson } from "../table.js";

interface Options extends ServerFlags {
  output?: string;
}

/** A run as the API gives it (the fields the CLI shows). */
interface RunView {
  id: string;
  pipeline: string;
  state: string;
  reason?: string;
  trigger: { kind: string; reason: string };
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  params?: Record<string, string>;
  registered?: JsonValue;
  deployed?: JsonValue;
  steps?: Array<
    StepLineInput & {
      fingerprint?: string;
      cachedFrom?: string;
      inputs: Record<string, { sha256: string; bytes: number }>;
      outputs: Record<string, { sha256: string; bytes: number; kind: string }>;
      summary?: Record<string, JsonValue>;
      logLines: number;
      logDropped: number;
    }
  >;
}

const FINISHED = new Set(["Succeeded", "Failed", "Cancelled"]);

export function register(program: Command): void {
  const pipeline = program
    .command("pipeline")
    .description("Retraining pipelines: start runs, follow them, read their logs");

  serverOptions(
    pipeline
      .command("run <name>")
      .description("Start a run of a pipeline (409 and exit 4 when one is already going)")
      .option("--param <key=value>", "override a declared parameter (repeatable)", collect, [])
      .option("--wait", "follow the run's steps until it ends; exit 0 when it succeeds, 1 when it fails")
      .option("--interval <duration>", "with --wait, how often the run is read", "1s")
      .option("--reason <text>", "why, recorded with the run's trigger", "ballast pipeline run")
      .option("-o, --output <format>", "text or json", "text"),
  ).action(
    async (
      name: string,
      options: Options & { param: string[]; wait?: boolean; interval: string; reason: string },
    ) => {
      const params = pairs(options.param, "--param", (v) => v) ?? {};
      const intervalMs = parseDuration(options.interval, "--interval");
      const c = clientFor(options);
      const { run } = await c.request<{ run: RunView }>("POST", `${pipelinePath(name)}/runs`, {
        params,
        reason: options.reason,
      });
      if (options.wait !== true) {
        if (options.output === "json") return printJson(run);
        process.stdout.write(
          `run ${run.id} of ${name} started; follow it with: ballast pipeline show ${run.id}\n`,
        );
        return;
      }
      process.stderr.write(`run ${run.id} of ${name} started\n`);
      const done = await follow(c, run.id, intervalMs);
      if (options.output === "json") printJson(done);
      else process.stdout.write(`run ${done.id} ${done.state}${took(done)}\n`);
      if (done.state !== "Succeeded") {
        const failing = done.steps?.find((s) => s.state === "Failed");
        process.stderr.write(
          `ballast: run ${done.id} ${done.state.toLowerCase()}: ${done.reason ?? "no reason given"}\n` +
            (failing === undefined
              ? ""
              : `  read its log with: ballast pipeline logs ${done.id} ${failing.name}\n`),
        );
        process.exitCode = 1;
      }
    },
  );

  serverOptions(
    pipeline
      .command("runs <name>")
      .description("A pipeline's runs, newest first")
      .option("--limit <n>", "how many", "20")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (name: string, options: Options & { limit: string }) => {
    const limit = parsePositiveInt(options.limit, "--limit");
    const { runs } = await clientFor(options).request<{ runs: RunView[] }>(
      "GET",
      `${pipelinePath(name)}/runs?limit=${limit}`,
    );
    if (options.output === "json") return printJson(runs);
    process.stdout.write(
      formatTable(
        ["RUN", "STATE", "TRIGGER", "CREATED", "DURATION", "REASON"],
        runs.map((r) => [
          r.id,
          r.state,
          `${r.trigger.kind}: ${r.trigger.reason}`,
          new Date(r.createdAt).toISOString(),
          r.durationMs === undefined ? "" : `${(r.durationMs / 1000).toFixed(1)} s`,
          r.reason ?? "",
        ]),
      ),
    );
  });

  serverOptions(
    pipeline
      .command("show <run>")
      .description("A run's steps: state, timings, cache hits, input and output artifacts, summaries")
      .option("-o, --output <format>", "text or json", "text"),
  ).action(async (id: string, options: Options) => {
    const run = await clientFor(options).request<RunView>("GET", runPath(id));
    if (options.output === "json") return printJson(run);
    printRun(run);
  });

  serverOptions(
    pipeline
      .command("logs <run> [step]")
      .description("A run's log lines (one step's, or every step's)")
      .option("-o, --output <format>", "text or json", "text"),
  ).action(async (id: string, step: string | undefined, options: Options) => {
    const query = step === undefined ? "" : `?step=${encodeURIComponent(step)}`;
    const { lines } = await clientFor(options).request<{
      lines: Array<{ step: string; attempt: number; at: number; line: string }>;
    }>("GET", `${runPath(id)}/logs${query}`);
    if (options.output === "json") return printJson(lines);
    for (const l of lines)
      process.stdout.write(
        `${new Date(l.at).toISOString()} ${step === undefined ? `${l.step}#${l.attempt} ` : `#${l.attempt} `}${l.line}\n`,
      );
  });

  serverOptions(
    pipeline.command("cancel <run>").description("Cancel a run: its running steps are aborted"),
  ).action(async (id: string, options: Options) => {
    const { run } = await clientFor(options).request<{ run: RunView }>("POST", `${runPath(id)}/cancel`);
    process.stdout.write(`run ${run.id} ${run.state}\n`);
  });
}

/** Reads the run until it has finished, drawing its steps as they change. */
async function follow(c: ServerClient, id: string, intervalMs: number): Promise<RunView> {
  const display = new StepDisplay();
  for (;;) {
    const run = await c.request<RunView>("GET", runPath(id));
    display.show(run.steps ?? [], Date.now());
    if (FINISHED.has(run.state)) return run;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function printRun(run: RunView): void {
  const out: string[] = [
    `run:       ${run.id}`,
    `pipeline:  ${run.pipeline}`,
    `state:     ${run.state}${took(run)}`,
    ...(run.reason === undefined ? [] : [`reason:    ${run.reason}`]),
    `trigger:   ${run.trigger.kind}: ${run.trigger.reason}`,
    ...(run.params === undefined || Object.keys(run.params).length === 0
      ? []
      : [
          `params:    ${Object.entries(run.params)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")}`,
        ]),
    ...(run.registered === undefined ? [] : [`registered: ${JSON.stringify(run.registered)}`]),
    ...(run.deployed === undefined ? [] : [`deployed:  ${JSON.stringify(run.deployed)}`]),
    "",
    ...stepLines(run.steps ?? [], run.finishedAt ?? Date.now()),
  ];
  for (const s of run.steps ?? []) {
    const artifacts = [
      ...Object.entries(s.inputs).map(
        ([n, a]) => `    in  ${n}: sha256:${a.sha256.slice(0, 16)} (${a.bytes} bytes)`,
      ),
      ...Object.entries(s.outputs).map(
        ([n, a]) => `    out ${n}: sha256:${a.sha256.slice(0, 16)} ${a.kind} (${a.bytes} bytes)`,
      ),
      ...(s.summary === undefined ? [] : [`    summary: ${JSON.stringify(s.summary)}`]),
      ...(s.logDropped > 0 ? [`    log: ${s.logLines} lines kept, ${s.logDropped} dropped`] : []),
    ];
    if (artifacts.length > 0) out.push("", `  ${s.name}:`, ...artifacts);
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

function took(run: RunView): string {
  return run.durationMs === undefined ? "" : ` in ${(run.durationMs / 1000).toFixed(1)} s`;
}

function pipelinePath(name: string): string {
  if (name.length === 0) throw invalid("give the pipeline's name");
  return `/api/v1/pipelines/${encodeURIComponent(name)}`;
}

function runPath(id: string): string {
  return `/api/v1/pipelines/-/runs/${encodeURIComponent(id)}`;
}
