/**
 * Jensen–Shannon DISTANCE (the square root of the divergence) between two binned distributions,
 * in log base 2 so it lies in [0, 1]: scipy.spatial.distance.jensenshannon(p, q, base=2).
 * (scipy's default is the natural log, whose distance tops out at sqrt(ln 2) ≈ 0.833; base 2
 * makes 1 mean "disjoint supports".) The base is reported in the result's detail as `logBase`.
 *
 * Kind distance: drifted when distance >= threshold (default 0.1).
 */
import { checkedBins } from "./input.js";
import { statResult, type BinnedPair, type BinnedStatTest, type StatResult } from "./test.js";

export const JENSEN_SHANNON_LOG_BASE = 2;

/** x·ln(x/y) as scipy.special.rel_entr (0 when x = 0). */
const relEntr = (x: number, y: number): number => (x > 0 && y > 0 ? x * Math.log(x / y) : 0);

export function jensenShannonDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const bins = checkedBins("jensen-shannon", { reference, current });
  let left = 0;
  let right = 0;
  for (let i = 0; i < bins.reference.length; i++) {
    const p = (bins.reference[i] as number) / bins.referenceTotal;
    const q = (bins.current[i] as number) / bins.currentTotal;
    const m = (p + q) / 2;
    left += relEntr(p, m);
    right += relEntr(q, m);
  }
  const divergence = (left + right) / Math.log(JENSEN_SHANNON_LOG_BASE) / 2;
  // Rounding can leave -1e-17 for identical inputs; the distance is 0 there, not NaN.
  return Math.min(1, Math.sqrt(Math.max(0, divergence)));
}

export const jensenShannonTest: BinnedStatTest = {
  name: "jensen-shannon",
  kind: "distance",
  defaultThreshold: 0.1,
  input: "binned",
  appliesTo: ["numerical", "categorical", "binary"],
  description: "Jensen–Shannon distance, log base 2 (in [0, 1])",
  run(pair: BinnedPair, threshold?: number): StatResult {
    return statResult(this, jensenShannonDistance(pair.reference, pair.current), threshold, {
      logBase: JENSEN_SHANNON_LOG_BASE,
    });
  },
};
