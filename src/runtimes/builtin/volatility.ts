import type { Tensor } from "../../domain/tensor.js";
import { forecastFromWindow } from "../../markets/specialists.js";
import type { BuiltinKindModule } from "./kind.js";
import type { VolatilityBuiltinModel, VolatilityKind } from "./volatility-format.js";

/**
 * A volatility specialist: input `returns` [n, window] (each row a window of recent returns,
 * oldest first), output `variance` FP64 [n, horizon]. A row whose forecast is not a positive
 * finite variance fails the whole request with an error naming the row (see specialists.ts).
 */
function volatilityKind(kind: VolatilityKind): BuiltinKindModule<VolatilityBuiltinModel> {
  return {
    kind,
    inputs: (model) => [{ name: "returns", datatype: model.input_datatype, shape: [-1, model.window] }],
    outputs: (model) => [{ name: "variance", datatype: "FP64", shape: [-1, model.horizon] }],
    predict(model, data, rows, outputs): Tensor[] {
      const { window, horizon } = model;
      const variance = new Float64Array(rows * horizon);
      for (let r = 0; r < rows; r++) {
        const path = forecastFromWindow(model.specialist, data, horizon, {
          from: r * window,
          width: window,
          row: r + 1,
        });
        variance.set(path, r * horizon);
      }
      return outputs.map((name) => ({ name, datatype: "FP64", shape: [rows, horizon], data: variance }));
    },
  };
}

export const garchSpecialist = volatilityKind("garch");
export const ewmaSpecialist = volatilityKind("ewma");
export const harRvSpecialist = volatilityKind("har-rv");
export const lastValueSpecialist = volatilityKind("last-value");
