/**
 * Requests as named rows for monitors: named-feature instances are rows already (arrays are
 * named through the signature's features); a tensor request is read through the signature's
 * feature names when its first input is a [N, F] matrix, and gives no rows otherwise.
 */
import { isPlainObject } from "../domain/json-value.js";
import type { Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";
/**
 * A named-feature instance: `{feature: value}`, or values in the signature's feature order (a
 * model without feature names gets arrays or scalars: rows without names, so no features).
 */
type Instance = Readonly<Record<string, unknown>> | readonly unknown[] | number | boolean | string;

export function instanceRows(
  instances: readonly Instance[],
  signature: Signature,
): Record<string, unknown>[] {
  const features = signature.features ?? [];
  return instances.map((row) => {
    if (isPlainObject(row)) return row;
    if (!Array.isArray(row)) return {};
    const named: Record<string, unknown> = {};
    features.forEach((f, j) => (named[f] = row[j]));
    return named;
  });
}

export function tensorRows(inputs: readonly Tensor[], signature: Signature): Record<string, unknown>[] {
  const features = signature.features;
  const first = signature.inputs[0];
  const tensor = inputs.find((t) => t.name === first?.name);
  if (features === undefined || tensor === undefined || tensor.shape.length !== 2) return [];
  const [rows, width] = tensor.shape as [number, number];
  if (width !== features.length) return [];
  const data = tensor.data as ArrayLike<unknown>;
  const out: Record<string, unknown>[] = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const row: Record<string, unknown> = {};
    for (let j = 0; j < width; j++) {
      const v = data[i * width + j];
      row[features[j] as string] = typeof v === "bigint" ? Number(v) : v;
    }
    out[i] = row;
  }
  return out;
}
