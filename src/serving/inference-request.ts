/**
 * An inference request checked against the signature of the version that will run it, before
 * the model sees it: unknown or missing inputs, wrong datatypes and shapes that cannot fit are
 * the caller's mistakes and come back as 400s that say which tensor is wrong.
 */
import { invalid } from "../domain/errors.js";
import type { Signature } from "../domain/model.js";
import type { Tensor, TensorSpec } from "../domain/tensor.js";
import { isPlainObject } from "../domain/json-value.js";
import { decodeTensor } from "../domain/tensor-json.js";

export interface InferenceRequest {
  readonly id: string | undefined;
  readonly parameters: Record<string, unknown> | undefined;
  readonly inputs: Tensor[];
  /** Requested output names; undefined means all. */
  readonly outputs: string[] | undefined;
}

/** Reads an `$inference_request` body. */
export function decodeInferenceRequest(body: unknown): InferenceRequest {
  if (!isPlainObject(body)) throw invalid("the request body must be a JSON object with an inputs array");
  const { id, parameters, inputs, outputs } = body;
  if (id !== undefined && typeof id !== "string") throw invalid("id must be a string");
  if (parameters !== undefined && !isPlainObject(parameters)) throw invalid("parameters must be an object");
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw invalid("inputs must be a non-empty array of tensors");
  const tensors = inputs.map((input, i) => decodeTensor(input, { where: `inputs[${i}]`, role: "input" }));
  if (tensors.length > 1) {
    const seen = new Set<string>();
    for (const t of tensors) {
      if (seen.has(t.name)) throw invalid(`input '${t.name}' is given twice`);
      seen.add(t.name);
    }
  }
  let wanted: string[] | undefined;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw invalid("outputs must be an array of {name} objects");
    wanted = outputs.map((o, i) => {
      if (!isPlainObject(o) || typeof o.name !== "string" || o.name.length === 0) {
        throw invalid(`outputs[${i}].name must be a non-empty string`);
      }
      if (o.parameters !== undefined && !isPlainObject(o.parameters)) {
        throw invalid(`outputs[${i}].parameters must be an object`);
      }
      return o.name;
    });
  }
  return {
    id: id as string | undefined,
    parameters: parameters as Record<string, unknown> | undefined,
    inputs: tensors,
    outputs: wanted,
  };
}

/** Throws a 400 naming the first way the request does not fit the signature. */
export function checkAgainstSignature(request: InferenceRequest, signature: Signature): void {
  for (const tensor of request.inputs) {
    const spec = signature.inputs.find((s) => s.name === tensor.name);
    if (spec === undefined) {
      throw invalid(
        `input '${tensor.name}' is not an input of this model; it takes ${names(signature.inputs)}`,
      );
    }
    checkTensor(tensor, spec);
  }
  for (const spec of signature.inputs) {
    if (!request.inputs.some((t) => t.name === spec.name)) {
      throw invalid(`input '${spec.name}' is missing (${spec.datatype} [${spec.shape.join(", ")}])`);
    }
  }
  for (const name of request.outputs ?? []) {
    if (!signature.outputs.some((o) => o.name === name)) {
      throw invalid(`output '${name}' is not an output of this model; it gives ${names(signature.outputs)}`);
    }
  }
}

/** FP32 and FP64 stand in for each other: JSON numbers carry no width, so the width is the model's. */
const isFloat = (datatype: string): boolean => datatype === "FP32" || datatype === "FP64";

function checkTensor(tensor: Tensor, spec: TensorSpec): void {
  if (tensor.datatype !== spec.datatype && !(isFloat(tensor.datatype) && isFloat(spec.datatype))) {
    throw invalid(`input '${tensor.name}': datatype must be ${spec.datatype}, got ${tensor.datatype}`);
  }
  const fits =
    tensor.shape.length === spec.shape.length &&
    spec.shape.every((d, i) => d === -1 || d === tensor.shape[i]);
  if (!fits) {
    throw invalid(
      `input '${tensor.name}': shape [${tensor.shape.join(", ")}] does not fit [${spec.shape.join(", ")}] (-1 is any size)`,
    );
  }
}

/**
 * The request's tensors in the datatypes the model declares: an FP64 tensor for an FP32 input
 * is rounded to FP32 (and FP32 widened to FP64), so a caller that speaks one width (a router
 * forwarding to specialists served by different frameworks) reaches every model. Tensors that
 * already fit are passed through without a copy.
 */
export function conformFloats(inputs: readonly Tensor[], signature: Signature): Tensor[] {
  return inputs.map((tensor) => {
    const spec = signature.inputs.find((s) => s.name === tensor.name);
    if (spec === undefined || spec.datatype === tensor.datatype || !isFloat(tensor.datatype)) return tensor;
    if (spec.datatype === "FP32")
      return { ...tensor, datatype: "FP32", data: Float32Array.from(tensor.data as Float64Array) };
    if (spec.datatype === "FP64")
      return { ...tensor, datatype: "FP64", data: Float64Array.from(tensor.data as Float32Array) };
    return tensor;
  });
}

function names(specs: readonly TensorSpec[]): string {
  return specs.map((s) => `'${s.name}'`).join(", ");
}
