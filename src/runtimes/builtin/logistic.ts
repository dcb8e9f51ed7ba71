import type { Tensor } from "../../domain/tensor.js";
import type { BuiltinModel } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { linearScores } from "./score.js";

/** 1 / (1 + e^-z), written so that neither branch overflows. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export const logisticRegression: BuiltinKindModule = {
  kind: "logistic_regression",

  outputs: () => [
    { name: "probability", datatype: "FP32", shape: [-1] },
    { name: "label", datatype: "INT64", shape: [-1] },
  ],

  predict(model: BuiltinModel, data: ArrayLike<number>, rows: number, outputs: readonly string[]): Tensor[] {
    const scores = linearScores(model, data, rows);
    const [negative, positive] = model.classes ?? [0, 1];
    return outputs.map((name): Tensor => {
      if (name === "probability") {
        return { name, datatype: "FP32", shape: [rows], data: Float32Array.from(scores, sigmoid) };
      }
      // Positive when P > 0.5, i.e. when the score is above 0; exactly 0.5 stays negative.
      const labels = BigInt64Array.from(scores, (z) => BigInt(z > 0 ? positive : negative));
      return { name, datatype: "INT64", shape: [rows], data: labels };
    });
  },
};
