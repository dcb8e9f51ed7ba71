/**
 * `npm run bench:drift` (issue 3's benchmark): (a) what the sketches cost per row and feature on
 * the request path; (b) a 1M × 20 window through every numerical test, against scipy's KS alone
 * on the same data, with peak memory at two window lengths; (c) the 3M × 1000 shape, measured on
 * a slice and extrapolated, with a CPU profile naming where the time goes.
 *
 * Environment: BENCH_DRIFT_UPDATE_ROWS (2000000), BENCH_DRIFT_ROWS (1000000),
 * BENCH_DRIFT_SMALL_ROWS (100000), BENCH_DRIFT_FEATURES (20), BENCH_DRIFT_WIDE_ROWS (3000000; smaller
 * for a quick run, which then cannot pass), BENCH_DRIFT_WIDE_COLUMNS (1000), BENCH_DRIFT_WIDE_CHUNK
 * (2048), BENCH_DRIFT_TIMEOUT_SECONDS (600).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fixed, passFail, table } from "./report.js";
import { forkWindowRun, running } from "./drift/fork-run.js";
import { scipyAvailable, scipyKs, type ScipyKs } from "./drift/scipy-ks.js";
import { measureSketchCost } from "./drift/sketch-cost.js";
import { runWide, type WideResult } from "./drift/wide.js";
import type { WindowRunResult } from "./drift/window-run.js";

const TARGETS = {
  maxNsPerFeature: 1000,
  /** 10× the rows may cost at most this much more peak memory (RSS and heap). */
  maxMemoryGrowth: 1.2,
  maxWideSeconds: 60,
} as const;

function positiveInt(name: string, fallback: number, allowZero = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1))
    throw new Error(`${name} must be a ${allowZero ? "non-negative" : "positive"} integer, got '${raw}'`);
  return value;
}

const settings = {
  updateRows: positiveInt("BENCH_DRIFT_UPDATE_ROWS", 2_000_000),
  rows: positiveInt("BENCH_DRIFT_ROWS", 1_000_000),
  smallRows: positiveInt("BENCH_DRIFT_SMALL_ROWS", 100_000),
  features: positiveInt("BENCH_DRIFT_FEATURES", 20),
  chunk: 10_000,
  wideRows: positiveInt("BENCH_DRIFT_WIDE_ROWS", 3_000_000),
  wideColumns: positiveInt("BENCH_DRIFT_WIDE_COLUMNS", 1000),
  // 2048 rows × 500 columns per worker: 8 MB of columns, within the shared L3.
  wideChunk: positiveInt("BENCH_DRIFT_WIDE_CHUNK", 2048),
  timeoutSeconds: positiveInt("BENCH_DRIFT_TIMEOUT_SECONDS", 600),
};

const mb = (bytes: number): string => fixed(bytes / 2 ** 20, 0);
const s = (seconds: number, digits = 2): string => fixed(seconds, digits);

function sectionA(): boolean {
  console.log(
    `\n(a) Sketch update cost: WindowSketch.updateRow on row objects, ${settings.updateRows} rows after ` +
      `${Math.round(settings.updateRows / 10)} rows of warm-up (rows from a fixed pool of 65536)`,
  );
  const costs = measureSketchCost(settings.updateRows, Math.round(settings.updateRows / 10));
  let ok = true;
  const rows = costs.map((c) => {
    const pass = c.nsPerFeature <= TARGETS.maxNsPerFeature;
    ok &&= pass;
    return [
      c.label,
      String(c.rows),
      s(c.seconds),
      fixed(c.nsPerFeature, 1),
      fixed(c.nsPerFeature * c.features, 0),
      `<= ${TARGETS.maxNsPerFeature}`,
      passFail(pass),
    ];
  });
  console.log(
    table([["features", "rows", "seconds", "ns/row/feature", "ns/row", "target", "verdict"], ...rows]),
  );
  console.log(
    "serving throughput with monitoring on vs off: not measured: monitoring is not wired into serving yet",
  );
  return ok;
}

