/**
 * The bins of a numerical feature, shared by the profile (reference counts) and the window
 * sketch (live counts). Edges e0 < e1 < … < em give m bins [e0, e1), …, [e(m-1), em], the last
 * one closed; a single edge gives one bin holding exactly e0; no edges, no bins.
 */
import { invalid } from "../../domain/errors.js";

export const BELOW = -1;
export const ABOVE = -2;

export function binCountFor(edgeCount: number): number {
  return edgeCount === 0 ? 0 : Math.max(1, edgeCount - 1);
}

/** The bin of x, or BELOW (x < e0) or ABOVE (x > em). Binary search: O(log edges), no allocation. */
export function numericBin(edges: Float64Array | readonly number[], x: number): number {
  const last = edges.length - 1;
  if (last < 0) return ABOVE;
  if (x < (edges[0] as number)) return BELOW;
  if (x >= (edges[last] as number)) return x === edges[last] ? Math.max(0, last - 1) : ABOVE;
  // edges[lo] <= x < edges[hi]
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Bin edges from quantiles at 0, 1/bins, …, 1, with repeats removed: heavy ties or a constant
 * column give fewer bins (a constant column, one edge and one bin).
 */
export function edgesFromQuantiles(quantileAt: (q: number) => number, bins: number): number[] {
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const q = quantileAt(i === bins ? 1 : i / bins);
    if (edges.length === 0 || q > (edges[edges.length - 1] as number)) edges.push(q);
  }
  return edges;
}

/** Grid cells per bin: enough that a value's start bin is almost always its bin. */
const CELLS_PER_BIN = 16;

/**
 * `numericBin` for columns of values. Binary search costs a mispredicted branch per step, which
 * dominated bulk counting; a uniform grid over [e0, em] gives each value a starting bin instead,
 * and a step or two of linear search (either way, so any start is still exact) finishes it.
 */
export class BinIndex {
  private readonly edges: Float64Array;
  private readonly first: number;
  private readonly last: number;
  private readonly lastBin: number;
  private readonly scale: number;
  private readonly start: Int32Array;

  constructor(edges: Float64Array | readonly number[]) {
    this.edges = Float64Array.from(edges);
    const m = this.edges.length;
    if (m === 0) throw invalid("a bin index needs at least one edge");
    this.first = m === 0 ? Infinity : (this.edges[0] as number);
    this.last = m === 0 ? -Infinity : (this.edges[m - 1] as number);
    this.lastBin = Math.max(0, m - 2);
    const cells = m < 2 ? 0 : (m - 1) * CELLS_PER_BIN;
    const range = this.last - this.first;
    this.scale = cells > 0 && range > 0 && cells / range < Infinity ? cells / range : 0;
    this.start = new Int32Array(cells + 1);
    for (let c = 0; c <= cells; c++) {
      const bin = numericBin(this.edges, this.first + c / this.scale);
      this.start[c] = bin < 0 ? this.lastBin : bin;
    }
  }

  /**
   * Adds one to counts[bin] for each of values[0..count); values below e0 (−∞ too) to
   * counts[below], above em (+∞ too) to counts[above], NaN to counts[missing]. Returns how many
   * values were finite.
   */
  count(
    values: Float64Array,
    count: number,
    counts: Float64Array,
    below: number,
    above: number,
    missing: number,
  ): number {
    const edges = this.edges;
    const start = this.start;
    const first = this.first;
    const last = this.last;
    const lastBin = this.lastBin;
    const scale = this.scale;
    let nBelow = 0;
    let nAbove = 0;
    let nMissing = 0;
    let nLast = 0;
    let infinite = 0;
    for (let i = 0; i < count; i++) {
      const x = values[i] as number;
      if (x >= first && x < last) {
        let bin = start[((x - first) * scale) | 0] as number;
        // The grid is fine enough that one step almost always finishes; the loops make any start exact.
        if (x >= (edges[bin + 1] as number)) {
          bin++;
          while (x >= (edges[bin + 1] as number)) bin++;
        }
        while (x < (edges[bin] as number)) bin--;
        counts[bin] = (counts[bin] as number) + 1;
      } else if (x === last) nLast++;
      else if (x < first) {
        nBelow++;
        if (x === -Infinity) infinite++;
      } else if (x > last) {
        nAbove++;
        if (x === Infinity) infinite++;
      } else nMissing++;
    }
    counts[lastBin] = (counts[lastBin] as number) + nLast;
    counts[below] = (counts[below] as number) + nBelow;
    counts[above] = (counts[above] as number) + nAbove;
    counts[missing] = (counts[missing] as number) + nMissing;
    return count - nMissing - infinite;
  }
}
