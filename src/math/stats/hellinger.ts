/**
 * Hellinger distance between two binned distributions, in [0, 1]:
 *   H = sqrt(1 - Σ sqrt(p_i q_i)) = sqrt(½ Σ (sqrt p_i - sqrt q_i)²)
 * (equal because Σp = Σq = 1); the second form is used as it subtracts no nearly equal numbers.
 *
 * Kind distance: drifted when H >= threshold (default 0.1).
 */
import { checkedBins } from "./input.js";
import { statResult, type BinnedPair, type BinnedStatTest, type StatResult } from "./test.js";

export function hellingerDistance(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  const bins = checkedBins("hellinger", { reference, current });
  let sum = 0;
  for (let i = 0; i < bins.reference.length; i++) {
    const d =
      Math.sqrt((bins.reference[i] as number) / bins.referenceTotal) -
      Math.sqrt((bins.current[i] as number) / bins.currentTotal);
    sum += d * d;
  }
  return Math.min(1, Math.sqrt(sum / 2));
}

export const hellingerTest: BinnedStatTest = {
  name: "hellinger",
  kind: "distance",
  defaultThreshold: 0.1,
  input: "binned",
  appliesTo: ["numerical", "categorical", "binary"],
  description: "Hellinger distance (in [0, 1])",
  run(pair: BinnedPair, threshold?: number): StatResult {
    return statResult(this, hellingerDistance(pair.reference, pair.current), threshold);
  },
};