async function sectionB(dataDir: string): Promise<boolean> {
  const { rows, smallRows, features, chunk } = settings;
  console.log(
    `\n(b) One window of ${rows} rows × ${features} numerical features (normal; odd features shifted by 0.5 sd), ` +
      `reference of the same size; each run in its own child process, data made in ${chunk}-row chunks`,
  );
  const skip = scipyAvailable();
  process.stderr.write(`bench: (b) ${smallRows} rows…\n`);
  const small = await forkWindowRun(smallRows, features, chunk);
  process.stderr.write(
    `bench: (b) ${rows} rows${skip === null ? " (writing the raw data for scipy)" : ""}…\n`,
  );
  const big = await forkWindowRun(rows, features, chunk, skip === null ? dataDir : undefined);
  let scipy: ScipyKs | undefined;
  if (skip === null) {
    process.stderr.write("bench: (b) scipy ks_2samp…\n");
    scipy = scipyKs(join(dataDir, "reference.f64"), join(dataDir, "current.f64"), features, 300_000);
  }
  await rm(join(dataDir, "reference.f64"), { force: true });
  await rm(join(dataDir, "current.f64"), { force: true });

  const evaluate = (r: WindowRunResult) => r.tests.reduce((n, t) => n + t.seconds, 0);
  console.log(
    "\nBallast, seconds per phase (generation, row objects and the raw-file write are not Ballast's and are left out)",
  );
  console.log(
    table([
      [
        "rows",
        "generate",
        "row objects",
        "profile ref",
        "ingest window",
        "ingest (columnar)",
        ...big.tests.map((t) => t.test),
        "all tests",
      ],
      ...[small, big].map((r) => [
        String(r.rows),
        s(r.generateSeconds),
        s(r.toObjectsSeconds),
        s(r.profileSeconds),
        s(r.ingestSeconds),
        s(r.columnarIngestSeconds),
        ...r.tests.map((t) => s(t.seconds, 3)),
        s(evaluate(r), 3),
      ]),
    ]),
  );
  console.log("\nDrift found at " + rows + " rows (10 of 20 features are shifted)");
  console.log(
    table([
      ["test", "drifted", "shifted & drifted", "false alarms"],
      ...big.tests.map((t) => [t.test, String(t.drifted), String(t.truePositives), String(t.falseAlarms)]),
    ]),
  );

  const ks = big.tests.find((t) => t.test === "ks");
  if (ks !== undefined && ks.falseAlarms > 0) {
    console.log(
      `note: KS on sketches flags ${ks.falseAlarms} unshifted features: at this n the p-value resolves a D far ` +
        `smaller than the sketch's error bound on D, so sketch noise alone reads as drift (why the default rule picks wasserstein here)`,
    );
  }
  console.log(
    `columnar window (WindowSketch.updateColumns on the same values) finds the same drifted features: ${big.columnarAgrees ? "yes" : "NO"}`,
  );
  const ballast = big.ingestSeconds + evaluate(big);
  let ok = true;
  if (scipy === undefined) {
    console.log(`\nscipy comparison skipped: ${skip}`);
  } else {
    const dDiff = scipy.statistic.map((d, j) => Math.abs(d - (big.ks.statistic[j] ?? NaN)));
    const within = dDiff.every((d, j) => d <= (big.ks.errorBound[j] ?? 0));
    const faster = ballast < scipy.ksSeconds;
    ok &&= faster && within;
    console.log(
      `\nAgainst scipy ${scipy.version} ks_2samp, same ${rows} × ${features} values (load from file timed apart)`,
    );
    console.log(
      table([
        ["", "seconds", "target", "verdict"],
        ["scipy: load raw file", s(scipy.loadSeconds), "", ""],
        ["scipy: ks_2samp alone, 20 features", s(scipy.ksSeconds), "", ""],
        ["Ballast: ingest window + all 5 tests", s(ballast), `< ${s(scipy.ksSeconds)}`, passFail(faster)],
        [
          "  the same with the columnar ingest",
          s(big.columnarIngestSeconds + evaluate(big)),
          "(no target)",
          big.columnarIngestSeconds + evaluate(big) < scipy.ksSeconds ? "faster" : "slower",
        ],
        [
          "Ballast: also profiling the reference",
          s(ballast + big.profileSeconds),
          "(no target)",
          ballast + big.profileSeconds < scipy.ksSeconds ? "faster" : "slower",
        ],
        [
          "|D Ballast (sketch) − D scipy (exact)|, max",
          fixed(Math.max(...dDiff), 4),
          `<= ${fixed(big.ks.errorBound[0] ?? NaN, 3)}`,
          passFail(within),
        ],
      ]),
    );
  }

  const rssGrowth = big.peakRssBytes / small.peakRssBytes;
  const heapGrowth = big.peakHeapBytes / small.peakHeapBytes;
  const memoryOk = rssGrowth <= TARGETS.maxMemoryGrowth && heapGrowth <= TARGETS.maxMemoryGrowth;
  ok &&= memoryOk;
  console.log(
    `\nPeak memory of the child process (sampled after every chunk and test, heap after a forced GC; maxRSS from getrusage)`,
  );
  console.log(
    table([
      ["rows", "peak RSS MB", "maxRSS MB", "peak live heap MB", "sketch items held"],
      ...[small, big].map((r) => [
        String(r.rows),
        mb(r.peakRssBytes),
        mb(r.maxRssBytes),
        mb(r.peakHeapBytes),
        String(r.retainedItems),
      ]),
    ]),
  );
  console.log(
    table([
      ["", "value", "target", "verdict"],
      [
        `peak RSS ${rows} / ${smallRows} rows`,
        fixed(rssGrowth, 2),
        `<= ${TARGETS.maxMemoryGrowth}`,
        passFail(rssGrowth <= TARGETS.maxMemoryGrowth),
      ],
      [
        `peak live heap ${rows} / ${smallRows} rows`,
        fixed(heapGrowth, 2),
        `<= ${TARGETS.maxMemoryGrowth}`,
        passFail(heapGrowth <= TARGETS.maxMemoryGrowth),
      ],
    ]),
  );
  return ok;
}

