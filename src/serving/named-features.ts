/**
 * The named-feature API (`/v1/models/{name}:predict`) for people who do not think in tensors:
 * rows of {feature: value} become the first input's [N, F] tensor through the signature's
 * feature names, and each output row becomes one prediction.
 */
import { invalid } from "../domain/errors.js";
import type { Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";
import type { JsonTensor } from "../domain/tensor-json.js";
import { isPlainObject, previewJson } from "../domain/json-value.js";

export type Instance = Record<string, unknown> | unknown[];

export function decodeInstances(body: unknown): Instance[] {
  if (!isPlainObject(body) || !Array.isArray(body.instances)) {
    throw invalid('the request body must be {"instances": [ {feature: value, …} or [values…], … ]}');
  }
  const instances = body.instances as unknown[];
  if (instances.length === 0) throw invalid("instances must not be empty");
  instances.forEach((row, i) => {
    if (!isPlainObject(row) && !Array.isArray(row)) {
      throw invalid(`instances[${i}] must be an object of named features or an array of values`);
    }
  });
  return instances as Instance[];
}

/** Named rows -> the model's single feature tensor. Extra keys in a row are ignored. */
export function instancesToTensor(instances: Instance[], signature: Signature): Tensor {
  const input = signature.inputs[0];
  const features = signature.features;
  if (
    signature.inputs.length !== 1 ||
    input === undefined ||
    features === undefined ||
    features.length === 0
  ) {
    throw invalid(
      "this model has no feature names in its signature; use the tensor API POST /v2/models/{name}/infer instead",
    );
  }
  if (input.datatype !== "FP32" && input.datatype !== "FP64") {
    throw invalid(`the named-feature API needs a FP32 or FP64 input; this model takes ${input.datatype}`);
  }
  const width = features.length;
  const data =
    input.datatype === "FP64"
      ? new Float64Array(instances.length * width)
      : new Float32Array(instances.length * width);
  instances.forEach((row, i) => {
    if (Array.isArray(row)) {
      if (row.length !== width) {
        throw invalid(
          `instances[${i}] has ${row.length} values but the model takes ${width} (${features.join(", ")})`,
        );
      }
      row.forEach((v, j) => (data[i * width + j] = featureValue(v, i, features[j] as string)));
    } else {
      features.forEach((f, j) => {
        if (!(f in row)) throw invalid(`instances[${i}] is missing feature '${f}'`);
        data[i * width + j] = featureValue(row[f], i, f);
      });
    }
  });
  return { name: input.name, datatype: input.datatype, shape: [instances.length, width], data };
}

function featureValue(v: unknown, row: number, feature: string): number {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw invalid(`instances[${row}].${feature} must be a finite number, got ${previewJson(v)}`);
  }
  return v;
}

/**
 * One prediction per row: the value itself when the model has one output of one value per row,
 * an array when it gives several values per row, an object keyed by output name otherwise.
 */
export function predictionsFromOutputs(outputs: JsonTensor[], rows: number): unknown[] {
  const perOutput = outputs.map((o) => ({ name: o.name, rows: splitRows(o, rows) }));
  const predictions: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    if (perOutput.length === 1) predictions.push(perOutput[0]?.rows[i]);
    else predictions.push(Object.fromEntries(perOutput.map((o) => [o.name, o.rows[i]])));
  }
  return predictions;
}

function splitRows(tensor: JsonTensor, rows: number): unknown[] {
  const width = rows === 0 ? 0 : tensor.data.length / rows;
  if (tensor.shape[0] !== rows || !Number.isInteger(width)) {
    // An output that is not per-row (a model-level scalar, say) is repeated as is.
    return Array.from({ length: rows }, () => tensor.data);
  }
  return Array.from({ length: rows }, (_, i) =>
    width === 1 ? tensor.data[i] : tensor.data.slice(i * width, (i + 1) * width),
  );
}
