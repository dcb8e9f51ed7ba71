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

/**
 * Grid cells per bin, and the fewest cells: fine enough that few values land in a cell an edge
 * cuts (about 3% for normal data and 10 bins), small enough (2 KB) that the tables of a batch's
 * hundreds of columns stay in cache: a 16 KB table per column made wide batches slower.
 */
const CELLS_PER_BIN = 16;
const MIN_CELLS = 1024;
/** The most bins a cell's Int16 entry can name; with more, every value takes the search. */
const MAX_GRID_BIN = 32766;

/**
 * `numericBin` for columns of values. Binary search costs a mispredicted branch per step, and a
 * start-then-walk over a coarse grid still mispredicts on most values near an edge, which
 * dominated bulk counting. Instead a uniform grid over [e0, em] maps each value to a cell, and a
 * cell that no edge can cut holds its bin outright: one table load, no comparison with an edge.
 *
 * Exactness does not rest on the grid arithmetic being exact, only on it being monotone:
 * cell(x) = ⌊(x − e0)·scale⌋ never decreases as x grows (IEEE subtraction and multiplication by
 * a positive constant are monotone, and so is truncation), so if cell(e_b) < c < cell(e_(b+1))
 * every x in cell c has e_b < x < e_(b+1), bin b. Only the cells holding an edge, cell(e_i)
 * computed with the same expression, are resolved against the edges: they store −1 − b, b the
 * highest bin with cell(e_b) below the cell (so x > e_b), and a walk up the edges finishes.
 */
export class BinIndex {
  private readonly edges: Float64Array;
  private readonly first: number;
  private readonly last: number;
  private readonly lastBin: number;
  private readonly scale: number;
  /** Per cell: its bin, or −1 − (the bin to walk up from) for a cell an edge may cut. */
  private readonly cellBin: Int16Array;

  constructor(edges: Float64Array | readonly number[]) {
    this.edges = Float64Array.from(edges);
    const m = this.edges.length;
    if (m === 0) throw invalid("a bin index needs at least one edge");
    this.first = this.edges[0] as number;
    this.last = this.edges[m - 1] as number;
    this.lastBin = Math.max(0, m - 2);
    const cells = m < 2 || this.lastBin > MAX_GRID_BIN ? 0 : Math.max(MIN_CELLS, (m - 1) * CELLS_PER_BIN);
    const range = this.last - this.first;
    this.scale = cells > 0 && range > 0 && cells / range < Infinity ? cells / range : 0;
    // x < em gives cell(x) ≤ cell(em), which rounding may put at `cells`: one spare entry.
    this.cellBin = new Int16Array(cells + 2);
    let c = 0;
    for (let i = 0; i < m; i++) {
      const at = Math.min(cells + 1, (((this.edges[i] as number) - this.first) * this.scale) | 0);
      // Cells strictly between edge i − 1's cell and edge i's hold only bin i − 1.
      for (; c < at; c++) this.cellBin[c] = i - 1;
      // Edge i's cell (unless an earlier edge shares it): x > e_(i−1) there, so walk from i − 1.
      if (c === at) this.cellBin[c++] = -1 - Math.max(0, i - 1);
    }
    for (; c < cells + 2; c++) this.cellBin[c] = -1 - Math.min(this.lastBin, MAX_GRID_BIN);
  }

  /**
   * Adds one to counts[bin] for each of values[0..count); values below e0 (−∞ too) to
   * counts[below], above em (+∞ too) to counts[above], NaN to counts[missing]. Returns how many
   * values were finite. `range`, when given, receives the finite values' min and max (Infinity
   * and −Infinity if none), found in the same pass: a quantile sketch then need not look again.
   */
  count(
    values: Float64Array,
    count: number,
    counts: Float64Array,
    below: number,
    above: number,
    missing: number,
    range?: Float64Array,
  ): number {
    // [values equal to em, below, above, missing, infinite, min, max]: out-of-range values are
    // rare, and kept out of the loops' registers.
    const tally = this.tally.fill(0, 0, 5);
    tally[5] = Infinity;
    tally[6] = -Infinity;
    if (this.lastBin < PACKED_BINS) this.countPacked(values, count, counts, tally);
    else this.countDirect(values, count, counts, tally);
    const lastBin = this.lastBin;
    counts[lastBin] = (counts[lastBin] as number) + (tally[0] as number);
    counts[below] = (counts[below] as number) + (tally[1] as number);
    counts[above] = (counts[above] as number) + (tally[2] as number);
    counts[missing] = (counts[missing] as number) + (tally[3] as number);
    if (range !== undefined) {
      range[0] = tally[5] as number;
      range[1] = tally[6] as number;
    }
    return count - (tally[3] as number) - (tally[4] as number);
  }

  private readonly tally = new Float64Array(7);

