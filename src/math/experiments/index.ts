/**
 * The statistics progressive delivery decides with: always-valid A/B tests and canary gates
 * (mixture SPRT), and fixed-sample paired tests for champion/challenger on labelled requests.
 */
export {
  addObservation,
  EMPTY_MOMENTS,
  mergeMoments,
  momentsOf,
  sampleVariance,
  type Moments,
} from "./moments.js";
export {
  isInformative,
  meanDifference,
  rateDifference,
  type EffectEstimate,
  type RateArm,
} from "./effect.js";
export {
  mixingVarianceFromMde,
  msprtHalfWidth,
  msprtLogLikelihoodRatio,
  msprtOneSidedLogLikelihoodRatio,
} from "./msprt.js";
export {
  AB_TEST_START,
  updateAbTest,
  updateAbTestMeans,
  updateAbTestRates,
  type AbTestOptions,
  type AbTestState,
  type Direction,
  type Interval,
} from "./ab-test.js";
export {
  CANARY_GATE_START,
  updateCanaryGate,
  type CanaryDecision,
  type CanaryGateOptions,
  type CanaryGateState,
} from "./canary-gate.js";
export {
  addPairedOutcome,
  EXACT_BELOW,
  mcnemarTest,
  mergePairedOutcomes,
  NO_PAIRED_OUTCOMES,
  type McNemarOptions,
  type McNemarOutcome,
  type PairedOutcomes,
} from "./mcnemar.js";
export { addLossPair, pairedTTest, type PairedTOutcome } from "./paired-t.js";
export { regularizedIncompleteBeta, studentTTwoSided } from "./student-t.js";
export { twoProportionTest } from "./two-proportion.js";
