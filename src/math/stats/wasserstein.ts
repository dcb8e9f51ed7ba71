/**
 * Wasserstein-1 (earth mover's) distance between two exact samples, as
 * scipy.stats.wasserstein_distance(u, v) computes it (∫ |F_u - F_v| over the merged sample),
 * divided by the reference's POPULATION standard deviation (np.std, ddof = 0, as Evidently's
 * normed Wasserstein does), so it reads in units of reference spread.
 *
 * Constant reference (std 0): the raw distance is divided by max(|reference mean|, 1) instead,
 * so a constant feature that stays put scores 0 and one that moves scores a finite, readable
 * relative shift rather than Infinity or NaN.
 *
 * Kind distance: drifted when the normed distance >= threshold (default 0.1).
 */
import { invalid } from "../../domain/errors.js";
import { checkedSamples } from "./input.js";
import { statResult, type SamplePair, type SampleStatTest, type StatResult } from "./test.js";

/** W1 between sorted samples (scipy's _cdf_distance with p = 1). */
function distanceOfSorted(u: Float64Array, v: Float64Array): number {
  const n1 = u.length;
  const n2 = v.length;
  const all = new Float64Array(n1 + n2);
  all.set(u);
  all.set(v, n1);
  all.sort();
  let i = 0;
  let j = 0;
  let sum = 0;
  for (let k = 0; k < all.length - 1; k++) {
    const x = all[k] as number;
    while (i < n1 && (u[i] as number) <= x) i++;
    while (j < n2 && (v[j] as number) <= x) j++;
    sum += Math.abs(i / n1 - j / n2) * ((all[k + 1] as number) - x);
  }
  return sum;
}

/** Un-normed Wasserstein-1 distance between two samples (scipy.stats.wasserstein_distance). */
export function wassersteinDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const { reference: u, current: v } = checkedSamples("wasserstein", { reference, current });
  return distanceOfSorted(u, v);
}

/** Mean and population standard deviation (two-pass, as np.std). */
function spread(values: Float64Array): { mean: number; std: number } {
  let sum = 0;
  for (const x of values) sum += x;
  const mean = sum / values.length;
  let squares = 0;
  for (const x of values) squares += (x - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length) };
}

export interface WassersteinOutcome {
  readonly distance: number;
  readonly normed: number;
  /** What the distance was divided by: the reference std, or max(|mean|, 1) for a constant reference. */
  readonly scale: number;
}

export function normedWasserstein(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): WassersteinOutcome {
  const { reference: u, current: v } = checkedSamples("wasserstein", { reference, current });
  const distance = distanceOfSorted(u, v);
  const { mean, std } = spread(u);
  const scale = std > 0 ? std : Math.max(Math.abs(mean), 1);
  return { distance, normed: distance / scale, scale };
}

/**
 * ∫₀¹ |Q_ref(q) - Q_cur(q)| dq by the midpoint rule with `steps` points, for quantile sketches
 * (not normed; divide by the reference std). Exact for two empirical quantile functions of equal
 * sample size n when steps is a multiple of n; with sketches the error is at most the sketches'
 * quantile error integrated over q plus the midpoint rule's discretisation.
 */
export function wassersteinFromQuantiles(
  refQuantile: (q: number) => number,
  curQuantile: (q: number) => number,
  steps: number,
): number {
  if (!Number.isInteger(steps) || steps < 1) {
    throw invalid(`wasserstein: steps must be a positive integer, got ${steps}`);
  }
  let sum = 0;
  for (let k = 0; k < steps; k++) {
    const q = (k + 0.5) / steps;
    const d = Math.abs(refQuantile(q) - curQuantile(q));
    if (!Number.isFinite(d))
      throw invalid(`wasserstein: a quantile function returned a non-finite value at q = ${q}`);
    sum += d;
  }
  return sum / steps;
}

export const wassersteinTest: SampleStatTest = {
  name: "wasserstein",
  kind: "distance",
  defaultThreshold: 0.1,
  input: "samples",
  appliesTo: ["numerical"],
  description: "Wasserstein-1 distance divided by the reference population std",
  run(pair: SamplePair, threshold?: number): StatResult {
    const outcome = normedWasserstein(pair.reference, pair.current);
    return statResult(this, outcome.normed, threshold, { distance: outcome.distance, scale: outcome.scale });
  },
};
