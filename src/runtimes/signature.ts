/**
 * Checks requests against a model's signature before a runtime sees them, so a bad request
 * fails with a message that names the input rather than an error from deep inside a runtime.
 */
import { invalid } from "../domain/errors.js";
import type { Signature } from "../domain/model.js";
import { allocateData, elementCount, type Tensor, type TensorSpec } from "../domain/tensor.js";
import { dataMatchesDatatype } from "./tensor-data.js";

const names = (specs: readonly TensorSpec[]): string => specs.map((s) => `'${s.name}'`).join(", ");
const shapeText = (shape: readonly number[]): string => `[${shape.join(", ")}]`;

function checkShape(tensor: Tensor, spec: TensorSpec): void {
  const { name, shape } = tensor;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(`input '${name}' has shape ${shapeText(shape)}; dimensions must be non-negative integers`, {
      input: name,
    });
  }
  // An empty declared shape means the model did not say (onnxruntime reports unknown shapes so).
  if (spec.shape.length === 0) return;
  const fits = shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === shape[i]);
  if (!fits) {
    throw invalid(
      `input '${name}' has shape ${shapeText(shape)} but the model expects ${shapeText(spec.shape)} (-1 is any size)`,
      { input: name, expected: spec.shape, actual: shape },
    );
  }
}

/** Throws `invalid` unless `inputs` are exactly the signature's inputs, well formed. */
export function checkInputs(signature: Signature, inputs: readonly Tensor[]): void {
  const seen = new Set<string>();
  for (const tensor of inputs) {
    const { name } = tensor;
    const spec = signature.inputs.find((s) => s.name === name);
    if (spec === undefined) {
      throw invalid(`unknown input '${name}'; the model takes ${names(signature.inputs)}`, { input: name });
    }
    if (seen.has(name)) throw invalid(`input '${name}' is given more than once`, { input: name });
    seen.add(name);
    if (tensor.datatype !== spec.datatype) {
      throw invalid(`input '${name}' is ${tensor.datatype} but the model expects ${spec.datatype}`, {
        input: name,
      });
    }
    checkShape(tensor, spec);
    if (!dataMatchesDatatype(tensor.datatype, tensor.data)) {
      throw invalid(
        `input '${name}' is ${tensor.datatype} but its data is a ${tensor.data.constructor.name}`,
        {
          input: name,
        },
      );
    }
    const expected = elementCount(tensor.shape);
    if (tensor.data.length !== expected) {
      throw invalid(
        `input '${name}' has shape ${shapeText(tensor.shape)} (${expected} values) but ${tensor.data.length} data values`,
        { input: name },
      );
    }
  }
  if (seen.size === signature.inputs.length) return;
  const missing = signature.inputs.filter((s) => !seen.has(s.name));
  if (missing.length > 0) {
    throw invalid(`missing input ${names(missing)}; the model takes ${names(signature.inputs)}`, {
      missing: missing.map((s) => s.name),
    });
  }
}

/** The outputs to compute: all of them, or the requested ones after checking they exist. */
export function selectOutputs(signature: Signature, wanted: readonly string[] | undefined): string[] {
  if (wanted === undefined) return signature.outputs.map((s) => s.name);
  for (const name of wanted) {
    if (!signature.outputs.some((s) => s.name === name)) {
      throw invalid(`unknown output '${name}'; the model gives ${names(signature.outputs)}`, {
        output: name,
      });
    }
  }
  return [...new Set(wanted)];
}

/**
 * Model files rarely name their feature columns; the registered signature may. Keeps those
 * names when they fit the first input's last dimension.
 */
export function withFeatures(signature: Signature, registered: Signature | null): Signature {
  const features = registered?.features;
  if (features === undefined) return signature;
  const first = signature.inputs[0];
  const columns = first?.shape.at(-1);
  if (first === undefined || (columns !== undefined && columns !== -1 && columns !== features.length)) {
    throw invalid(
      `the registered signature names ${features.length} features but the model's first input ` +
        (first === undefined ? "does not exist" : `'${first.name}' has ${columns} columns`),
    );
  }
  return { ...signature, features };
}

/** One request of zeros shaped by the specs, variable dimensions set to 1. */
export function zeroInputs(specs: readonly TensorSpec[]): Tensor[] {
  return specs.map((spec) => {
    const shape = spec.shape.map((d) => (d === -1 ? 1 : d));
    return {
      name: spec.name,
      datatype: spec.datatype,
      shape,
      data: allocateData(spec.datatype, elementCount(shape)),
    };
  });
}
