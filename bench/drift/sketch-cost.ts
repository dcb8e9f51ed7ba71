/**
 * (a) What the request path pays to monitor: `WindowSketch.updateRow` on row objects, in
 * nanoseconds per row per feature, after a warm-up so the JIT has settled. Rows come from a fixed
 * pool built beforehand, so the figure is the sketches' cost and not the generator's.
 */
import { performance } from "node:perf_hooks";
import type { FeatureKind } from "../../src/monitoring/profile/reference-profile.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { featureNames, fillChunk, Random, rowObjects, smallProfile } from "./data.js";

const POOL = 1 << 16;
const FEATURES = 20;

export interface SketchCost {
  readonly label: string;
  readonly features: number;
  readonly rows: number;
  readonly seconds: number;
  readonly nsPerFeature: number;
}

function pool(
  mix: boolean,
  seed: number,
): {
  names: string[];
  kinds: Record<string, FeatureKind>;
  rows: Record<string, unknown>[];
} {
  const names = featureNames(FEATURES);
  const columns = names.map(() => new Float64Array(POOL));
  fillChunk(columns, POOL, new Random(seed), false);
  const rows: Record<string, unknown>[] = rowObjects(names, columns, POOL);
  const kinds: Record<string, FeatureKind> = {};
  names.forEach((name, j) => {
    // The mix: 12 numerical, 4 categorical (20 categories, some unseen live), 4 binary.
    const kind: FeatureKind = !mix || j < 12 ? "numerical" : j < 16 ? "categorical" : "binary";
    kinds[name] = kind;
    if (kind === "numerical") return;
    const column = columns[j] as Float64Array;
    for (let i = 0; i < POOL; i++) {
      const u = Math.abs(column[i] as number) * 7919;
      (rows[i] as Record<string, unknown>)[name] =
        kind === "binary" ? Math.floor(u) % 2 : `cat-${Math.floor(u) % 20}`;
    }
  });
  return { names, kinds, rows };
}

export function measureSketchCost(rows: number, warmupRows: number): SketchCost[] {
  return [false, true].map((mix) => {
    const { names, kinds, rows: sample } = pool(mix, mix ? 11 : 7);
    const profile = smallProfile(names, kinds, sample);
    const run = (count: number): number => {
      const window = new WindowSketch(profile);
      const start = performance.now();
      for (let i = 0; i < count; i++) window.updateRow(sample[i & (POOL - 1)] as Record<string, unknown>);
      const seconds = (performance.now() - start) / 1000;
      if (window.rows !== count) throw new Error(`window counted ${window.rows} rows, fed ${count}`);
      return seconds;
    };
    run(warmupRows);
    const seconds = run(rows);
    return {
      label: mix ? "mix: 12 numerical, 4 categorical, 4 binary" : "20 numerical",
      features: FEATURES,
      rows,
      seconds,
      nsPerFeature: (seconds * 1e9) / (rows * FEATURES),
    };
  });
}
