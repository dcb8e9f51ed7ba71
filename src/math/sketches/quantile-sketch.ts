/**
 * A KLL quantile sketch (Karnin, Lang and Liberty, "Optimal Quantile Approximation in Streams",
 * FOCS 2016), in the lazy form Apache DataSketches uses: a stack of compactors, level h holding
 * items that each stand for 2^h stream values. Level 0 is an unsorted append buffer; higher
 * levels stay sorted. When the sketch holds as many items as its capacity, the lowest level at or
 * over its own capacity is compacted: sorted, and every other item (odd or even positions, by a
 * fair coin) moves up a level with twice the weight, the rest are dropped.
 *
 * Level capacities shrink by 2/3 going down from the top (k at the top, at least 8), so the
 * sketch holds at most about 3k + 8·levels items, levels ≈ log2(n / k) + 1: memory depends on k,
 * not on n. Updates append to a Float64Array and allocate nothing; compaction work amortises to
 * O(log k) per value.
 *
 * Accuracy (the bound the tests check): with k = 200 the normalised rank error of `cdf(x)`,
 * |cdf_est(x) − cdf_true(x)| maximised over every x, was at worst 0.0113 (n = 10^5) and 0.0119
 * (n = 10^6) over 100 seeds each, values 0..n−1 in random order.
 * The documented bound is `rankErrorBound(k) = 3 / k` (0.015 at k = 200), 25% above the worst
 * seen; DataSketches quotes 1.65% at k = 200 with 99% confidence for its implementation. The same
 * bound holds for `quantile(q)`: the returned value's true rank is within that distance of q.
 * Merged sketches obey the same bound (the analysis is the same; the tests check it).
 *
 * While no compaction has happened (`isExact`), the sketch holds every value and answers exactly.
 *
 * Bulk updates (`updateMany`, for columns of values) use KLL's sampler (section 4 of the paper):
 * once the sketch has seen n values, a block of w consecutive values (w the largest power of two
 * ≤ n / k²) contributes one of them, picked at random, as a single item of weight w at level
 * log2(w); the lowest levels, whose compactions add the least error, are skipped rather than
 * sorted. Sorting is what a KLL update costs, so this is what makes a bulk update cheap: from
 * n = 2k² (80,000 at k = 200) on, at most half the values are sorted, and at n = 3·10^6 one in 64. The sampler's rank error at any x has
 * variance at most n·w/4 ≤ n²/(4k²), a standard deviation of at most 1/(2k), a sixth of the
 * bound; the tests check bulk-built sketches against the same bound as one-at-a-time ones.
 * Min, max and count stay exact.
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { sortFloat64 } from "./sort-float64.js";

export const DEFAULT_K = 200;
const MIN_K = 8;
const MAX_K = 65535;
/** The smallest a level's capacity gets, so low levels are not compacted two items at a time. */
const MIN_LEVEL_WIDTH = 8;
const SHRINK = 2 / 3;
/** updateMany looks at the sampler weight again after at most this many values (or n, if larger). */
const BULK_SLICE = 4096;

/** The worst |cdf_est − cdf_true| this module promises for a sketch (or merge of sketches) with parameter k. */
export function rankErrorBound(k: number): number {
  return 3 / k;
}

export interface QuantileSketchOptions {
  /** Accuracy and memory parameter: larger k, smaller error, more items kept. Default 200. */
  readonly k?: number;
  /** Seed of the compaction coin; the same seed and the same stream give the same sketch. */
  readonly seed?: number;
}

export interface QuantileSketchJSON {
  readonly k: number;
  readonly n: number;
  /** null when n = 0. */
  readonly min: number | null;
  readonly max: number | null;
  /** Items per level; level h stands for 2^h values each. Levels above 0 are sorted. */
  readonly levels: number[][];
  /** State of the compaction coin, so a restored sketch continues the same stream of coins. */
  readonly coin: number;
}

/** Retained items in ascending order with their weights: the sketch's estimate of the distribution. */
export interface SortedItems {
  readonly values: Float64Array;
  /** cumulative[i] = total weight of values[0..i]; the last entry equals `count`. */
  readonly cumulative: Float64Array;
}

function levelCapacity(k: number, levelCount: number, level: number): number {
  return Math.max(MIN_LEVEL_WIDTH, Math.ceil(k * SHRINK ** (levelCount - 1 - level)));
}

