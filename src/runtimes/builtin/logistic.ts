import type { Tensor } from "../../domain/tensor.js";
import type { LinearBuiltinModel } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { linearScores } from "./score.js";

/** 1 / (1 + e^-z), written so that neither branch overflows. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

export const logisticRegression: BuiltinKindModule<LinearBuiltinModel> = {
  kind: "logistic_regression",

  outputs: () => [
    { name: "probability", datatype: "FP32", shape: [-1] },
    { name: "label", datatype: "INT64", shape: [-1] },
  ],

  predict(
    model: LinearBuiltinModel,
    data: ArrayLike<number>,
    rows: number,
    outputs: readonly string[],
  ): Tensor[] {
    const scores = linearScores(model, data, rows);
    const [negative, positive] = model.classes ?? [0, 1];
    return outputs.map((name): Tensor => {
      if (name === "probability") {
        const probabilities = new Float32Array(rows);
        for (let r = 0; r < rows; r++) probabilities[r] = sigmoid(scores[r] as number);
        return { name, datatype: "FP32", shape: [rows], data: probabilities };
      }
      // Positive when P > 0.5, i.e. when the score is above 0; exactly 0.5 stays negative.
      // Two BigInts made once, not one per row.
      const yes = BigInt(positive);
      const no = BigInt(negative);
      const labels = new BigInt64Array(rows);
      for (let r = 0; r < rows; r++) labels[r] = (scores[r] as number) > 0 ? yes : no;
      return { name, datatype: "INT64", shape: [rows], data: labels };
    });
  },
};
