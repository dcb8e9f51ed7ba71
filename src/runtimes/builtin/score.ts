import type { Tensor } from "../../domain/tensor.js";
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

/** 1 / (1 + e^-z), written so that neither branch overflows. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * A binary classifier's outputs from its scores (log-odds): `probability` FP32, and `label`
 * INT64, positive when P > 0.5, i.e. when the score is above 0; exactly 0.5 stays negative.
 */
export function binaryOutputs(
  scores: Float64Array,
  classes: readonly [number, number] | undefined,
  rows: number,
  outputs: readonly string[],
): Tensor[] {
  const [negative, positive] = classes ?? [0, 1];
  return outputs.map((name): Tensor => {
    if (name === "probability") {
      const probabilities = new Float32Array(rows);
      for (let r = 0; r < rows; r++) probabilities[r] = sigmoid(scores[r] as number);
      return { name, datatype: "FP32", shape: [rows], data: probabilities };
    }
    // Two BigInts made once, not one per row.
    const yes = BigInt(positive);
    const no = BigInt(negative);
    const labels = new BigInt64Array(rows);
    for (let r = 0; r < rows; r++) labels[r] = (scores[r] as number) > 0 ? yes : no;
    return { name, datatype: "INT64", shape: [rows], data: labels };
  });
}
