import type { BuiltinModel } from "./format.js";

/**
 * The linear predictor both kinds share: intercept + Σ weight_j · (x_j − mean_j) / std_j,
 * in float64 whatever the input precision, one value per row of the row-major `data`.
 */
export function linearScores(model: BuiltinModel, data: ArrayLike<number>, rows: number): Float64Array {
  const { weights, intercept, scaling } = model;
  const n = weights.length;
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let z = intercept;
    const offset = r * n;
    for (let j = 0; j < n; j++) {
      const x = data[offset + j] as number;
      const scaled =
        scaling === undefined ? x : (x - (scaling.mean[j] as number)) / (scaling.std[j] as number);
      z += (weights[j] as number) * scaled;
    }
    scores[r] = z;
  }
  return scores;
}