function validK(k: number): number {
  if (!Number.isInteger(k) || k < MIN_K || k > MAX_K) {
    throw invalid(`quantile sketch k must be an integer from ${MIN_K} to ${MAX_K}, got ${k}`);
  }
  return k;
}

export class QuantileSketch {
  readonly k: number;
  private n = 0;
  private minValue = Infinity;
  private maxValue = -Infinity;
  /** Level 0 lives in its own fields: `update` touches nothing else on the common path. */
  private level0: Float64Array;
  private size0 = 0;
  /** buffers[h], sizes[h] for h ≥ 1 (index 0 unused; level 0 is above). */
  private buffers: Float64Array[] = [new Float64Array(0)];
  private sizes: number[] = [0];
  private capacities: number[] = [];
  private capacity = 0;
  private retained = 0;
  /** splitmix32 state for the compaction coin. */
  private coinState: number;
  private sorted: SortedItems | null = null;
  /** Scratch for the items a bulk update samples. */
  private sampleBuffer = new Float64Array(0);

  constructor(options: QuantileSketchOptions = {}) {
    this.k = validK(options.k ?? DEFAULT_K);
    this.coinState = (options.seed ?? 0x2545f491) >>> 0;
    this.setLevelCount(1);
    this.level0 = new Float64Array(this.capacity);
  }

  /** Values seen (the sum of all weights). */
  get count(): number {
    return this.n;
  }

  /** The smallest value seen, exactly; NaN-free: throws on an empty sketch. */
  get min(): number {
    this.requireValues("min");
    return this.minValue;
  }

  get max(): number {
    this.requireValues("max");
    return this.maxValue;
  }

  /** True while every value seen is still held (no compaction yet): answers are exact. */
  get isExact(): boolean {
    return this.retained === this.n;
  }

  /** Items currently held (memory is about 8 bytes each). */
  get retainedItems(): number {
    return this.retained;
  }

  update(x: number): void {
    // x - x is 0 for every finite number and NaN for NaN and ±Infinity: one comparison.
    if (x - x !== 0) throw invalid(`quantile sketch takes finite numbers, got ${x}`);
    if (this.retained >= this.capacity) this.compress();
    this.level0[this.size0++] = x;
    this.retained++;
    this.n++;
    if (x < this.minValue) this.minValue = x;
    if (x > this.maxValue) this.maxValue = x;
    this.sorted = null;
  }

  /**
   * Adds values[0..count) (see the module comment for the sampler). Every value must be finite;
   * otherwise nothing is added and the error names the first bad index.
   *
   * `checked`: a caller that has already checked every value finite in a pass of its own, and
   * found their min and max, passes those to save the sketch the same pass. They must be exact:
   * the sketch's min and max are taken from them.
   */
  updateMany(
    values: Float64Array,
    count = values.length,
    checked?: { readonly min: number; readonly max: number },
  ): void {
    if (!Number.isInteger(count) || count < 0 || count > values.length) {
      throw invalid(`count must be an integer from 0 to ${values.length}, got ${count}`);
    }
    if (count === 0) return;
    let min = this.minValue;
    let max = this.maxValue;
    if (checked === undefined) {
      for (let i = 0; i < count; i++) {
        const x = values[i] as number;
        if (x - x !== 0) throw invalid(`quantile sketch takes finite numbers, got ${x} at index ${i}`);
        if (x < min) min = x;
        if (x > max) max = x;
      }
    } else {
      if (
        !(checked.min <= checked.max) ||
        checked.min - checked.min !== 0 ||
        checked.max - checked.max !== 0
      ) {
        throw invalid(
          `checked min and max must be finite and in order, got ${checked.min} and ${checked.max}`,
        );
      }
      if (checked.min < min) min = checked.min;
      if (checked.max > max) max = checked.max;
    }
    this.minValue = min;
    this.maxValue = max;
    this.sorted = null;
    let at = 0;
    while (at < count) {
      const end = Math.min(count, at + Math.max(BULK_SLICE, this.n));
      const s = this.samplerLevel();
      if (s > 0) at = this.sample(values, at, end, s);
      while (at < end) {
        // Copy as much as fits before the next compaction (the sketch is below capacity here).
        const take = Math.min(this.capacity - this.retained, end - at);
        this.level0.set(values.subarray(at, at + take), this.size0);
        this.size0 += take;
        this.retained += take;
        this.n += take;
        at += take;
        if (this.retained >= this.capacity) this.compress();
      }
    }
  }

