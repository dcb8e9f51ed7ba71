/**
 * (b) One window of `rows` rows × `features` numerical features, run in a child process of its
 * own so its peak memory is its own: profile a reference, ingest the current window into a
 * WindowSketch, evaluate it with every test that applies to numerical features. Data is made a
 * chunk at a time; with a data directory the raw values are also written (row-major float64) for
 * scipy. Memory is sampled after every chunk and every evaluation.
 *
 * Run as a child: `node --import tsx bench/drift/window-run.ts <rows> <features> <chunk> [dataDir]`;
 * the result goes back over the IPC channel.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { FeatureKind } from "../../src/monitoring/profile/reference-profile.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { STAT_TESTS } from "../../src/math/stats/index.js";
import { featureNames, fillChunk, isShifted, Random, rowMajor, rowObjects } from "./data.js";

export interface TestTiming {
  readonly test: string;
  readonly seconds: number;
  readonly drifted: number;
  /** Drifted features that are shifted in the data, and unshifted ones flagged (false alarms). */
  readonly truePositives: number;
  readonly falseAlarms: number;
}

export interface WindowRunResult {
  readonly rows: number;
  readonly features: number;
  readonly generateSeconds: number;
  readonly toObjectsSeconds: number;
  readonly writeSeconds: number;
  readonly profileSeconds: number;
  readonly ingestSeconds: number;
  /** The same window through WindowSketch.updateColumns (no row objects), timed apart. */
  readonly columnarIngestSeconds: number;
  /** Drift found by the default rule on the columnar window equals the row window's. */
  readonly columnarAgrees: boolean;
  readonly tests: TestTiming[];
  readonly ks: { readonly statistic: number[]; readonly errorBound: number[] };
  readonly peakRssBytes: number;
  /** Largest heapUsed after a full collection (live heap). */
  readonly peakHeapBytes: number;
  /** The kernel's own high-water mark for the process (getrusage), bytes. */
  readonly maxRssBytes: number;
  readonly retainedItems: number;
}

/** The tests `evaluateDrift` can run on a numerical feature. */
export function numericalTests(): string[] {
  return Object.values(STAT_TESTS)
    .filter((t) => t.appliesTo.includes("numerical"))
    .map((t) => t.name);
}

function run(rows: number, features: number, chunk: number, dataDir: string | undefined): WindowRunResult {
  let peakRss = 0;
  let peakHeap = 0;
  // With --expose-gc (fork-run.ts passes it) the heap is sampled live, after a collection, so
  // garbage not yet collected does not count as memory the window needs.
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = (): void => {
    gc?.();
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const names = featureNames(features);
  const kinds: Record<string, FeatureKind> = Object.fromEntries(names.map((n) => [n, "numerical"]));
  const columns = names.map(() => new Float64Array(chunk));
  let generate = 0;
  let toObjects = 0;
  let write = 0;
  const time = (fn: () => void): number => {
    const start = performance.now();
    fn();
    return (performance.now() - start) / 1000;
  };

  const stream = (
    current: boolean,
    file: string | undefined,
    consume: (batch: Record<string, number>[]) => void,
  ): number => {
    const random = new Random(current ? 2 : 1);
    const fd = file === undefined ? undefined : openSync(file, "w");
    let ballast = 0;
    try {
      for (let done = 0; done < rows; done += chunk) {
        const n = Math.min(chunk, rows - done);
        generate += time(() => fillChunk(columns, n, random, current));
        if (fd !== undefined) {
          write += time(() => {
            const bytes = rowMajor(columns, n);
            writeSync(fd, new Uint8Array(bytes.buffer, 0, bytes.byteLength));
          });
        }
        let batch: Record<string, number>[] = [];
        toObjects += time(() => (batch = rowObjects(names, columns, n)));
        ballast += time(() => consume(batch));
        sample();
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    return ballast;
  };

  const builder = new ProfileBuilder({ columns: names, kinds });
  const streamSeconds = stream(false, dataDir && join(dataDir, "reference.f64"), (b) => builder.add(b));
  const finishStart = performance.now();
  const profile = builder.finish();
  const profileSeconds = streamSeconds + (performance.now() - finishStart) / 1000;
  const window = new WindowSketch(profile);
  const columnar = new WindowSketch(profile);
  const batch: Record<string, Float64Array> = Object.fromEntries(
    names.map((n, j) => [n, columns[j] as Float64Array]),
  );
  let columnarIngestSeconds = 0;
  const ingestSeconds = stream(true, dataDir && join(dataDir, "current.f64"), (b) => {
    for (let i = 0; i < b.length; i++) window.updateRow(b[i] as Record<string, number>);
    // The chunk's columns are still in `columns`: the columnar API on the same values.
    columnarIngestSeconds += time(() => columnar.updateColumns(batch, b.length));
  });

  const tests: TestTiming[] = [];
  let ks = { statistic: [] as number[], errorBound: [] as number[] };
  for (const test of numericalTests()) {
    const forced = Object.fromEntries(names.map((n) => [n, test]));
    let result: ReturnType<typeof evaluateDrift> | undefined;
    const seconds = time(() => (result = evaluateDrift(profile, window, { tests: forced })));
    sample();
    const byFeature = (result as ReturnType<typeof evaluateDrift>).features;
    const driftedAt = byFeature.map((f, j) => (f.drifted ? j : -1)).filter((j) => j >= 0);
    tests.push({
      test,
      seconds,
      drifted: driftedAt.length,
      truePositives: driftedAt.filter(isShifted).length,
      falseAlarms: driftedAt.filter((j) => !isShifted(j)).length,
    });
    if (test === "ks") {
      ks = {
        statistic: byFeature.map((f) => Number(f.detail?.statistic)),
        errorBound: byFeature.map((f) => f.errorBound ?? NaN),
      };
    }
  }
  const drifted = (w: WindowSketch) => evaluateDrift(profile, w).features.map((f) => f.drifted);
  const columnarAgrees = JSON.stringify(drifted(window)) === JSON.stringify(drifted(columnar));
  const retainedItems = window.features.reduce((n, f) => n + (f.sketch?.retainedItems ?? 0), 0);
  return {
    rows,
    features,
    generateSeconds: generate,
    toObjectsSeconds: toObjects,
    writeSeconds: write,
    profileSeconds,
    ingestSeconds: ingestSeconds - columnarIngestSeconds,
    columnarIngestSeconds,
    columnarAgrees,
    tests,
    ks,
    peakRssBytes: peakRss,
    peakHeapBytes: peakHeap,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    retainedItems,
  };
}

if (process.send !== undefined && process.argv[1]?.endsWith("window-run.ts")) {
  const [rows, features, chunk] = process.argv.slice(2, 5).map(Number);
  const dataDir = process.argv[5];
  const result = run(rows as number, features as number, chunk as number, dataDir);
  process.send(result, () => process.exit(0));
}
