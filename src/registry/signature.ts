/**
 * Checks a signature before it is stored with a version: whatever comes from a user, a manifest
 * or a runtime's inspection must be something the serving layer can rely on without rechecking.
 */
import type { Signature } from "../domain/model.js";
import { DATATYPES, isDatatype, type TensorSpec } from "../domain/tensor.js";
import { isPlainObject } from "../domain/json-value.js";
import { invalidField, shown } from "./field.js";

export function checkSignature(value: unknown, field = "signature"): Signature {
  if (!isPlainObject(value))
    throw invalidField(field, `expected an object with inputs and outputs, got ${shown(value)}`);
  const inputs = checkTensorSpecs(value.inputs, `${field}.inputs`);
  const outputs = checkTensorSpecs(value.outputs, `${field}.outputs`);
  if (value.features === undefined) return { inputs, outputs };
  return { inputs, outputs, features: checkFeatures(value.features, inputs, `${field}.features`) };
}

/**
 * A signature given at registration may narrow what the artifact declares (rename nothing, add
 * feature names, pin shapes), but may not name tensors the artifact does not have: those would
 * only fail later, at the first request.
 */
export function checkSignatureAgainst(given: Signature, inspected: Signature, field = "signature"): void {
  for (const side of ["inputs", "outputs"] as const) {
    const known = new Set(inspected[side].map((t) => t.name));
    given[side].forEach((tensor, i) => {
      if (!known.has(tensor.name)) {
        throw invalidField(
          `${field}.${side}[${i}].name`,
          `the artifact has no ${side === "inputs" ? "input" : "output"} named "${tensor.name}" ` +
            `(it has: ${[...known].join(", ") || "none"})`,
        );
      }
    });
  }
}

function checkTensorSpecs(value: unknown, field: string): TensorSpec[] {
  if (!Array.isArray(value)) throw invalidField(field, `expected a list of tensors, got ${shown(value)}`);
  if (value.length === 0) throw invalidField(field, "expected at least one tensor");
  const seen = new Set<string>();
  return value.map((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (!isPlainObject(item)) throw invalidField(at, `expected {name, datatype, shape}, got ${shown(item)}`);
    const { name, datatype, shape } = item;
    if (typeof name !== "string" || name === "")
      throw invalidField(`${at}.name`, "expected a non-empty string");
    if (seen.has(name))
      throw invalidField(`${at}.name`, `"${name}" appears twice; tensor names must be unique`);
    seen.add(name);
    if (!isDatatype(datatype)) {
      throw invalidField(`${at}.datatype`, `${shown(datatype)} is not one of ${DATATYPES.join(", ")}`);
    }
    if (!Array.isArray(shape))
      throw invalidField(`${at}.shape`, `expected a list of dimensions, got ${shown(shape)}`);
    shape.forEach((d: unknown, k) => {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < -1) {
        throw invalidField(
          `${at}.shape[${k}]`,
          `${shown(d)} is not a dimension (an integer >= 0, or -1 for any)`,
        );
      }
    });
    return { name, datatype, shape: [...(shape as number[])] };
  });
}

function checkFeatures(value: unknown, inputs: readonly TensorSpec[], field: string): string[] {
  if (!Array.isArray(value))
    throw invalidField(field, `expected a list of feature names, got ${shown(value)}`);
  const seen = new Set<string>();
  value.forEach((name: unknown, i) => {
    if (typeof name !== "string" || name === "")
      throw invalidField(`${field}[${i}]`, "expected a non-empty string");
    if (seen.has(name))
      throw invalidField(`${field}[${i}]`, `"${name}" appears twice; feature names must be unique`);
    seen.add(name);
  });
  // Features name the columns of the first input, so they need a last dimension to name.
  const first = inputs[0];
  const columns = first?.shape[first.shape.length - 1];
  if (first === undefined || columns === undefined) {
    throw invalidField(
      field,
      "features name the columns of the first input, which needs at least one dimension",
    );
  }
  if (columns !== -1 && columns !== value.length) {
    throw invalidField(
      field,
      `${value.length} feature names for ${columns} columns: the first input "${first.name}" has shape ` +
        `[${first.shape.join(", ")}]`,
    );
  }
  return value as string[];
}