  /** log2 of the sampler weight for the next values: the largest w = 2^s with w ≤ n / k². */
  private samplerLevel(): number {
    const ratio = this.n / (this.k * this.k);
    return ratio < 2 ? 0 : Math.min(30, Math.floor(Math.log2(ratio)));
  }

  /**
   * One random value of each whole block of 2^s in values[from..to) goes to level s with weight
   * 2^s; returns where the last whole block ended (the rest is left for level 0).
   */
  private sample(values: Float64Array, from: number, to: number, s: number): number {
    const w = 2 ** s;
    const blocks = Math.floor((to - from) / w);
    if (blocks === 0) return from;
    if (this.sampleBuffer.length < blocks) this.sampleBuffer = new Float64Array(Math.max(blocks, 1024));
    const picked = this.sampleBuffer;
    const shift = 32 - s;
    for (let b = 0, base = from; b < blocks; b++, base += w) {
      picked[b] = values[base + (this.nextRandom() >>> shift)] as number;
    }
    sortFloat64(picked, 0, blocks);
    while (this.sizes.length <= s) this.setLevelCount(this.sizes.length + 1);
    this.mergeSortedInto(s, picked, 0, 1, blocks);
    this.retained += blocks;
    this.n += blocks * w;
    if (this.retained >= this.capacity) this.compress();
    return from + blocks * w;
  }

  /** Folds `other` into this sketch (other is unchanged). Both must have the same k. */
  merge(other: QuantileSketch): this {
    if (other.k !== this.k) {
      throw invalid(`cannot merge quantile sketches with different k (${this.k} and ${other.k})`);
    }
    if (other.n === 0) return this;
    const source = other === this ? QuantileSketch.fromJSON(other.toJSON()) : other;
    while (this.sizes.length < source.sizes.length) this.setLevelCount(this.sizes.length + 1);
    this.ensureLevel0(this.size0 + source.size0);
    this.level0.set(source.level0.subarray(0, source.size0), this.size0);
    this.size0 += source.size0;
    for (let h = 1; h < source.sizes.length; h++) {
      const incoming = source.buffers[h] ?? new Float64Array(0);
      this.mergeSortedInto(h, incoming, 0, 1, source.sizes[h] ?? 0);
    }
    this.retained += source.retained;
    this.n += source.n;
    if (source.minValue < this.minValue) this.minValue = source.minValue;
    if (source.maxValue > this.maxValue) this.maxValue = source.maxValue;
    this.sorted = null;
    if (this.retained >= this.capacity) this.compress();
    return this;
  }

  /** Estimated fraction of values ≤ x. */
  cdf(x: number): number {
    this.requireValues("cdf");
    if (x < this.minValue) return 0;
    if (x >= this.maxValue) return 1;
    const { values, cumulative } = this.sortedItems();
    const i = upperBound(values, x);
    return i === 0 ? 0 : (cumulative[i - 1] ?? 0) / this.n;
  }

