/**
 * Seeded synthetic data for the drift benchmark, generated a chunk at a time into Float64Array
 * columns so no run ever holds more than one chunk. Feature j is normal with mean j and standard
 * deviation 1 + j % 5; in the current window every odd feature is shifted by half its standard
 * deviation (so about half the features drift and half do not).
 */
import type { FeatureKind, ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";

/** Marsaglia's xorshift128 on 32-bit words: fast and seedable, ample for binning and KS. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // The four state words from splitmix32, so nearby seeds give unrelated streams.
    let state = seed >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next() | 1;
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Uniform in (0, 1). */
  uniform(): number {
    let t = this.d;
    const s = this.a;
    this.d = this.c;
    this.c = this.b;
    this.b = s;
    t ^= t << 11;
    t ^= t >>> 8;
    this.a = (t ^ s ^ (s >>> 19)) >>> 0;
    return (this.a + 0.5) / 4294967296;
  }

  /** Standard normal (Box–Muller; one of the pair is thrown away, simplicity over speed). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}

export function featureNames(count: number): string[] {
  return Array.from({ length: count }, (_, j) => `f${String(j).padStart(4, "0")}`);
}

export function meanOf(j: number): number {
  return j;
}

export function stdOf(j: number): number {
  return 1 + (j % 5);
}

/** Whether feature j is shifted in the current window. */
export function isShifted(j: number): boolean {
  return j % 2 === 1;
}

/** Fills `rows` rows of every column; `current` applies the shift. */
export function fillChunk(
  columns: readonly Float64Array[],
  rows: number,
  random: Random,
  current: boolean,
): void {
  for (let j = 0; j < columns.length; j++) {
    const column = columns[j] as Float64Array;
    const mean = meanOf(j) + (current && isShifted(j) ? 0.5 * stdOf(j) : 0);
    const std = stdOf(j);
    for (let i = 0; i < rows; i++) column[i] = mean + std * random.normal();
  }
}

/** Row objects, as a server sees them after parsing a request (one fresh object per row). */
export function rowObjects(
  names: readonly string[],
  columns: readonly Float64Array[],
  rows: number,
): Record<string, number>[] {
  const out = new Array<Record<string, number>>(rows);
  for (let i = 0; i < rows; i++) {
    const row: Record<string, number> = {};
    for (let j = 0; j < names.length; j++)
      row[names[j] as string] = (columns[j] as Float64Array)[i] as number;
    out[i] = row;
  }
  return out;
}

/** Column-major chunk to row-major doubles (numpy's C order for an n × f array). */
export function rowMajor(columns: readonly Float64Array[], rows: number): Float64Array {
  const f = columns.length;
  const out = new Float64Array(rows * f);
  for (let j = 0; j < f; j++) {
    const column = columns[j] as Float64Array;
    for (let i = 0; i < rows; i++) out[i * f + j] = column[i] as number;
  }
  return out;
}

/** A small reference profile of numerical features (for the update-cost section). */
export function smallProfile(
  names: readonly string[],
  kinds: Readonly<Record<string, FeatureKind>>,
  rows: readonly Record<string, unknown>[],
): ReferenceProfile {
  const builder = new ProfileBuilder({ columns: names, kinds });
  builder.add(rows);
  return builder.finish();
}

/** Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const tail = (q: number): number =>
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

const CELL_BITS = 12;
/** Normal quantiles at (c + 0.5) / 2^12 … : the generator interpolates between neighbours. */
const QUANTILES = Float64Array.from({ length: (1 << CELL_BITS) + 1 }, (_, c) =>
  normalQuantile(Math.min(1 - 2 ** -20, Math.max(2 ** -20, c / (1 << CELL_BITS)))),
);

/** QUANTILES[c + 1] − QUANTILES[c], scaled to the fraction's units: one multiply-add per value. */
const SLOPES = Float64Array.from(
  { length: 1 << CELL_BITS },
  (_, c) => ((QUANTILES[c + 1] as number) - (QUANTILES[c] as number)) * 2 ** -(32 - CELL_BITS),
);

/**
 * Fast seeded columns for the wide benchmark: per column an xorshift32 stream (so a column's
 * values do not depend on which worker makes them) turned into a normal value through a table of
 * 4097 normal quantiles with linear interpolation, about 3 ns a value against Box–Muller's 20.
 * The tails are cut at ±4.9 sd, the same for reference and current, so this is no drift.
 */
export class NormalColumns {
  private readonly state: Uint32Array;

  /** Columns [from, to) of a data set; `seed` picks the data set. */
  constructor(
    readonly from: number,
    readonly to: number,
    seed: number,
    private readonly current: boolean,
  ) {
    this.state = Uint32Array.from({ length: to - from }, (_, i) => {
      let z = (Math.imul(seed, 0x9e3779b1) + Math.imul(from + i + 1, 0x85ebca6b)) >>> 0;
      z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
      z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
      return (z ^ (z >>> 16)) >>> 0 || 1;
    });
  }

  /** Fills rows [0, rows) of each column (columns[i] is feature from + i). */
  fill(columns: readonly Float64Array[], rows: number): void {
    const table = QUANTILES;
    const slopes = SLOPES;
    const shift = 32 - CELL_BITS;
    const mask = (1 << shift) - 1;
    for (let i = 0; i < columns.length; i++) {
      const j = this.from + i;
      const column = columns[i] as Float64Array;
      const mean = meanOf(j) + (this.current && isShifted(j) ? 0.5 * stdOf(j) : 0);
      const std = stdOf(j);
      let s = this.state[i] as number;
      for (let r = 0; r < rows; r++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        const u = s >>> 0;
        const cell = u >>> shift;
        column[r] = mean + std * ((table[cell] as number) + (slopes[cell] as number) * (u & mask));
      }
      this.state[i] = s >>> 0;
    }
  }
}
