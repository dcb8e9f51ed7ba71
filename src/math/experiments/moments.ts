/**
 * Running moments of one metric (count, mean, sum of squared deviations) that fold one value at
 * a time (Welford 1962) and merge across shards or time buckets (Chan, Golub & LeVeque 1979), so
 * an arm's mean and variance never need its raw values kept.
 *
 *   add:   n' = n + 1,  δ = x - mean,  mean' = mean + δ/n',  M2' = M2 + δ·(x - mean')
 *   merge: n = nA + nB, δ = meanB - meanA, mean = meanA + δ·nB/n, M2 = M2A + M2B + δ²·nA·nB/n
 *
 * Both forms avoid the Σx² - n·mean² cancellation that loses all digits when the mean is large
 * relative to the spread (latencies in microseconds, prices in cents).
 */
import { invalid } from "../../domain/errors.js";

export interface Moments {
  readonly count: number;
  readonly mean: number;
  /** Σ (x - mean)². */
  readonly m2: number;
}

export const EMPTY_MOMENTS: Moments = Object.freeze({ count: 0, mean: 0, m2: 0 });

export function addObservation(moments: Moments, x: number): Moments {
  if (!Number.isFinite(x)) throw invalid(`moments: observations must be finite numbers, got ${x}`);
  const count = moments.count + 1;
  const delta = x - moments.mean;
  const mean = moments.mean + delta / count;
  return { count, mean, m2: moments.m2 + delta * (x - mean) };
}

export function mergeMoments(a: Moments, b: Moments): Moments {
  if (a.count === 0) return b;
  if (b.count === 0) return a;
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  return {
    count,
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
  };
}

export function momentsOf(values: Iterable<number>): Moments {
  let moments = EMPTY_MOMENTS;
  for (const x of values) moments = addObservation(moments, x);
  return moments;
}

/** Unbiased sample variance M2/(n - 1); NaN below two observations (no spread to estimate). */
export function sampleVariance(moments: Moments): number {
  return moments.count < 2 ? Number.NaN : Math.max(0, moments.m2) / (moments.count - 1);
}
