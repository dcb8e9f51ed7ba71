/** Standard normal tail, from the incomplete gamma: Pr(Z > z) = Q(1/2, z²/2)/2 for z >= 0. */
import { upperRegularizedGamma } from "./gamma.js";

/** Pr(Z > z) for a standard normal Z (scipy.stats.norm.sf), accurate in the far tail too. */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z < 0) return 1 - normalSf(-z);
  return 0.5 * upperRegularizedGamma(0.5, (z * z) / 2);
}
