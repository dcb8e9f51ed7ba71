/**
 * The named-feature API (`/v1/models/{name}:predict`), KServe's V1 data plane (TensorFlow
 * Serving's row format): `{"instances": [...]}` or `{"inputs": [...]}`, one entry per row,
 * answered with `{"predictions": [...]}`.
 *
 * - With feature names in the signature, rows of {feature: value} (or values in feature order)
 *   become the first input's [N, F] tensor.
 * - Without them, a single-input model takes each instance as one row of its input as it is: a
 *   (nested) array, or a scalar for a [N] input, so the tensor is [N, ...instance dims], as KServe
 *   hands instances to a model unchanged.
 *
 * Each output row becomes one prediction.
 */
import { invalid } from "../domain/errors.js";
import type { Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";
import { decodeTensor, type JsonTensor } from "../domain/tensor-json.js";
import { isPlainObject, previewJson } from "../domain/json-value.js";

/** A named-feature row, values in feature order, a nested array or a scalar (unnamed inputs). */
export type Instance = Record<string, unknown> | unknown[] | number | boolean | string;

/**
 * The rows of a V1 body. `inputs` is read as `instances` (KServe accepts either); as an object it
 * may name the model's one input (`{"inputs": {"input": [[...], ...]}}`, TF Serving's columnar form).
 */
export function decodeInstances(body: unknown): Instance[] {
  const usage =
    'the request body must be {"instances": [ {feature: value, …} or [values…], … ]} or {"inputs": [ … ]}';
  if (!isPlainObject(body)) throw invalid(usage);
  if (body.instances !== undefined && body.inputs !== undefined) {
    throw invalid('give either "instances" or "inputs", not both');
  }
  const field = body.instances !== undefined ? "instances" : "inputs";
  let rows = body[field];
  if (field === "inputs" && isPlainObject(rows)) {
    const names = Object.keys(rows);
    if (names.length !== 1) throw invalid("inputs as an object must name exactly one input");
    rows = rows[names[0] as string];
  }
  if (!Array.isArray(rows)) throw invalid(usage);
  if (rows.length === 0) throw invalid(`${field} must not be empty`);
  rows.forEach((row, i) => {
    const scalar = typeof row === "number" || typeof row === "boolean" || typeof row === "string";
    if (!isPlainObject(row) && !Array.isArray(row) && !scalar) {
      throw invalid(`${field}[${i}] must be an object of named features, an array of values or a value`);
    }
  });
  return rows as Instance[];
}

/** Named rows -> the model's single feature tensor. Extra keys in a row are ignored. */
export function instancesToTensor(instances: Instance[], signature: Signature): Tensor {
  const input = signature.inputs[0];
  const features = signature.features;
  if (signature.inputs.length !== 1 || input === undefined) {
    throw invalid(
      `this model takes ${signature.inputs.length} inputs; /v1 serves single-input models, use the tensor API POST /v2/models/{name}/infer instead`,
    );
  }
  if (features === undefined || features.length === 0) return unnamedTensor(instances, signature);
  if (input.datatype !== "FP32" && input.datatype !== "FP64") {
    throw invalid(`the named-feature API needs a FP32 or FP64 input; this model takes ${input.datatype}`);
  }
  const width = features.length;
  const data =
    input.datatype === "FP64"
      ? new Float64Array(instances.length * width)
      : new Float32Array(instances.length * width);
  instances.forEach((row, i) => {
    if (!Array.isArray(row) && !isPlainObject(row)) {
      throw invalid(`instances[${i}] must be an object of named features or an array of values`);
    }
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

/**
 * Instances of a model without feature names: each is one row of its single input, all of the
 * same shape, matching the input's fixed dimensions (-1 takes any size).
 */
function unnamedTensor(instances: Instance[], signature: Signature): Tensor {
  const input = signature.inputs[0] as Signature["inputs"][number];
  if (instances.some((row) => isPlainObject(row))) {
    throw invalid(
      "this model has no feature names in its signature; send each instance as an array of values in input order, or use POST /v2/models/{name}/infer",
    );
  }
  const dims = instanceDims(instances[0]);
  instances.forEach((row, i) => {
    const own = instanceDims(row);
    if (own.join() !== dims.join()) {
      throw invalid(
        `instances[${i}] has shape [${own.join(", ")}] but instances[0] has [${dims.join(", ")}]; every instance must have the same shape`,
      );
    }
  });
  const expected = input.shape.slice(1);
  const fits =
    input.shape.length === 0 ||
    (expected.length === dims.length && expected.every((d, j) => d < 0 || d === dims[j]));
  if (!fits) {
    throw invalid(
      `each instance has shape [${dims.join(", ")}] but input '${input.name}' takes [${expected.map((d) => (d < 0 ? "?" : d)).join(", ")}] per row`,
    );
  }
  return decodeTensor(
    { name: input.name, datatype: input.datatype, shape: [instances.length, ...dims], data: instances },
    { where: "instances", role: "input" },
  );
}

/** The dimensions of a nested array (a scalar has none), following its first elements. */
function instanceDims(value: unknown): number[] {
  const dims: number[] = [];
  let current = value;
  while (Array.isArray(current)) {
    dims.push(current.length);
    current = current[0];
  }
  return dims;
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