  /**
   * Up to PACKED_BINS bins. Incrementing counts[bin] in memory cost about 6 ns a value with ten
   * bins (measured): the CPU speculates each load past the previous stores, and with so few bins
   * it is often wrong. Instead the counts live in three doubles, four 13-bit fields each, and a
   * value adds 2^(13·field) to the one holding its bin: adds in registers, no branch; the fields
   * are unpacked every PACK_BLOCK values, before any can reach 2^13 (all exact below 2^53).
   */
  private countPacked(values: Float64Array, count: number, counts: Float64Array, tally: Float64Array): void {
    const edges = this.edges;
    const cellBin = this.cellBin;
    const first = this.first;
    const last = this.last;
    const scale = this.scale;
    const low = PACK_LOW;
    const middle = PACK_MIDDLE;
    const high = PACK_HIGH;
    let min = tally[5] as number;
    let max = tally[6] as number;
    for (let from = 0; from < count; from += PACK_BLOCK) {
      const to = Math.min(count, from + PACK_BLOCK);
      let a = 0;
      let b = 0;
      let c = 0;
      for (let i = from; i < to; i++) {
        const x = values[i] as number;
        if (x >= first && x < last) {
          let bin = cellBin[((x - first) * scale) | 0] as number;
          // The walk lives in its own function: written inline, its loop made V8 compile this
          // one markedly slower (measured), though it runs for a few percent of values.
          if (bin < 0) bin = walkUp(edges, x, -1 - bin);
          a += low[bin] as number;
          b += middle[bin] as number;
          c += high[bin] as number;
          if (x < min) min = x;
          if (x > max) max = x;
        } else outside(tally, x, last);
      }
      const bins = this.lastBin + 1;
      unpack(a, counts, 0, bins);
      unpack(b, counts, PACK_FIELDS, bins);
      unpack(c, counts, 2 * PACK_FIELDS, bins);
    }
    if (min < (tally[5] as number)) tally[5] = min;
    if (max > (tally[6] as number)) tally[6] = max;
  }

  private countDirect(values: Float64Array, count: number, counts: Float64Array, tally: Float64Array): void {
    const edges = this.edges;
    const cellBin = this.cellBin;
    const first = this.first;
    const last = this.last;
    const scale = this.scale;
    let min = tally[5] as number;
    let max = tally[6] as number;
    for (let i = 0; i < count; i++) {
      const x = values[i] as number;
      if (x >= first && x < last) {
        let bin = cellBin[((x - first) * scale) | 0] as number;
        if (bin < 0) bin = walkUp(edges, x, -1 - bin);
        counts[bin] = (counts[bin] as number) + 1;
        if (x < min) min = x;
        if (x > max) max = x;
      } else outside(tally, x, last);
    }
    if (min < (tally[5] as number)) tally[5] = min;
    if (max > (tally[6] as number)) tally[6] = max;
  }
}

/** Bits per packed count, counts per double (4 × 13 = 52 bits, exact), and values per block. */
const PACK_BITS = 13;
const PACK_FIELDS = 4;
const PACK_BLOCK = 2 ** PACK_BITS - 1;
const PACKED_BINS = 3 * PACK_FIELDS;
const packTable = (part: number): Float64Array =>
  Float64Array.from({ length: PACKED_BINS }, (_, bin) =>
    Math.floor(bin / PACK_FIELDS) === part ? 2 ** (PACK_BITS * (bin % PACK_FIELDS)) : 0,
  );
const PACK_LOW = packTable(0);
const PACK_MIDDLE = packTable(1);
const PACK_HIGH = packTable(2);

/** Adds the four counts packed in `packed` to counts[base..base + 4), those below `bins`. */
function unpack(packed: number, counts: Float64Array, base: number, bins: number): void {
  for (let f = 0; f < PACK_FIELDS && base + f < bins; f++) {
    const field = packed % 2 ** PACK_BITS;
    counts[base + f] = (counts[base + f] as number) + field;
    packed = (packed - field) / 2 ** PACK_BITS;
  }
}

/**
 * Tallies a value outside [e0, em): equal to em, below, above, NaN; ±∞ also as infinite, finite
 * ones into the min and max.
 */
function outside(tally: Float64Array, x: number, last: number): void {
  let at: number;
  if (x === last) at = 0;
  else if (x < last) at = 1;
  else if (x > last) at = 2;
  else at = 3;
  tally[at] = (tally[at] as number) + 1;
  if (x === Infinity || x === -Infinity) tally[4] = (tally[4] as number) + 1;
  else if (x === x) {
    if (x < (tally[5] as number)) tally[5] = x;
    if (x > (tally[6] as number)) tally[6] = x;
  }
}

/**
 * The bin of x, given edges[bin] ≤ x < the last edge: a step or two up from `bin` in a cell an
 * edge cuts, a binary search when the steps run out (a grid too coarse for the data's spread).
 */
function walkUp(edges: Float64Array, x: number, bin: number): number {
  for (let step = 0; step < 4; step++) {
    if (x < (edges[bin + 1] as number)) return bin;
    bin++;
  }
  // edges[lo] ≤ x < edges[hi]
  let lo = bin;
  let hi = edges.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if ((edges[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}
