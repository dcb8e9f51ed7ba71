/**
 * `npm run bench:serve`: Ballast against a bare node:http + onnxruntime-node server on the same
 * model and the same request, in one run, with the ratios checked against the targets; Ballast
 * with a drift monitor on the deployment against Ballast without one (the cost of monitoring);
 * then the prediction log's write throughput on its own.
 *
 * Each server runs in its own child process and autocannon runs here. In one process the load
 * generator and the server would share an event loop and a core, and whichever server was
 * measured would be charged for autocannon's work; with two cores, one server under load and
 * autocannon in the parent each get one. Only one server is under load at a time, and rounds
 * alternate the order (bare, Ballast, monitored Ballast, then the reverse) so that warming of
 * the machine does not favour any.
 *
 * Environment: BENCH_SECONDS (measured seconds per run, default 10), BENCH_WARMUP_SECONDS (3),
 * BENCH_CONNECTIONS (32), BENCH_ROUNDS (2), BENCH_LOG_ROWS (200000), BENCH_PROFILE=1 (write V8
 * CPU profiles of every server to a kept temp directory; read them with bench/cpu-profile.ts).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { REQUEST_BODY, EXPECTED_PROBABILITY, INFER_PATH, MONITOR_NAME, OUTPUT_NAME } from "./mlp-fixture.js";
import { forkServer, type ForkedServer, type ServerKind } from "./servers/fork.js";
import { runLoad, type LoadRun } from "./load.js";
import { figuresOf, fixed, passFail, table, TARGETS, verdict, type Figures } from "./report.js";
import { measurePredictionLogWrites } from "./prediction-log-writes.js";
import { cpuSeconds, othersShare, sampleCpu } from "./cpu-share.js";
import type { PredictionLogStats } from "../src/serving/prediction-log.js";
import type { MonitorStatus } from "../src/monitoring/monitors.js";

interface Settings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly rounds: number;
  readonly logRows: number;
  readonly profile: boolean;
}

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

function readSettings(): Settings {
  return {
    seconds: positiveInt("BENCH_SECONDS", 10),
    warmupSeconds: positiveInt("BENCH_WARMUP_SECONDS", 3),
    connections: positiveInt("BENCH_CONNECTIONS", 32),
    rounds: positiveInt("BENCH_ROUNDS", 2),
    logRows: positiveInt("BENCH_LOG_ROWS", 200_000),
    profile: process.env.BENCH_PROFILE === "1",
  };
}

/** One Ballast run's prediction-log accounting. */
interface LogDuringRun {
  readonly seconds: number;
  /** Rows the background writer stored while the load ran. */
  readonly writtenDuringRun: number;
  /** Rows stored once the buffer was flushed after the run: every answered request's row. */
  readonly writtenAfterFlush: number;
  readonly answered: number;
  readonly dropped: number;
  readonly writeFailures: number;
}

/** One monitored run's accounting: every answered row must have been sketched. */
interface MonitorDuringRun {
  /** Rows the monitor was given during the run (between two GETs of its status). */
  readonly rowsObserved: number;
  /** Of those, rows that arrived with no reference loaded and were not sketched. */
  readonly rowsUnwatched: number;
  readonly errors: number;
  readonly answered: number;
  /** Rows of the last window the monitor closed and evaluated (0 if none yet). */
  readonly latestWindowRows: number;
  /** Features that window found drifted (the traffic is the reference's, so 0 is expected). */
  readonly latestDrifted: number;
  readonly lastError: string | null;
}

interface Measured {
  readonly round: number;
  readonly kind: ServerKind;
  readonly run: LoadRun;
  /** Share of all cores other processes used during the measured run (NaN if unknown). */
  readonly othersCpu: number;
  /** CPU seconds the server used during the measured run, all threads (NaN if unknown). */
  readonly serverCpuSeconds: number;
  readonly log?: LogDuringRun;
  readonly monitor?: MonitorDuringRun;
}

