/**
 * Fixed-horizon two-proportion z-test for two arms' rates, speaking in arms (trials, successes)
 * and delegating to the drift monitor's pooled z-test, which it matches exactly. Valid only for
 * one look at a sample size fixed in advance: repeated looks inflate its error (see the peeking
 * test in test/math/experiments); sequential decisions belong to ab-test.ts and canary-gate.ts.
 */
import { twoProportionZTest, type ZTestOutcome } from "../stats/z-test.js";
import { checkedRateArm, type RateArm } from "./effect.js";

/** z > 0 when B's rate is above A's; two-sided p. */
export function twoProportionTest(a: RateArm, b: RateArm): ZTestOutcome {
  checkedRateArm(a, "arm A");
  checkedRateArm(b, "arm B");
  return twoProportionZTest([a.trials - a.successes, a.successes], [b.trials - b.successes, b.successes]);
}
