/**
 * Sequential gate for a canary on a rate (error rate, click-through): roll back as soon as the
 * data show the canary worse than stable by more than a tolerated margin, promote as soon as they
 * show it is not, and otherwise keep watching. Safe to evaluate after every batch of requests.
 *
 * Choice: the one-sided mSPRT (msprt.ts, (M3)) on the worse-oriented difference
 *   harm = p_canary - p_stable   (worse: "higher", e.g. error rate)
 *   harm = p_stable - p_canary   (worse: "lower",  e.g. click-through)
 * testing H₀: harm ≤ margin against harm > margin. Unlike Wald's SPRT it needs no single
 * alternative (a canary may be slightly or badly broken; the mixture adapts to either, and a
 * badly broken one stops within a few hundred requests), it has no fixed horizon, and it shares
 * the A/B test's machinery. Its guarantee: for any canary with harm ≤ margin,
 * Pr(ever rolled back) ≤ alpha, however often the gate is evaluated (Ville's inequality).
 *
 * Promotion uses the upper end of the two-sided always-valid confidence sequence for harm
 * ((M2), running intersection): once it drops below the margin the canary is, with confidence
 * 1 - alpha, no worse than tolerated. Each decision errs with probability ≤ alpha.
 *
 * Rates use the "guarded" variance (effect.ts): error rates are rare events and a canary's small
 * arm often shows zero errors early, which would otherwise make it look certainly better.
 *
 * The rollback decision takes precedence, and the first decision is final (it is a stopping rule).
 */
import { invalid } from "../../domain/errors.js";
import { isInformative, rateDifference, type RateArm } from "./effect.js";
import {
  checkedAlpha,
  checkedMixingVariance,
  msprtHalfWidth,
  msprtOneSidedLogLikelihoodRatio,
} from "./msprt.js";
import type { Direction } from "./ab-test.js";

export interface CanaryGateOptions {
  /** Bound on the probability of a false rollback (and, separately, of a false promotion). */
  readonly alpha: number;
  /** Tolerated harm, in absolute rate units (0.005 = half a percentage point); ≥ 0. */
  readonly margin: number;
  /** Which direction of the rate is bad: errors "higher", click-through "lower". */
  readonly worse: Direction;
  /** τ² of the mixture over harm - margin; mixingVarianceFromMde(smallest harm worth catching). */
  readonly mixingVariance: number;
}

export type CanaryDecision = "rollback" | "promote" | "continue";

export interface CanaryGateState {
  readonly looks: number;
  /** Latest harm estimate (worse-oriented canary - stable difference); NaN before evidence. */
  readonly harm: number;
  /** Always-valid one-sided p-value for H₀: harm ≤ margin. */
  readonly pValue: number;
  /** Always-valid upper confidence bound on harm (running minimum over looks). */
  readonly harmUpperBound: number;
  readonly decision: CanaryDecision;
  readonly decidedAtLook: number | null;
}

export const CANARY_GATE_START: CanaryGateState = Object.freeze({
  looks: 0,
  harm: Number.NaN,
  pValue: 1,
  harmUpperBound: Infinity,
  decision: "continue",
  decidedAtLook: null,
});

export function updateCanaryGate(
  state: CanaryGateState,
  stable: RateArm,
  canary: RateArm,
  options: CanaryGateOptions,
): CanaryGateState {
  const alpha = checkedAlpha(options.alpha);
  const tau2 = checkedMixingVariance(options.mixingVariance);
  const margin = options.margin;
  if (!(margin >= 0) || !Number.isFinite(margin)) {
    throw invalid(`canary gate: the margin must be a finite number >= 0, got ${margin}`);
  }
  const estimate = rateDifference(stable, canary, "guarded");
  if (!isInformative(estimate)) return state;
  const harm = options.worse === "higher" ? estimate.effect : -estimate.effect;
  const { variance } = estimate;
  const looks = state.looks + 1;
  const logLambda = msprtOneSidedLogLikelihoodRatio(harm, variance, tau2, margin);
  const pValue = Math.min(state.pValue, Math.min(1, Math.exp(-logLambda)));
  const harmUpperBound = Math.min(state.harmUpperBound, harm + msprtHalfWidth(variance, tau2, alpha));
  let { decision, decidedAtLook } = state;
  if (decision === "continue") {
    if (pValue <= alpha) decision = "rollback";
    else if (harmUpperBound < margin) decision = "promote";
    if (decision !== "continue") decidedAtLook = looks;
  }
  return { looks, harm, pValue, harmUpperBound, decision, decidedAtLook };
}
