/**
 * Pearson chi-square test of homogeneity on binned counts: the 2×k contingency table
 * (reference row, current row) exactly as scipy.stats.chi2_contingency(table, correction=False)
 * tests it: expected = row total · column total / grand total, statistic Σ (O - E)²/E,
 * k - 1 degrees of freedom, p = Q((k - 1)/2, statistic/2). (We test homogeneity of the two
 * samples, not goodness of fit of the current sample to fixed reference proportions, so a small
 * reference counts as the uncertainty it is.)
 *
 * Bins empty on both sides are dropped (they carry no information and would make E = 0). With a
 * single non-empty bin left there is nothing to compare: statistic 0, p-value 1, as scipy returns.
 *
 * Kind p_value: drifted when p < threshold (default 0.05).
 */
import { upperRegularizedGamma } from "./gamma.js";
import { checkedBins } from "./input.js";
import { statResult, type BinnedPair, type BinnedStatTest, type StatResult } from "./test.js";

export interface ChiSquareOutcome {
  readonly statistic: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
}

export function chiSquareHomogeneity(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
): ChiSquareOutcome {
  const bins = checkedBins("chi-square", { reference, current });
  const total = bins.referenceTotal + bins.currentTotal;
  let statistic = 0;
  let kept = 0;
  for (let i = 0; i < bins.reference.length; i++) {
    const r = bins.reference[i] as number;
    const c = bins.current[i] as number;
    const column = r + c;
    if (column === 0) continue;
    kept += 1;
    const expectedR = (bins.referenceTotal * column) / total;
    const expectedC = (bins.currentTotal * column) / total;
    statistic += (r - expectedR) ** 2 / expectedR + (c - expectedC) ** 2 / expectedC;
  }
  const degreesOfFreedom = kept - 1;
  if (degreesOfFreedom === 0) return { statistic: 0, degreesOfFreedom, pValue: 1 };
  return { statistic, degreesOfFreedom, pValue: upperRegularizedGamma(degreesOfFreedom / 2, statistic / 2) };
}

export const chiSquareTest: BinnedStatTest = {
  name: "chi-square",
  kind: "p_value",
  defaultThreshold: 0.05,
  input: "binned",
  appliesTo: ["categorical", "binary"],
  description:
    "Pearson chi-square homogeneity p-value on the 2×k table (scipy chi2_contingency, no correction)",
  run(pair: BinnedPair, threshold?: number): StatResult {
    const outcome = chiSquareHomogeneity(pair.reference, pair.current);
    return statResult(this, outcome.pValue, threshold, {
      statistic: outcome.statistic,
      degreesOfFreedom: outcome.degreesOfFreedom,
    });
  },
};
