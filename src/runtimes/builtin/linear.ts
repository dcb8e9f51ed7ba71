import type { Tensor } from "../../domain/tensor.js";
import type { LinearBuiltinModel } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { linearScores } from "./score.js";

export const linearRegression: BuiltinKindModule<LinearBuiltinModel> = {
  kind: "linear_regression",

  outputs: () => [{ name: "prediction", datatype: "FP32", shape: [-1] }],

  predict(
    model: LinearBuiltinModel,
    data: ArrayLike<number>,
    rows: number,
    outputs: readonly string[],
  ): Tensor[] {
    const predictions = new Float32Array(linearScores(model, data, rows));
    return outputs.map((name) => ({ name, datatype: "FP32", shape: [rows], data: predictions }));
  },
};