/** Runs above this share of other processes' CPU are flagged as disturbed. */
const DISTURBED = 0.1;

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A server that answers wrongly is not worth timing: check one answer against numpy's. */
async function checkAnswer(server: ForkedServer): Promise<void> {
  const response = await fetch(server.url + INFER_PATH, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: REQUEST_BODY,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${server.kind}: ${response.status} ${text}`);
  const body = JSON.parse(text) as { outputs?: { name?: string; data?: unknown[] }[] };
  const output = body.outputs?.[0];
  const value = output?.data?.[0];
  if (
    output?.name !== OUTPUT_NAME ||
    typeof value !== "number" ||
    Math.abs(value - EXPECTED_PROBABILITY) > 1e-5
  ) {
    throw new Error(`${server.kind} answered ${text}; expected ${OUTPUT_NAME} ≈ ${EXPECTED_PROBABILITY}`);
  }
}

async function measure(
  server: ForkedServer,
  settings: Settings,
  round: number,
  ourPids: readonly number[],
): Promise<Measured> {
  const load = { url: server.url + INFER_PATH, body: REQUEST_BODY, connections: settings.connections };
  const measured = async () => {
    const before = sampleCpu(ourPids);
    const run = await runLoad({ ...load, seconds: settings.seconds });
    const after = sampleCpu(ourPids);
    return {
      run,
      othersCpu: othersShare(before, after),
      serverCpuSeconds: cpuSeconds(before, after, server.pid),
    };
  };
  await runLoad({ ...load, seconds: settings.warmupSeconds });
  if (server.kind === "bare") return { round, kind: server.kind, ...(await measured()) };

  const statsUrl = `${server.url}/api/v1/prediction-log`;
  const monitorUrl = `${server.url}/api/v1/monitors/${MONITOR_NAME}`;
  const monitored = server.kind === "ballast+monitor";
  await server.flush();
  const before = await getJson<PredictionLogStats>(statsUrl);
  const monitorBefore = monitored ? await getJson<MonitorStatus>(monitorUrl) : undefined;
  const { run, othersCpu, serverCpuSeconds } = await measured();
  const atEnd = await getJson<PredictionLogStats>(statsUrl);
  // Rows are sketched on the request path, so the status is complete once the answers are.
  const monitorAfter = monitored ? await getJson<MonitorStatus>(monitorUrl) : undefined;
  await server.flush();
  const after = await getJson<PredictionLogStats>(statsUrl);
  return {
    round,
    kind: server.kind,
    run,
    othersCpu,
    serverCpuSeconds,
    log: {
      seconds: run.seconds,
      writtenDuringRun: atEnd.written - before.written,
      writtenAfterFlush: after.written - before.written,
      answered: run.completed,
      dropped: after.dropped - before.dropped,
      writeFailures: after.writeFailures - before.writeFailures,
    },
    ...(monitorBefore === undefined || monitorAfter === undefined
      ? {}
      : { monitor: monitorDuring(monitorBefore, monitorAfter, run.completed) }),
  };
}

function monitorDuring(before: MonitorStatus, after: MonitorStatus, answered: number): MonitorDuringRun {
  const latest = after.variants.find((v) => v.variant === "stable")?.latest ?? null;
  return {
    rowsObserved: after.rowsObserved - before.rowsObserved,
    rowsUnwatched: after.rowsUnwatched - before.rowsUnwatched,
    errors: after.errors - before.errors,
    answered,
    latestWindowRows: latest?.rows ?? 0,
    latestDrifted: latest?.drift?.features.filter((f) => f.drifted).length ?? 0,
    lastError: after.lastError,
  };
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${(100 * share).toFixed(0)}%` : "n/a";
}

function figureRow(label: string, f: Figures): string[] {
  return [
    label,
    fixed(f.requestsPerSecond, 0),
    fixed(f.p50Ms, 2),
    fixed(f.p99Ms, 2),
    String(f.completed),
    String(f.errors),
    String(f.timeouts),
    String(f.non2xx),
  ];
}

const FIGURE_HEADER = ["", "req/s", "p50 ms", "p99 ms", "2xx", "errors", "timeouts", "non-2xx"];

function printServing(settings: Settings, measured: readonly Measured[]): boolean {
  const of = (kind: ServerKind) => figuresOf(measured.filter((m) => m.kind === kind).map((m) => m.run));
  const bare = of("bare");
  const ballast = of("ballast");
  const monitored = of("ballast+monitor");
  const v = verdict(ballast, bare);
  // The same throughput target, with Ballast without monitoring as the baseline.
  const m = verdict(monitored, ballast);
  // CPU per answer does not depend on whether the server or the load generator was the
  // bottleneck, so it shows the cost of Ballast's extra work even when throughput cannot.
  const cpuPerRequest = (runs: readonly Measured[]) =>
    (1e6 * runs.reduce((n, m) => n + m.serverCpuSeconds, 0)) / runs.reduce((n, m) => n + m.run.completed, 0);
  const bareCpu = cpuPerRequest(measured.filter((m) => m.kind === "bare"));
  const ballastCpu = cpuPerRequest(measured.filter((m) => m.kind === "ballast"));
  const monitoredCpu = cpuPerRequest(measured.filter((m) => m.kind === "ballast+monitor"));

  console.log(
    "\nPer run (server CPU: all threads of the server process per 2xx answer; " +
      "others' CPU: share of both cores used by processes other than the benchmark's)",
  );
  console.log(
    table([
      [...FIGURE_HEADER, "server CPU µs/req", "others' CPU"],
      ...measured.map((m) => [
        ...figureRow(`round ${m.round} ${m.kind}`, figuresOf([m.run])),
        fixed(cpuPerRequest([m]), 0),
        percent(m.othersCpu),
      ]),
    ]),
  );
  const disturbed = measured.filter((m) => m.othersCpu > DISTURBED).length;
  if (disturbed > 0) {
    console.log(
      `WARNING: ${disturbed} run(s) shared the machine with other work (> ${percent(DISTURBED)} of the cores); ` +
        `the figures and ratios are unreliable, run again on a quiet machine`,
    );
  }
  console.log(`\nPooled over ${settings.rounds} round(s) (p50/p99 over every 2xx latency of all runs)`);
  console.log(
    table([
      [...FIGURE_HEADER, "server CPU µs/req"],
      [...figureRow("bare", bare), fixed(bareCpu, 0)],
      [...figureRow("ballast", ballast), fixed(ballastCpu, 0)],
      [...figureRow("ballast+monitor", monitored), fixed(monitoredCpu, 0)],
    ]),
  );

  const failures = (f: Figures) => `${f.errors + f.timeouts} errors, ${f.non2xx} non-2xx`;
  console.log("\nBallast / bare");
  console.log(
    table([
      ["", "value", "target", "verdict"],
      [
        "throughput",
        fixed(v.throughputRatio, 3),
        `>= ${TARGETS.minThroughputRatio}`,
        passFail(v.throughputOk),
      ],
      ["p99 latency", fixed(v.p99Ratio, 3), `<= ${TARGETS.maxP99Ratio}`, passFail(v.p99Ok)],
      ["failures", `bare: ${failures(bare)}; ballast: ${failures(ballast)}`, "0", passFail(v.cleanOk)],
      ["server CPU per request", fixed(ballastCpu / bareCpu, 3), "(no target)", ""],
    ]),
  );

  console.log(
    `\nMonitoring on / off (ballast+monitor / ballast; monitor ${MONITOR_NAME}, tumbling windows of 10000 rows)`,
  );
  console.log(
    table([
      ["", "value", "target", "verdict"],
      [
        "monitoring on / off throughput",
        fixed(m.throughputRatio, 3),
        `>= ${TARGETS.minThroughputRatio}`,
        passFail(m.throughputOk),
      ],
      ["monitoring on / off p99 latency", fixed(m.p99Ratio, 3), "(no target)", ""],
      [
        "failures",
        `ballast+monitor: ${failures(monitored)}`,
        "0",
        passFail(monitored.errors + monitored.timeouts + monitored.non2xx === 0),
      ],
      ["server CPU per request", fixed(monitoredCpu / ballastCpu, 3), "(no target)", ""],
    ]),
  );
  let monitorOk = m.throughputOk && monitored.errors + monitored.timeouts + monitored.non2xx === 0;
  const monitorRows = measured.flatMap((run) => {
    const mon = run.monitor;
    if (mon === undefined) return [];
    // As for the log: requests in flight when autocannon stops are answered and sketched but
    // not counted as 2xx, up to one per connection.
    const unaccounted = mon.rowsObserved - mon.answered;
    const ok =
      unaccounted >= 0 &&
      unaccounted <= settings.connections &&
      mon.rowsUnwatched === 0 &&
      mon.errors === 0 &&
      mon.latestWindowRows > 0;
    monitorOk &&= ok;
    return [
      [
        `round ${run.round}`,
        String(mon.rowsObserved),
        String(mon.answered),
        String(unaccounted),
        String(mon.rowsUnwatched),
        String(mon.errors),
        String(mon.latestWindowRows),
        String(mon.latestDrifted),
        passFail(ok),
      ],
    ];
  });
  console.log(
    `\nMonitor ${MONITOR_NAME} during its measured runs (GET /api/v1/monitors/${MONITOR_NAME}; ` +
      "rowsObserved must cover every 2xx, none unwatched, no errors, windows evaluated)",
  );
  console.log(
    table([
      [
        "",
        "rowsObserved",
        "2xx answers",
        "in flight",
        "unwatched",
        "errors",
        "last window rows",
        "drifted features",
        "verdict",
      ],
      ...monitorRows,
    ]),
  );
  const lastError = measured.find((run) => run.monitor?.lastError != null)?.monitor?.lastError;
  if (lastError !== undefined && lastError !== null) console.log(`monitor's last error: ${lastError}`);

  const logs = measured.filter((m) => m.log !== undefined);
  let logOk = true;
  const rows = logs.map((m) => {
    const log = m.log as LogDuringRun;
    // autocannon stops without waiting for requests in flight: the server still answers and
    // logs them but they are not counted as 2xx. That is up to one per connection at the end
    // of the warm-up (logged after the pre-run flush) and at the end of the measured run.
    const unaccounted = log.writtenAfterFlush - log.answered;
    const ok =
      unaccounted >= 0 &&
      unaccounted <= 2 * settings.connections &&
      log.dropped === 0 &&
      log.writeFailures === 0;
    logOk &&= ok;
    return [
      `round ${m.round} ${m.kind}`,
      String(log.writtenDuringRun),
      fixed(log.writtenDuringRun / log.seconds, 0),
      String(log.writtenAfterFlush),
      String(log.answered),
      String(log.dropped),
      String(log.writeFailures),
      passFail(ok),
    ];
  });
  console.log(
    "\nBallast's prediction log during its measured runs (rows after flush must cover every 2xx; none dropped)",
  );
  console.log(
    table([
      ["", "written in run", "rows/s", "after flush", "2xx answers", "dropped", "write failures", "verdict"],
      ...rows,
    ]),
  );
  return v.pass && logOk && monitorOk;
}

async function main(): Promise<void> {
  const settings = readSettings();
  process.stderr.write("bench: building dist/ (Ballast is measured as it runs in production)…\n");
  const build = spawnSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed");
  const root = await mkdtemp(join(tmpdir(), "ballast-bench-"));
  const profileDir = settings.profile ? await mkdtemp(join(tmpdir(), "ballast-bench-profile-")) : undefined;
  const servers: ForkedServer[] = [];
  const perRun = settings.warmupSeconds + settings.seconds + 5;
  const budgetMs = (settings.rounds * 3 * perRun + 180 + settings.logRows / 2000) * 1000;

  const abandon = (why: string): void => {
    process.stderr.write(`bench: ${why}; stopping the servers\n`);
    for (const s of servers) s.kill();
    void rm(root, { recursive: true, force: true }).finally(() => process.exit(2));
  };
  const watchdog = setTimeout(
    () => abandon(`still running after ${Math.round(budgetMs / 1000)} s`),
    budgetMs,
  );
  watchdog.unref();
  process.once("SIGINT", () => abandon("interrupted"));
  process.once("SIGTERM", () => abandon("terminated"));

  let pass: boolean;
  try {
    console.log(
      `Ballast serving benchmark: mlp.onnx (8 FP32 features -> probability), one row per POST ${INFER_PATH}\n` +
        `${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ${settings.seconds} s measured per run, ` +
        `${settings.rounds} round(s) alternating the order; node ${process.version}, ${availableParallelism()} CPUs; ` +
        `each server in its own child process, autocannon in the parent`,
    );
    const quietBefore = sampleCpu([process.pid]);
    await sleep(2000);
    console.log(
      `other processes used ${percent(othersShare(quietBefore, sampleCpu([process.pid])))} of the cores just before the start`,
    );
    // Profiling slows a server down; all are profiled or none, so the ratios stay fair.
    const profiling = (kind: ServerKind) =>
      profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, kind)}`];
    const bare = await forkServer("bare", { execArgv: profiling("bare") });
    servers.push(bare);
    const ballast = await forkServer("ballast", {
      env: { BENCH_DATA_DIR: join(root, "ballast-data") },
      execArgv: profiling("ballast"),
    });
    servers.push(ballast);
    const monitoredBallast = await forkServer("ballast+monitor", {
      env: { BENCH_DATA_DIR: join(root, "ballast-monitor-data") },
      execArgv: profiling("ballast+monitor"),
    });
    servers.push(monitoredBallast);
    for (const server of servers) await checkAnswer(server);

    const measured: Measured[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const inOrder = [bare, ballast, monitoredBallast];
      const order = round % 2 === 1 ? inOrder : [...inOrder].reverse();
      const pids = [process.pid, ...inOrder.map((s) => s.pid)];
      for (const server of order) {
        process.stderr.write(`bench: round ${round}: ${server.kind}…\n`);
        measured.push(await measure(server, settings, round, pids));
      }
    }
    for (const s of servers.splice(0)) await s.stop();
    pass = printServing(settings, measured);
    if (profileDir !== undefined) {
      // The second file of each (thread 1) is tsx's module-loader thread, not the server.
      console.log(
        `\nCPU profiles (main thread: *.0.001.cpuprofile): ${profileDir}/{bare,ballast,ballast+monitor}`,
      );
      console.log(
        `summarise with: npx tsx bench/cpu-profile.ts ${profileDir}/ballast/CPU.*.0.001.cpuprofile`,
      );
    }

    console.log(
      "\nPrediction-log writes in isolation (PredictionLog -> SQLite, WAL): Ballast's writer thread " +
        "against the same batches through Kysely on the serving thread",
    );
    let writesOk = true;
    const rowsOut: string[][] = [
      [
        "via",
        "rows",
        "batch",
        "seconds",
        "rows/s",
        "CPU µs/row",
        "loop delay p99 ms",
        "loop delay max ms",
        "rows stored",
        "dropped",
        "verdict",
      ],
    ];
    for (const via of ["worker", "store"] as const) {
      const writes = await measurePredictionLogWrites(join(root, `log-writes-${via}`), settings.logRows, via);
      const ok =
        writes.stored === writes.rows && writes.stats.dropped === 0 && writes.stats.writeFailures === 0;
      writesOk &&= ok;
      rowsOut.push([
        via === "worker" ? "writer thread (Ballast)" : "Kysely on serving thread",
        String(writes.rows),
        String(writes.batchSize),
        fixed(writes.seconds, 2),
        fixed(writes.rowsPerSecond, 0),
        fixed(writes.cpuMicrosPerRow, 1),
        fixed(writes.loopDelayP99Ms, 1),
        fixed(writes.loopDelayMaxMs, 1),
        String(writes.stored),
        String(writes.stats.dropped),
        passFail(ok),
      ]);
    }
    console.log(table(rowsOut));
    pass &&= writesOk;
    console.log(`\nOverall: ${passFail(pass)}`);
  } finally {
    clearTimeout(watchdog);
    for (const s of servers) await s.stop();
    await rm(root, { recursive: true, force: true });
  }
  process.exitCode = pass ? 0 : 1;
}

await main();
