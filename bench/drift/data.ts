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
