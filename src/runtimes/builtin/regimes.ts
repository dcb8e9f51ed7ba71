import type { Tensor } from "../../domain/tensor.js";
import { invalid, isBallastError } from "../../domain/errors.js";
import { classifyWindow } from "../../markets/regime-classifier.js";
import type { BuiltinKindModule } from "./kind.js";
import type { RegimeBuiltinModel, RegimeKind } from "./regime-format.js";

/**
 * A regime classifier: input `returns` FP64 [n, window] (each row a window of recent returns,
 * oldest first), outputs `probabilities` FP64 [n, k] and `regime` INT64 [n] (the index into the
 * model's `regimes.labels`). A row the model cannot read fails the request, naming the row.
 */
function regimeKind(kind: RegimeKind): BuiltinKindModule<RegimeBuiltinModel> {
  return {
    kind,
    inputs: (model) => [{ name: "returns", datatype: "FP64", shape: [-1, model.window] }],
    outputs: (model) => [
      { name: "probabilities", datatype: "FP64", shape: [-1, model.regimes.labels.length] },
      { name: "regime", datatype: "INT64", shape: [-1] },
    ],
    predict(model, data, rows, outputs): Tensor[] {
      const k = model.regimes.labels.length;
      const probabilities = new Float64Array(rows * k);
      const regime = new BigInt64Array(rows);
      for (let r = 0; r < rows; r++) {
        let reading;
        try {
          reading = classifyWindow(model.regimes, data, r * model.window, model.window);
        } catch (error) {
          if (!isBallastError(error)) throw error;
          throw invalid(`row ${r + 1}: ${error.message}`);
        }
        probabilities.set(reading.probabilities, r * k);
        regime[r] = BigInt(reading.regime);
      }
      return outputs.map((name) =>
        name === "regime"
          ? { name, datatype: "INT64", shape: [rows], data: regime }
          : { name, datatype: "FP64", shape: [rows, k], data: probabilities },
      );
    },
  };
}

export const markovSwitchingClassifier = regimeKind("markov-switching");
export const hmmClassifier = regimeKind("hmm");
export const rulesClassifier = regimeKind("regime-rules");
