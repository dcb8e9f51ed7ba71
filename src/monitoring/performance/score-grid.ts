/**
 * The fixed grid that makes score-keyed accumulators mergeable in bounded memory: a score s in
 * [0, 1] falls in bucket k = the largest integer with k / 10^4 <= s (so at most 10,001 buckets,
 * stored sparsely). Floor rather than round keeps thresholds exact: for a threshold t on the
 * grid, s >= t exactly when bucket(s) >= bucket(t). Scores that lie on the grid (k / 10^4 as a
 * double, e.g. every score rounded to 4 decimals) land alone in their bucket, so ties and order
 * are kept exactly; scores between grid points share a bucket with their neighbours, and each
 * accumulator reports the error bound that follows from that.
 */
import { invalid } from "../../domain/errors.js";

export const SCORE_GRID = 10_000;

export function checkScore(score: number, what = "score"): void {
  if (typeof score !== "number" || !Number.isFinite(score) || score < 0 || score > 1) {
    throw invalid(`${what} must be a probability in [0, 1]; got ${String(score)}`, { [what]: score });
  }
}

export function checkBinaryLabel(label: unknown, allowNull: boolean): asserts label is 0 | 1 | null {
  if (label === 0 || label === 1 || (allowNull && label === null)) return;
  const rendered = typeof label === "string" ? JSON.stringify(label) : String(label);
  throw invalid(`label must be 0 or 1${allowNull ? " (or null while not yet known)" : ""}; got ${rendered}`, {
    label,
  });
}

/** Bucket of a score already checked to be in [0, 1]. */
export function scoreBucket(score: number): number {
  let k = Math.floor(score * SCORE_GRID);
  // score * 10^4 can round across an integer (0.0003 * 10^4 = 2.9999999999999996); compare
  // against k / 10^4, the same double a decimal literal on the grid parses to.
  if (k + 1 <= SCORE_GRID && (k + 1) / SCORE_GRID <= score) k += 1;
  else if (k / SCORE_GRID > score) k -= 1;
  return k;
}

export function isOnGrid(score: number): boolean {
  return scoreBucket(score) / SCORE_GRID === score;
}

/** The bucket a decision threshold starts at; thresholds must lie on the grid to be exact. */
export function thresholdBucket(threshold: number): number {
  checkScore(threshold, "threshold");
  if (!isOnGrid(threshold)) {
    throw invalid(
      `threshold must be a multiple of 1/${SCORE_GRID} (at most 4 decimals) so that it splits the score buckets exactly; got ${threshold}`,
      { threshold },
    );
  }
  return scoreBucket(threshold);
}

/** Buckets of a sparse map, in ascending score order. */
export function sortedBuckets<T>(buckets: ReadonlyMap<number, T>): [number, T][] {
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]);
}
