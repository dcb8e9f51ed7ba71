/**
 * (c) The wide shape (evidently #1526): rows × columns numerical features, a reference profile
 * plus the drift of a current window of the same size, generated a chunk at a time and streamed
 * through the only APIs there are, `ProfileBuilder.add` and `WindowSketch.updateRow`, which take
 * row objects. A slice is measured and the full size extrapolated from it: the per-row phases
 * scale with rows, profile finishing and evaluation depend on the columns only.
 *
 * Next to it, the same current window fed column by column straight into `FeatureWindow.update`
 * (public, no row objects) shows what a columnar ingest API would cost.
 */
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { FeatureKind, ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { FeatureWindow, WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { summarise, type CpuProfile, type ProfileSummary } from "../cpu-profile.js";
import { featureNames, fillChunk, isShifted, Random, rowObjects } from "./data.js";

export interface WidePhases {
  readonly rows: number;
  readonly columns: number;
  readonly generateSeconds: number;
  readonly toObjectsSeconds: number;
  readonly profileAddSeconds: number;
  readonly profileFinishSeconds: number;
  readonly ingestSeconds: number;
  readonly evaluateSeconds: number;
  /** Current window fed per column into FeatureWindow.update (no row objects). */
  readonly columnarIngestSeconds: number;
  readonly drifted: number;
  readonly falseAlarms: number;
}

function seconds(start: number): number {
  return (performance.now() - start) / 1000;
}

export function runWide(rows: number, columns: number, chunk: number): WidePhases {
  const names = featureNames(columns);
  const kinds: Record<string, FeatureKind> = Object.fromEntries(names.map((n) => [n, "numerical"]));
  const data = names.map(() => new Float64Array(chunk));
  let generate = 0;
  let toObjects = 0;
  const stream = (
    current: boolean,
    consume: (batch: Record<string, number>[], n: number) => void,
  ): number => {
    const random = new Random(current ? 4 : 3);
    let spent = 0;
    for (let done = 0; done < rows; done += chunk) {
      const n = Math.min(chunk, rows - done);
      let at = performance.now();
      fillChunk(data, n, random, current);
      generate += seconds(at);
      at = performance.now();
      const batch = rowObjects(names, data, n);
      toObjects += seconds(at);
      at = performance.now();
      consume(batch, n);
      spent += seconds(at);
    }
    return spent;
  };

  const builder = new ProfileBuilder({ columns: names, kinds });
  const profileAddSeconds = stream(false, (batch) => builder.add(batch));
  let at = performance.now();
  const profile: ReferenceProfile = builder.finish();
  const profileFinishSeconds = seconds(at);

  const window = new WindowSketch(profile);
  const columnar = profile.features.map((f, i) => new FeatureWindow(f, { seed: i }));
  let columnarIngestSeconds = 0;
  const ingestSeconds = stream(true, (batch, n) => {
    for (let i = 0; i < batch.length; i++) window.updateRow(batch[i] as Record<string, number>);
    // The same values, already in columns: what the sketches cost without row objects.
    const start = performance.now();
    for (let j = 0; j < columnar.length; j++) {
      const feature = columnar[j] as FeatureWindow;
      const column = data[j] as Float64Array;
      for (let i = 0; i < n; i++) feature.update(column[i]);
    }
    columnarIngestSeconds += seconds(start);
  });
  // The columnar pass ran inside the row pass's timer: take it out.
  const rowIngestSeconds = ingestSeconds - columnarIngestSeconds;

  at = performance.now();
  const result = evaluateDrift(profile, window);
  const evaluateSeconds = seconds(at);
  const driftedAt = result.features.map((f, j) => (f.drifted ? j : -1)).filter((j) => j >= 0);
  return {
    rows,
    columns,
    generateSeconds: generate,
    toObjectsSeconds: toObjects,
    profileAddSeconds,
    profileFinishSeconds,
    ingestSeconds: rowIngestSeconds,
    evaluateSeconds,
    columnarIngestSeconds,
    drifted: driftedAt.length,
    falseAlarms: driftedAt.filter((j) => !isShifted(j)).length,
  };
}

/** A V8 CPU profile of a (smaller) wide run, summarised. */
export async function profileWide(rows: number, columns: number, chunk: number): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 200 });
    await session.post("Profiler.start");
    runWide(rows, columns, chunk);
    const { profile } = await session.post("Profiler.stop");
    return summarise(profile as unknown as CpuProfile);
  } finally {
    session.disconnect();
  }
}