  /**
   * Estimated q-quantile: the smallest retained value whose cumulative weight reaches q·n.
   * quantile(0) and quantile(1) are the exact min and max.
   */
  quantile(q: number): number {
    this.requireValues("quantile");
    if (!(q >= 0 && q <= 1)) throw invalid(`quantile q must be in [0, 1], got ${q}`);
    if (q === 0) return this.minValue;
    if (q === 1) return this.maxValue;
    const { values, cumulative } = this.sortedItems();
    const target = q * this.n;
    let lo = 0;
    let hi = values.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] ?? 0) >= target) hi = mid;
      else lo = mid + 1;
    }
    return values[lo] ?? this.maxValue;
  }

  quantiles(qs: readonly number[]): number[] {
    return qs.map((q) => this.quantile(q));
  }

  /** The weighted items, ascending (cached until the next update or merge). */
  sortedItems(): SortedItems {
    if (this.sorted !== null) return this.sorted;
    let values = this.level0.slice(0, this.size0);
    sortFloat64(values);
    let cumulativeWeights = new Float64Array(values.length).fill(1);
    for (let h = 1; h < this.sizes.length; h++) {
      const size = this.sizes[h] ?? 0;
      if (size === 0) continue;
      const level = this.buffers[h] ?? new Float64Array(0);
      const weight = 2 ** h;
      const mergedValues = new Float64Array(values.length + size);
      const mergedWeights = new Float64Array(values.length + size);
      let i = 0;
      let j = 0;
      for (let o = 0; o < mergedValues.length; o++) {
        if (j >= size || (i < values.length && (values[i] ?? 0) <= (level[j] ?? 0))) {
          mergedValues[o] = values[i] ?? 0;
          mergedWeights[o] = cumulativeWeights[i] ?? 0;
          i++;
        } else {
          mergedValues[o] = level[j] ?? 0;
          mergedWeights[o] = weight;
          j++;
        }
      }
      values = mergedValues;
      cumulativeWeights = mergedWeights;
    }
    let total = 0;
    for (let i = 0; i < cumulativeWeights.length; i++) {
      total += cumulativeWeights[i] ?? 0;
      cumulativeWeights[i] = total;
    }
    this.sorted = { values, cumulative: cumulativeWeights };
    return this.sorted;
  }

  toJSON(): QuantileSketchJSON {
    const levels: number[][] = [Array.from(this.level0.subarray(0, this.size0))];
    for (let h = 1; h < this.sizes.length; h++) {
      levels.push(Array.from((this.buffers[h] ?? new Float64Array(0)).subarray(0, this.sizes[h] ?? 0)));
    }
    while (levels.length > 1 && levels[levels.length - 1]?.length === 0) levels.pop();
    return {
      k: this.k,
      n: this.n,
      min: this.n === 0 ? null : this.minValue,
      max: this.n === 0 ? null : this.maxValue,
      levels,
      coin: this.coinState,
    };
  }

  /** Restores a sketch from `toJSON` output, checking it is consistent; errors name the field. */
  static fromJSON(json: unknown, field = "sketch"): QuantileSketch {
    if (!isPlainObject(json)) throw invalid(`${field} must be an object`);
    const k = json.k;
    if (typeof k !== "number" || !Number.isInteger(k) || k < MIN_K || k > MAX_K) {
      throw invalid(`${field}.k must be an integer from ${MIN_K} to ${MAX_K}`);
    }
    const coin = json.coin;
    if (typeof coin !== "number" || !Number.isInteger(coin) || coin < 0 || coin > 0xffffffff) {
      throw invalid(`${field}.coin must be a 32-bit unsigned integer`);
    }
    const levels = json.levels;
    if (!Array.isArray(levels) || levels.length === 0 || levels.length > 64) {
      throw invalid(`${field}.levels must be a non-empty array of at most 64 levels`);
    }
    const sketch = new QuantileSketch({ k, seed: coin });
    while (sketch.sizes.length < levels.length) sketch.setLevelCount(sketch.sizes.length + 1);
    let n = 0;
    let min = Infinity;
    let max = -Infinity;
    levels.forEach((level: unknown, h) => {
      if (!Array.isArray(level) || !level.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw invalid(`${field}.levels[${h}] must be an array of finite numbers`);
      }
      const items = Float64Array.from(level as number[]);
      for (let i = 0; i < items.length; i++) {
        const x = items[i] ?? 0;
        if (h > 0 && i > 0 && x < (items[i - 1] ?? 0)) {
          throw invalid(`${field}.levels[${h}] must be sorted ascending`);
        }
        if (x < min) min = x;
        if (x > max) max = x;
      }
      if (h === 0) {
        sketch.ensureLevel0(items.length);
        sketch.level0.set(items);
        sketch.size0 = items.length;
      } else {
        sketch.buffers[h] = items;
        sketch.sizes[h] = items.length;
      }
      sketch.retained += items.length;
      n += items.length * 2 ** h;
    });
    if (json.n !== n)
      throw invalid(`${field}.n must equal the levels' total weight (${n}), got ${String(json.n)}`);
    sketch.n = n;
    if (n === 0) {
      if (json.min !== null || json.max !== null)
        throw invalid(`${field}.min and .max must be null when n is 0`);
    } else {
      const jsonMin = json.min;
      const jsonMax = json.max;
      if (typeof jsonMin !== "number" || !Number.isFinite(jsonMin) || jsonMin > min) {
        throw invalid(`${field}.min must be a finite number no larger than any item`);
      }
      if (typeof jsonMax !== "number" || !Number.isFinite(jsonMax) || jsonMax < max) {
        throw invalid(`${field}.max must be a finite number no smaller than any item`);
      }
      sketch.minValue = jsonMin;
      sketch.maxValue = jsonMax;
    }
    if (sketch.retained >= sketch.capacity) sketch.compress();
    return sketch;
  }

  private requireValues(what: string): void {
    if (this.n === 0) throw invalid(`cannot take ${what} of an empty quantile sketch`);
  }

  private setLevelCount(levelCount: number): void {
    while (this.sizes.length < levelCount) {
      this.sizes.push(0);
      this.buffers.push(new Float64Array(0));
    }
    this.capacities = [];
    this.capacity = 0;
    for (let h = 0; h < levelCount; h++) {
      const c = levelCapacity(this.k, levelCount, h);
      this.capacities.push(c);
      this.capacity += c;
    }
    // Level 0 may fill the whole capacity when higher levels are empty (lazy compaction).
    if (this.level0 !== undefined) this.ensureLevel0(this.capacity);
  }

  private ensureLevel0(size: number): void {
    if (this.level0.length >= size) return;
    const grown = new Float64Array(Math.max(size, this.level0.length * 2));
    grown.set(this.level0.subarray(0, this.size0));
    this.level0 = grown;
  }

  /** Compacts levels until the sketch is below capacity again. */
  private compress(): void {
    while (this.retained >= this.capacity) {
      // Some level is at or over its capacity: the capacities sum to the total (pigeonhole).
      let h = 0;
      while ((h === 0 ? this.size0 : (this.sizes[h] ?? 0)) < (this.capacities[h] ?? 0)) h++;
      if (h === this.sizes.length - 1) this.setLevelCount(this.sizes.length + 1);
      this.compact(h);
    }
  }

  /** Halves level h into level h + 1; an odd item out (the smallest) stays behind. */
  private compact(h: number): void {
    const source = h === 0 ? this.level0 : (this.buffers[h] ?? new Float64Array(0));
    const size = h === 0 ? this.size0 : (this.sizes[h] ?? 0);
    if (h === 0) sortFloat64(source, 0, size);
    const keep = size & 1;
    const promoted = (size - keep) >>> 1;
    this.mergeSortedInto(h + 1, source, keep + this.flipCoin(), 2, promoted);
    if (h === 0) this.size0 = keep;
    else this.sizes[h] = keep;
    this.retained -= promoted;
  }

  /**
   * Merges `count` sorted items from `source` (at start, start + stride, …) into sorted level h,
   * from the back, so no scratch buffer is needed.
   */
  private mergeSortedInto(
    h: number,
    source: Float64Array,
    start: number,
    stride: number,
    count: number,
  ): void {
    if (count === 0) return;
    const existing = this.sizes[h] ?? 0;
    let target = this.buffers[h] ?? new Float64Array(0);
    if (target.length < existing + count) {
      const grown = new Float64Array(
        Math.max(existing + count, (this.capacities[h] ?? 0) + 1, target.length * 2),
      );
      grown.set(target.subarray(0, existing));
      target = grown;
      this.buffers[h] = target;
    }
    let i = existing - 1;
    let j = count - 1;
    for (let o = existing + count - 1; j >= 0; o--) {
      const incoming = source[start + j * stride] ?? 0;
      if (i >= 0 && (target[i] ?? 0) > incoming) {
        target[o] = target[i] ?? 0;
        i--;
      } else {
        target[o] = incoming;
        j--;
      }
    }
    this.sizes[h] = existing + count;
  }

  /** 0 or 1 from splitmix32 (Steele, Lea and Flood 2014, the 32-bit variant). */
  private flipCoin(): number {
    return this.nextRandom() >>> 31;
  }

  /** The next 32-bit word of the splitmix32 stream the coin and the sampler share. */
  private nextRandom(): number {
    this.coinState = (this.coinState + 0x9e3779b9) >>> 0;
    let z = this.coinState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
}

/** Index of the first element greater than x (values ascending). */
function upperBound(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] ?? 0) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
