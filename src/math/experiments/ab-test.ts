/**
 * Always-valid A/B test: fold each look's cumulative effect estimate (effect.ts) into the
 * always-valid p-value and confidence sequence of the two-sided mSPRT (msprt.ts, JPW 2022), and
 * name a winner the first time the p-value reaches alpha. Looking after every batch, or every
 * request, costs nothing in error rate: Pr(any false winner, ever) ≤ alpha.
 *
 * The state is plain data; a caller keeps it between looks (or recomputes it by replaying the
 * looks) and passes the arms' cumulative totals at each new look, never increments.
 */
import {
  isInformative,
  meanDifference,
  rateDifference,
  type EffectEstimate,
  type RateArm,
  type RateVariance,
} from "./effect.js";
import type { Moments } from "./moments.js";
import { checkedAlpha, checkedMixingVariance, msprtHalfWidth, msprtLogLikelihoodRatio } from "./msprt.js";

export type Direction = "higher" | "lower";

export interface AbTestOptions {
  /** Type-I error over the whole, continuously monitored experiment. */
  readonly alpha: number;
  /** τ² of the mixture; mixingVarianceFromMde(mde) when no history suggests better. */
  readonly mixingVariance: number;
  /** Which way is better for the metric (conversion: higher; latency, error rate: lower). */
  readonly better?: Direction;
  /** Variance of a rate difference (effect.ts): "plug-in" (JPW, default) or "guarded" for rare events. */
  readonly rateVariance?: RateVariance;
}

export interface Interval {
  readonly lower: number;
  readonly upper: number;
}

export interface AbTestState {
  /** Looks that carried evidence (positive variance). */
  readonly looks: number;
  /** Latest θ̂ = B - A (NaN before the first informative look). */
  readonly effect: number;
  /** Latest θ̂ / |mean of A|: the relative lift; NaN when A's mean is 0. */
  readonly relativeEffect: number;
  readonly standardError: number;
  /** Always-valid p-value for θ = 0: min over looks of 1/Λ, capped at 1. */
  readonly pValue: number;
  /**
   * Always-valid (1 - alpha) confidence sequence for θ: the intersection of every look's
   * interval; (-∞, ∞) before the first informative look, null if the looks' intervals stopped
   * overlapping (possible only when the plug-in variance misjudged an early look).
   */
  readonly interval: Interval | null;
  /** The better arm, fixed at the first look where pValue ≤ alpha; null means "not yet". */
  readonly winner: "A" | "B" | null;
  readonly decidedAtLook: number | null;
}

export const AB_TEST_START: AbTestState = Object.freeze({
  looks: 0,
  effect: Number.NaN,
  relativeEffect: Number.NaN,
  standardError: Number.NaN,
  pValue: 1,
  interval: Object.freeze({ lower: -Infinity, upper: Infinity }),
  winner: null,
  decidedAtLook: null,
});

export function updateAbTest(
  state: AbTestState,
  estimate: EffectEstimate,
  options: AbTestOptions,
): AbTestState {
  const alpha = checkedAlpha(options.alpha);
  const tau2 = checkedMixingVariance(options.mixingVariance);
  if (!isInformative(estimate)) return state;
  const { effect, variance } = estimate;
  const looks = state.looks + 1;
  const pValue = Math.min(
    state.pValue,
    Math.min(1, Math.exp(-msprtLogLikelihoodRatio(effect, variance, tau2))),
  );
  const h = msprtHalfWidth(variance, tau2, alpha);
  const interval = intersect(state.interval, { lower: effect - h, upper: effect + h });
  let { winner, decidedAtLook } = state;
  if (winner === null && pValue <= alpha) {
    // The rejecting look's interval excludes 0, so θ̂'s sign at that look is the sign of θ.
    const bIsHigher = effect > 0;
    winner = bIsHigher === ((options.better ?? "higher") === "higher") ? "B" : "A";
    decidedAtLook = looks;
  }
  return {
    looks,
    effect,
    relativeEffect: estimate.baseline === 0 ? Number.NaN : effect / Math.abs(estimate.baseline),
    standardError: Math.sqrt(variance),
    pValue,
    interval,
    winner,
    decidedAtLook,
  };
}

function intersect(a: Interval | null, b: Interval): Interval | null {
  if (a === null) return null;
  const lower = Math.max(a.lower, b.lower);
  const upper = Math.min(a.upper, b.upper);
  return lower <= upper ? { lower, upper } : null;
}

/** One look at two conversion rates (cumulative counts per arm). */
export function updateAbTestRates(
  state: AbTestState,
  a: RateArm,
  b: RateArm,
  options: AbTestOptions,
): AbTestState {
  return updateAbTest(state, rateDifference(a, b, options.rateVariance), options);
}

/** One look at a continuous metric (cumulative running moments per arm). */
export function updateAbTestMeans(
  state: AbTestState,
  a: Moments,
  b: Moments,
  options: AbTestOptions,
): AbTestState {
  return updateAbTest(state, meanDifference(a, b), options);
}