async function sectionC(): Promise<boolean> {
  const { wideRows, wideColumns, wideChunk } = settings;
  const full = wideRows >= 3_000_000;
  console.log(
    `\n(c) ${wideRows} rows × ${wideColumns} columns${full ? " (full size)" : " (reduced: BENCH_DRIFT_WIDE_ROWS)"}: ` +
      `reference profile in two passes (sketches, then exact bin counts) plus the drift of a current window ` +
      `of the same size, generated in ${wideChunk}-row chunks straight into Float64Array columns and streamed ` +
      `through the columnar APIs; 2 worker threads split the columns`,
  );
  process.stderr.write(`bench: (c) ${wideRows} × ${wideColumns}…\n`);
  const m: WideResult = await runWide(wideRows, wideColumns, wideChunk, 2);
  const label: Record<string, string> = {
    pass1: "profile pass 1 (ProfileBuilder.addColumns + finish)",
    pass2: "profile pass 2 (ExactBinCounts.addColumns)",
    window: "current window (WindowSketch.updateColumns)",
    evaluate: "evaluateDrift, default rule (per worker) + dataset result",
  };
  console.log(
    table([
      [
        "phase",
        "wall s",
        "CPU s (process)",
        "generate s (thread, Σ workers)",
        "Ballast s (thread, Σ workers)",
      ],
      ...m.phases.map((p) => [
        label[p.phase] ?? p.phase,
        s(p.wallSeconds, 1),
        s(p.cpuSeconds, 1),
        s(p.generateSeconds, 1),
        s(p.ballastSeconds, 1),
      ]),
      ["total", s(m.wallSeconds, 1), s(m.cpuSeconds, 1), "", ""],
    ]),
  );
  const generate = m.phases.reduce((t, p) => t + p.generateSeconds, 0);
  const ballast = m.phases.reduce((t, p) => t + p.ballastSeconds, 0);
  console.log(
    `thread seconds summed over both workers: generating ${s(generate, 1)}, in Ballast ${s(ballast, 1)}; ` +
      `peak RSS ${mb(m.peakRssBytes)} MB; sketch items held by the window ${m.retainedItems}`,
  );
  const half = Math.floor(wideColumns / 2);
  const driftOk = m.shiftedFlagged >= 0.95 * half && m.falseAlarms <= 0.05 * (wideColumns - half);
  console.log(
    `drift: ${m.drifted} of ${wideColumns} features drifted: ${m.shiftedFlagged} of ${half} shifted ones, ` +
      `${m.falseAlarms} false alarms; dataset drifted: ${m.dataset.drifted} (share ${fixed(m.dataset.share, 3)}) ` +
      `${passFail(driftOk)}`,
  );
  const fast = m.wallSeconds < TARGETS.maxWideSeconds;
  console.log(
    table([
      ["", "seconds", "target", "verdict"],
      [
        `wall, ${wideRows} × ${wideColumns}, all phases`,
        s(m.wallSeconds, 1),
        `< ${TARGETS.maxWideSeconds}`,
        full ? passFail(fast) : "n/a (reduced size)",
      ],
      ["CPU, whole process (2 workers + main)", s(m.cpuSeconds, 1), "(no target)", ""],
    ]),
  );
  console.log(
    `machine: ${availableParallelism()} CPUs, load average ${loadavg()
      .map((l) => fixed(l, 1))
      .join(" ")} at the end (other processes inflate wall time; CPU time does not)`,
  );
  return fast && driftOk && full;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-bench-drift-"));
  const abandon = (why: string): void => {
    process.stderr.write(`bench: ${why}; stopping\n`);
    for (const child of running) child.kill();
    void rm(dataDir, { recursive: true, force: true }).finally(() => process.exit(2));
  };
  const watchdog = setTimeout(
    () => abandon(`still running after ${settings.timeoutSeconds} s`),
    settings.timeoutSeconds * 1000,
  );
  watchdog.unref();
  process.once("SIGINT", () => abandon("interrupted"));
  process.once("SIGTERM", () => abandon("terminated"));
  let pass: boolean;
  try {
    console.log(`Ballast drift benchmark (issue 3); node ${process.version}, ${availableParallelism()} CPUs`);
    const a = sectionA();
    const b = await sectionB(dataDir);
    const c = await sectionC();
    pass = a && b && c;
    console.log(
      `\nSummary: (a) ${passFail(a)}  (b) ${passFail(b)}  (c) ${passFail(c)}  ` +
        `(serving with monitoring on/off: not measured)\nOverall: ${passFail(pass)}`,
    );
  } finally {
    clearTimeout(watchdog);
    await rm(dataDir, { recursive: true, force: true });
  }
  process.exitCode = pass ? 0 : 1;
}

await main();
