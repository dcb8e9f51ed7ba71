/**
 * Two-proportion z-test (pooled) for binary features. Input: exactly two bins,
 * [count of negatives (0/false), count of positives (1/true)] per side; collapse missing or
 * unseen bins before calling. z = (p_cur - p_ref) / sqrt(p̂(1 - p̂)(1/n_ref + 1/n_cur)) with p̂
 * the pooled positive rate; two-sided p = 2·Pr(Z > |z|).
 *
 * When both samples are all-negative or all-positive, p̂(1 - p̂) = 0 and z is undefined; the two
 * samples are then identical in distribution, so z = 0 and p = 1 (no drift).
 *
 * Kind p_value: drifted when p < threshold (default 0.05).
 */
import { invalid } from "../../domain/errors.js";
import { checkedBins } from "./input.js";
import { normalSf } from "./normal.js";
import { statResult, type BinnedPair, type BinnedStatTest, type StatResult } from "./test.js";

export interface ZTestOutcome {
  readonly z: number;
  readonly pValue: number;
}

export function twoProportionZTest(reference: ArrayLike<number>, current: ArrayLike<number>): ZTestOutcome {
  if (reference.length !== 2 || current.length !== 2) {
    throw invalid(
      `z-test: needs exactly two bins per side ([negatives, positives]), got ${reference.length} and ${current.length}; use chi-square for more categories`,
    );
  }
  const bins = checkedBins("z-test", { reference, current });
  const nRef = bins.referenceTotal;
  const nCur = bins.currentTotal;
  const posRef = bins.reference[1] as number;
  const posCur = bins.current[1] as number;
  const pooled = (posRef + posCur) / (nRef + nCur);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nRef + 1 / nCur));
  if (!(se > 0)) return { z: 0, pValue: 1 };
  const z = (posCur / nCur - posRef / nRef) / se;
  return { z, pValue: Math.min(1, 2 * normalSf(Math.abs(z))) };
}

export const zTest: BinnedStatTest = {
  name: "z-test",
  kind: "p_value",
  defaultThreshold: 0.05,
  input: "binned",
  appliesTo: ["binary"],
  description: "two-proportion z-test (pooled), two-sided p-value, for binary features",
  run(pair: BinnedPair, threshold?: number): StatResult {
    const outcome = twoProportionZTest(pair.reference, pair.current);
    return statResult(this, outcome.pValue, threshold, { z: outcome.z });
  },
};
