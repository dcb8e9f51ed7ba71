/**
 * (c) The wide shape (evidently #1526): rows × columns numerical features, a reference profile
 * (two passes: sketches, then exact bin counts) plus the drift of a current window of the same
 * size, generated a chunk at a time straight into Float64Array columns and streamed through the
 * columnar APIs (`ProfileBuilder.addColumns`, `ExactBinCounts.addColumns`,
 * `WindowSketch.updateColumns`), as a server batching requests would feed them; nothing is read
 * from a file and no run holds more than one chunk. Two worker threads split the columns.
 *
 * Each phase is started on both workers at once and ends when both are done: its wall time and
 * the process's CPU time (both workers and the main thread) are measured around it.
 */
import { Worker } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import type { FeatureDriftResult } from "../../src/monitoring/drift.js";
import { datasetDrift, type DatasetDrift } from "../../src/math/stats/dataset-drift.js";
import { isShifted } from "./data.js";
import type { WidePhase, WidePhaseReport, WideWorkerInit } from "./wide-worker.js";

const ENTRY = new URL("./wide-worker.ts", import.meta.url).href;
// Node 20 does not carry tsx's loader into worker threads: each worker registers it, then loads
// its TypeScript entry.
const BOOT = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(ENTRY)}); })`;

export interface PhaseFigures {
  readonly phase: WidePhase;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** Summed over workers: thread wall seconds generating data, and in Ballast. */
  readonly generateSeconds: number;
  readonly ballastSeconds: number;
}

export interface WideResult {
  readonly rows: number;
  readonly columns: number;
  readonly workers: number;
  readonly phases: PhaseFigures[];
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly peakRssBytes: number;
  readonly retainedItems: number;
  readonly drifted: number;
  readonly shiftedFlagged: number;
  readonly falseAlarms: number;
  readonly dataset: DatasetDrift;
}

const cpuSeconds = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1e6;

export async function runWide(
  rows: number,
  columns: number,
  chunk: number,
  workers = 2,
): Promise<WideResult> {
  const pool = Array.from({ length: workers }, (_, w) => {
    const init: WideWorkerInit = {
      from: Math.floor((w * columns) / workers),
      to: Math.floor(((w + 1) * columns) / workers),
      rows,
      chunk,
    };
    return new Worker(BOOT, { eval: true, workerData: init });
  });
  const run = (phase: WidePhase): Promise<WidePhaseReport[]> =>
    Promise.all(
      pool.map(
        (worker) =>
          new Promise<WidePhaseReport>((resolve, reject) => {
            worker.once("message", (report: WidePhaseReport) => resolve(report));
            worker.once("error", reject);
            worker.postMessage(phase);
          }),
      ),
    );
  const phases: PhaseFigures[] = [];
  let features: FeatureDriftResult[] = [];
  let retainedItems = 0;
  const startWall = performance.now();
  const startCpu = process.cpuUsage();
  try {
    for (const phase of ["pass1", "pass2", "window", "evaluate"] as const) {
      const wall = performance.now();
      const cpu = process.cpuUsage();
      const reports = await run(phase);
      phases.push({
        phase,
        wallSeconds: (performance.now() - wall) / 1000,
        cpuSeconds: cpuSeconds(process.cpuUsage(cpu)),
        generateSeconds: reports.reduce((s, r) => s + r.generateSeconds, 0),
        ballastSeconds: reports.reduce((s, r) => s + r.ballastSeconds, 0),
      });
      if (phase === "evaluate") {
        // Workers own column ranges in order: concatenating their results is the merge.
        features = reports.flatMap((r) => r.features ?? []);
        retainedItems = reports.reduce((n, r) => n + (r.retainedItems ?? 0), 0);
      }
    }
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  // The dataset-level result, on the main thread, as evaluateDrift computes it.
  const dataset = datasetDrift(
    features.filter((f) => f.skipped === undefined).map((f) => ({ feature: f.feature, result: f })),
  );
  const driftedAt = features.map((f, j) => (f.drifted ? j : -1)).filter((j) => j >= 0);
  return {
    rows,
    columns,
    workers,
    phases,
    wallSeconds: (performance.now() - startWall) / 1000,
    cpuSeconds: cpuSeconds(process.cpuUsage(startCpu)),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    retainedItems,
    drifted: driftedAt.length,
    shiftedFlagged: driftedAt.filter(isShifted).length,
    falseAlarms: driftedAt.filter((j) => !isShifted(j)).length,
    dataset,
  };
}
