/**
 * Population Stability Index on binned counts:
 *   PSI = Σ (c_i - r_i) · ln(c_i / r_i)
 * with r_i, c_i the reference and current proportions. An empty bin on either side would make a
 * term infinite, so (as Evidently does) a zero proportion is replaced by ε = 0.0001 before the
 * sum; proportions are not renormalised afterwards. Natural log.
 *
 * Kind distance: drifted when PSI >= threshold (default 0.1; 0.1–0.25 is the usual "some shift",
 * above 0.25 "major shift").
 */
import { checkedBins } from "./input.js";
import { statResult, type BinnedPair, type BinnedStatTest, type StatResult } from "./test.js";

export const PSI_EMPTY_BIN_PROPORTION = 0.0001;

export function populationStabilityIndex(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const bins = checkedBins("psi", { reference, current });
  let psi = 0;
  for (let i = 0; i < bins.reference.length; i++) {
    const r = (bins.reference[i] as number) / bins.referenceTotal || PSI_EMPTY_BIN_PROPORTION;
    const c = (bins.current[i] as number) / bins.currentTotal || PSI_EMPTY_BIN_PROPORTION;
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

export const psiTest: BinnedStatTest = {
  name: "psi",
  kind: "distance",
  defaultThreshold: 0.1,
  input: "binned",
  appliesTo: ["numerical", "categorical", "binary"],
  description: "Population Stability Index over the reference bins (empty bins smoothed to 0.0001)",
  run(pair: BinnedPair, threshold?: number): StatResult {
    return statResult(this, populationStabilityIndex(pair.reference, pair.current), threshold);
  },
};
