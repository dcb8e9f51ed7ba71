/**
 * The effect two arms are compared on, θ = metric(B) - metric(A), with the variance of its
 * estimate, from the arms' cumulative summaries. Every sequential test in this folder takes
 * this pair, so rates and continuous metrics share one implementation.
 *
 *   rates (Bernoulli):  θ̂ = p̂_B - p̂_A,   v = p̂_A(1 - p̂_A)/n_A + p̂_B(1 - p̂_B)/n_B    (plug-in)
 *   means (continuous): θ̂ = x̄_B - x̄_A,   v = s²_A/n_A + s²_B/n_B                      (Welch)
 *
 * The variance is estimated from the data (JPW 2022 plug the estimate into the normal mSPRT for
 * binary and unknown-variance data), so it is NaN or 0 while an arm is too small to show any
 * spread; the tests treat such a look as carrying no evidence.
 *
 * Rare events break the plug-in for rates: a small arm with no errors yet has p̂(1 - p̂) = 0, so
 * the difference looks far more certain than it is (a 5% canary at 0.5% errors shows zero errors
 * in its first 500 requests 8% of the time). The "guarded" variance takes the larger of the
 * plug-in and the pooled-rate variance p̄(1 - p̄)(1/n_A + 1/n_B): both are consistent under
 * H₀, and the pooled one (with half a pseudo-event) cannot collapse to 0.
 */
import { invalid } from "../../domain/errors.js";
import { sampleVariance, type Moments } from "./moments.js";

/** Cumulative Bernoulli counts of one arm: requests (trials) and clicks/errors/conversions (successes). */
export interface RateArm {
  readonly trials: number;
  readonly successes: number;
}

export interface EffectEstimate {
  /** θ̂ = B - A. */
  readonly effect: number;
  /** Var(θ̂); NaN or 0 when the data cannot estimate it yet. */
  readonly variance: number;
  /** Arm A's estimated mean (the baseline a relative lift is taken against). */
  readonly baseline: number;
}

export function checkedRateArm(arm: RateArm, name: string): RateArm {
  const { trials, successes } = arm;
  if (!Number.isInteger(trials) || !Number.isInteger(successes) || trials < 0 || successes < 0) {
    throw invalid(`${name}: trials and successes must be integers >= 0, got ${trials} and ${successes}`);
  }
  if (successes > trials) throw invalid(`${name}: successes (${successes}) exceed trials (${trials})`);
  return arm;
}

export type RateVariance = "plug-in" | "guarded";

export function rateDifference(
  a: RateArm,
  b: RateArm,
  varianceKind: RateVariance = "plug-in",
): EffectEstimate {
  checkedRateArm(a, "arm A");
  checkedRateArm(b, "arm B");
  if (a.trials === 0 || b.trials === 0)
    return { effect: Number.NaN, variance: Number.NaN, baseline: Number.NaN };
  const pA = a.successes / a.trials;
  const pB = b.successes / b.trials;
  const plugIn = (pA * (1 - pA)) / a.trials + (pB * (1 - pB)) / b.trials;
  // While neither arm has seen an event, half a pseudo-event (in the spirit of Agresti–Caffo)
  // keeps the pooled variance above 0, so "no errors in 2,000 requests" still counts as
  // evidence that the rate is small.
  const events = a.successes + b.successes;
  const pooled = (events === 0 ? 0.5 : events) / (a.trials + b.trials + (events === 0 ? 1 : 0));
  const variance =
    varianceKind === "plug-in"
      ? plugIn
      : Math.max(plugIn, pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials));
  return { effect: pB - pA, variance, baseline: pA };
}

export function meanDifference(a: Moments, b: Moments): EffectEstimate {
  if (a.count === 0 || b.count === 0)
    return { effect: Number.NaN, variance: Number.NaN, baseline: Number.NaN };
  return {
    effect: b.mean - a.mean,
    variance: sampleVariance(a) / a.count + sampleVariance(b) / b.count,
    baseline: a.mean,
  };
}

/** A look carries evidence only when its effect and a positive finite variance are known. */
export function isInformative(estimate: EffectEstimate): boolean {
  return Number.isFinite(estimate.effect) && Number.isFinite(estimate.variance) && estimate.variance > 0;
}
