import type { Tensor } from "../../domain/tensor.js";
import type { LinearBuiltinModel, Tree } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { binaryOutputs } from "./score.js";

/** Base score plus every tree's leaf for each row of the row-major `data`, in float64. */
export function treeScores(model: LinearBuiltinModel, data: ArrayLike<number>, rows: number): Float64Array {
  const n = model.features.length;
  const trees = model.trees as readonly Tree[];
  const scores = new Float64Array(rows).fill(model.intercept);
  for (const tree of trees) {
    const { feature, threshold, left, right, value } = tree;
    for (let r = 0; r < rows; r++) {
      let node = 0;
      let f = feature[0] as number;
      while (f !== -1) {
        node =
          (data[r * n + f] as number) <= (threshold[node] as number)
            ? (left[node] as number)
            : (right[node] as number);
        f = feature[node] as number;
      }
      scores[r] = (scores[r] as number) + (value[node] as number);
    }
  }
  return scores;
}

/** Outputs as the linear kinds name them: probability + label (binary), prediction (regression). */
export const gradientBoostedTrees: BuiltinKindModule<LinearBuiltinModel> = {
  kind: "gradient_boosted_trees",

  outputs: (model) =>
    model.objective === "regression"
      ? [{ name: "prediction", datatype: "FP32", shape: [-1] }]
      : [
          { name: "probability", datatype: "FP32", shape: [-1] },
          { name: "label", datatype: "INT64", shape: [-1] },
        ],

  predict(
    model: LinearBuiltinModel,
    data: ArrayLike<number>,
    rows: number,
    outputs: readonly string[],
  ): Tensor[] {
    const scores = treeScores(model, data, rows);
    if (model.objective === "regression") {
      const predictions = new Float32Array(scores);
      return outputs.map((name) => ({ name, datatype: "FP32", shape: [rows], data: predictions }));
    }
    return binaryOutputs(scores, model.classes, rows, outputs);
  },
};
