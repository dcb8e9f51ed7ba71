import type { LinearBuiltinModel } from "./format.js";

/**
 * The linear predictor both kinds share: intercept + Σ weight_j · (x_j − mean_j) / std_j,
 * in float64 whatever the input precision, one value per row of the row-major `data`.
 */
export function linearScores(model: LinearBuiltinModel, data: ArrayLike<number>, rows: number): Float64Array {
  const { weights, intercept, scaling } = model;
  const n = weights.length;
  // Copied once into typed arrays, and the scaling test hoisted out of the loop; each term is
  // computed as before, so scores stay bit-for-bit what they were.
  const w = Float64Array.from(weights);
  const mean = scaling === undefined ? undefined : Float64Array.from(scaling.mean);
  const std = scaling === undefined ? undefined : Float64Array.from(scaling.std);
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let z = intercept;
    const offset = r * n;
    if (mean === undefined || std === undefined) {
      for (let j = 0; j < n; j++) z += (w[j] as number) * (data[offset + j] as number);
    } else {
      for (let j = 0; j < n; j++) {
        z += (w[j] as number) * (((data[offset + j] as number) - (mean[j] as number)) / (std[j] as number));
      }
    }
    scores[r] = z;
  }
  return scores;
}
