/**
 * The bins of a numerical feature, shared by the profile (reference counts) and the window
 * sketch (live counts). Edges e0 < e1 < … < em give m bins [e0, e1), …, [e(m-1), em], the last
 * one closed; a single edge gives one bin holding exactly e0; no edges, no bins.
 */

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
