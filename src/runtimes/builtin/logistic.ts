import type { Tensor } from "../../domain/tensor.js";
import type { LinearBuiltinModel } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { binaryOutputs, linearScores } from "./score.js";

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
    return binaryOutputs(scores, model.classes, rows, outputs);
  },
};
