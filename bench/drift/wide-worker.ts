/**
 * (c) One worker's share of the wide run: the columns [from, to), through every phase on a
 * command from the main thread, so the phases of both workers start and end together and the
 * main thread can time them (wall and process CPU). Sketches are per column, so a worker owns its
 * columns outright; its results are plain data the main thread concatenates.
 */
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { evaluateDrift, type FeatureDriftResult } from "../../src/monitoring/drift.js";
import { ExactBinCounts } from "../../src/monitoring/profile/exact-bins.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { FeatureKind, ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { featureNames, NormalColumns } from "./data.js";

export interface WideWorkerInit {
  readonly from: number;
  readonly to: number;
  readonly rows: number;
  readonly chunk: number;
}

export type WidePhase = "pass1" | "pass2" | "window" | "evaluate";

export interface WidePhaseReport {
  readonly phase: WidePhase;
  /** Thread wall seconds generating values, and in Ballast's APIs. */
  readonly generateSeconds: number;
  readonly ballastSeconds: number;
  readonly features?: FeatureDriftResult[];
  readonly retainedItems?: number;
}

const REFERENCE_SEED = 3;
const CURRENT_SEED = 4;

if (parentPort !== null) {
  const port = parentPort;
  const { from, to, rows, chunk } = workerData as WideWorkerInit;
  const names = featureNames(to).slice(from);
  const kinds: Record<string, FeatureKind> = Object.fromEntries(names.map((n) => [n, "numerical"]));
  const data = names.map(() => new Float64Array(chunk));
  const batch: Record<string, Float64Array> = Object.fromEntries(
    names.map((n, i) => [n, data[i] as Float64Array]),
  );
  const builder = new ProfileBuilder({ columns: names, kinds });
  let profile: ReferenceProfile | undefined;
  let window: WindowSketch | undefined;

  const stream = (seed: number, current: boolean, consume: (n: number) => void): WidePhaseReport => {
    const generator = new NormalColumns(from, to, seed, current);
    let generate = 0;
    let ballast = 0;
    for (let done = 0; done < rows; done += chunk) {
      const n = Math.min(chunk, rows - done);
      let at = performance.now();
      generator.fill(data, n);
      generate += performance.now() - at;
      at = performance.now();
      consume(n);
      ballast += performance.now() - at;
    }
    return { phase: "pass1", generateSeconds: generate / 1000, ballastSeconds: ballast / 1000 };
  };

  port.on("message", (phase: WidePhase) => {
    let report: WidePhaseReport;
    if (phase === "pass1") {
      report = stream(REFERENCE_SEED, false, (n) => builder.addColumns(batch, n));
      const at = performance.now();
      profile = builder.finish();
      report = { ...report, ballastSeconds: report.ballastSeconds + (performance.now() - at) / 1000 };
    } else if (phase === "pass2") {
      const counts = new ExactBinCounts(profile as ReferenceProfile);
      report = stream(REFERENCE_SEED, false, (n) => counts.addColumns(batch, n));
      const at = performance.now();
      profile = counts.finish();
      window = new WindowSketch(profile);
      report = { ...report, phase, ballastSeconds: report.ballastSeconds + (performance.now() - at) / 1000 };
    } else if (phase === "window") {
      const sketch = window as WindowSketch;
      report = { ...stream(CURRENT_SEED, true, (n) => sketch.updateColumns(batch, n)), phase };
    } else {
      const at = performance.now();
      const result = evaluateDrift(profile as ReferenceProfile, window as WindowSketch);
      report = {
        phase,
        generateSeconds: 0,
        ballastSeconds: (performance.now() - at) / 1000,
        features: result.features,
        retainedItems: (window as WindowSketch).features.reduce(
          (n, f) => n + (f.sketch?.retainedItems ?? 0),
          0,
        ),
      };
    }
    port.postMessage(report);
  });
}
