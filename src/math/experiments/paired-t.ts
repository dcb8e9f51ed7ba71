/**
 * Paired t-test on per-request losses of two models scored on the same requests (regression
 * champion vs challenger): d_i = loss_challenger,i - loss_champion,i, t = d̄ / (s_d/√n),
 * ν = n - 1, two-sided p = Pr(|T_ν| ≥ |t|), exactly scipy.stats.ttest_rel(challenger, champion).
 * The differences are kept as running moments (moments.ts), so shards and time buckets merge
 * and raw losses need not be stored.
 *
 * Degenerate cases follow scipy: with every difference equal (s_d = 0) t is ±∞ and p = 0 when
 * that difference is not zero, and NaN when it is (identical losses: "tie"); below two pairs
 * t and p are NaN.
 */
import { invalid } from "../../domain/errors.js";
import { addObservation, sampleVariance, type Moments } from "./moments.js";
import { studentTTwoSided } from "./student-t.js";

export interface PairedTOutcome {
  readonly pairs: number;
  /** Mean of challenger - champion losses: negative means the challenger errs less. */
  readonly meanDifference: number;
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
  readonly better: "champion" | "challenger" | "tie";
}

/** Folds one request's two losses into the running moments of their difference. */
export function addLossPair(differences: Moments, championLoss: number, challengerLoss: number): Moments {
  if (!Number.isFinite(championLoss) || !Number.isFinite(challengerLoss)) {
    throw invalid(`paired t-test: losses must be finite numbers, got ${championLoss} and ${challengerLoss}`);
  }
  return addObservation(differences, challengerLoss - championLoss);
}

export function pairedTTest(differences: Moments): PairedTOutcome {
  const n = differences.count;
  const mean = n === 0 ? Number.NaN : differences.mean;
  const se = Math.sqrt(sampleVariance(differences) / n);
  const statistic = se > 0 || (se === 0 && mean !== 0) ? mean / se : Number.NaN;
  const pValue = studentTTwoSided(statistic, n - 1);
  const better = !(n > 0) || mean === 0 ? "tie" : mean < 0 ? "challenger" : "champion";
  return { pairs: n, meanDifference: mean, statistic, degreesOfFreedom: n - 1, pValue, better };
}
