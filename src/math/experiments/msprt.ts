/**
 * Closed forms of the normal-mixture sequential probability ratio test (mSPRT) of Robbins (1970)
 * as used for A/B tests by Johari, Pekelis & Walsh, "Always Valid Inference: Continuous
 * Monitoring of A/B Tests", Operations Research 70(3), 2022 (JPW below).
 *
 * Model: at a look the effect estimate θ̂ is approximately N(θ, v) with v its variance
 * (effect.ts). The likelihood ratio of θ against the null θ₀ is exp((θ - θ₀)(θ̂ - θ₀)/v - (θ - θ₀)²/(2v)).
 * Mixing it over θ ~ N(θ₀, τ²) gives JPW's closed form for normal data (their two-stream case,
 * where v = 2σ²/n for n pairs; here v = σ²_A/n_A + σ²_B/n_B, which is the same thing for equal
 * arms and lets arms differ in size):
 *
 *   (M1)  Λ = sqrt(v / (v + τ²)) · exp( τ² (θ̂ - θ₀)² / (2 v (v + τ²)) )
 *
 * [With v = 2σ²/n this is JPW's sqrt(2σ²/(2σ² + nτ²)) · exp(n²τ²(Ȳ - X̄ - θ₀)² / (4σ²(2σ² + nτ²))).]
 * Under H₀ Λ is a nonnegative martingale with mean 1, so by Ville's inequality
 * Pr(sup_n Λ_n ≥ 1/α) ≤ α: rejecting the first time Λ ≥ 1/α keeps the type-I error at α however
 * often one looks. The always-valid p-value is p_n = min(p_{n-1}, 1/Λ_n), p_0 = 1 (JPW's
 * definition from the mSPRT), and the always-valid confidence sequence is the set of θ₀ that the
 * test has not rejected at any look, i.e. the running intersection of (M2) over the looks:
 *
 *   (M2)  Λ(θ₀) < 1/α  ⇔  |θ̂ - θ₀| < h,  h² = 2 v (v + τ²)/τ² · ( log(1/α) + ½ log((v + τ²)/v) )
 *
 * One-sided alternative (canary gates: "worse by more than θ₀"): mix over the half-normal
 * θ - θ₀ ~ |N(0, τ²)| only. Completing the square in the Gaussian integral gives
 *
 *   (M3)  Λ⁺ = 2 Φ( τ (θ̂ - θ₀) / sqrt(v (v + τ²)) ) · Λ
 *
 * which is again a mean-1 martingale at θ = θ₀ and a supermartingale for every θ < θ₀, so the
 * composite null θ ≤ θ₀ keeps Pr(sup Λ⁺ ≥ 1/α) ≤ α.
 *
 * Choosing τ. The mixture spends the test's power on effects of size about τ: a much smaller τ
 * makes large effects wait for data they do not need, a much larger one pays log-factor
 * width at every look (the ½ log((v + τ²)/v) term of (M2)). JPW choose the mixing distribution
 * to match the effects seen in past experiments, as Optimizely's Stats Engine does; without such
 * history the natural stand-in is the smallest effect worth acting on, the minimum detectable
 * effect (MDE): τ = MDE, in the metric's own units (an absolute rate difference for rates).
 *
 * The Gaussian form is exact for normal data with known variance; with the variance estimated
 * from the data (rates, continuous metrics) it holds asymptotically, which the seeded
 * simulations in test/math/experiments check at the sample sizes a rollout sees.
 */
import { invalid } from "../../domain/errors.js";
import { normalSf } from "../stats/normal.js";

/** τ² for a mixture centred on effects the size of the minimum detectable effect (τ = MDE). */
export function mixingVarianceFromMde(minimumDetectableEffect: number): number {
  if (!(minimumDetectableEffect > 0) || !Number.isFinite(minimumDetectableEffect)) {
    throw invalid(`mSPRT: the minimum detectable effect must be > 0, got ${minimumDetectableEffect}`);
  }
  return minimumDetectableEffect ** 2;
}

export function checkedMixingVariance(tau2: number): number {
  if (!(tau2 > 0) || !Number.isFinite(tau2))
    throw invalid(`mSPRT: the mixing variance τ² must be > 0, got ${tau2}`);
  return tau2;
}

export function checkedAlpha(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw invalid(`mSPRT: alpha must lie in (0, 1), got ${alpha}`);
  return alpha;
}

/** log Λ of (M1): two-sided evidence against θ = θ₀ from an estimate θ̂ with variance v. */
export function msprtLogLikelihoodRatio(effect: number, variance: number, tau2: number, theta0 = 0): number {
  const d = effect - theta0;
  return 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * d * d) / (2 * variance * (variance + tau2));
}

/** log Λ⁺ of (M3): one-sided evidence for θ > θ₀. */
export function msprtOneSidedLogLikelihoodRatio(
  effect: number,
  variance: number,
  tau2: number,
  theta0 = 0,
): number {
  const d = effect - theta0;
  const x = (Math.sqrt(tau2) * d) / Math.sqrt(variance * (variance + tau2));
  // Φ(x) = Pr(Z > -x); normalSf stays accurate deep in the tail where 1 - Φ would round to 0.
  return Math.log(2 * normalSf(-x)) + msprtLogLikelihoodRatio(effect, variance, tau2, theta0);
}

/** h of (M2): θ̂ ± h is the set of θ₀ not rejected at this look. */
export function msprtHalfWidth(variance: number, tau2: number, alpha: number): number {
  const slack = Math.log(1 / alpha) + 0.5 * Math.log((variance + tau2) / variance);
  return Math.sqrt(((2 * variance * (variance + tau2)) / tau2) * slack);
}
