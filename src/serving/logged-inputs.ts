/**
 * What a request leaves in the prediction log. Tensor data and named features were checked
 * before the model ran (flat values, nesting ≤ 32), so they are logged whole. Everything else a
 * client may send along, tensor `parameters` and fields the model ignores, is free-form JSON:
 * it is kept when it is within bounds and replaced by a note that it was truncated otherwise,
 * so no request can leave a row that cannot be serialised (a 5,000-deep object overflows
 * JSON.stringify) or that holds megabytes nobody asked to keep.
 *
 * Each function also estimates the row's size in memory, cheaply (element counts, string
 * lengths), for the log's byte bound.
 */
import { measureJson, type JsonBounds } from "../domain/json-value.js";
import type { Tensor } from "../domain/tensor.js";
import type { JsonTensor } from "../domain/tensor-json.js";
import type { Instance } from "./named-features.js";

/** Bounds on each free-form value logged (a tensor's parameters, an extra field of an instance). */
export const LOGGED_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxBytes: 16 * 1024 };

export interface LoggedInputs {
  readonly inputs: Record<string, unknown>;
  /** Estimated bytes the inputs hold. */
  readonly bytes: number;
}

/** Per value or tensor: object headers, names, the row's other columns. */
const OVERHEAD = 64;
/** A JSON number or boolean held in an array. */
const ELEMENT = 8;

/** The protocol's own fields of a request tensor, checked when it was decoded. */
const TENSOR_FIELDS = new Set(["name", "datatype", "shape", "data"]);

/**
 * The tensors as the client sent them (`raw`, already decoded into `decoded`, so known to be
 * objects), with any other field bounded. Objects are copied only when something is truncated.
 */
export function loggedTensors(raw: readonly unknown[], decoded: readonly Tensor[]): LoggedInputs {
  let bytes = 0;
  let tensors: unknown[] | undefined;
  raw.forEach((item, i) => {
    const tensor = item as Record<string, unknown>;
    bytes += OVERHEAD + dataBytes(decoded[i]);
    let copy: Record<string, unknown> | undefined;
    for (const key in tensor) {
      if (TENSOR_FIELDS.has(key)) continue;
      const bounded = boundedValue(key, tensor[key]);
      bytes += bounded.bytes;
      if (bounded.note !== undefined) {
        copy ??= { ...tensor };
        copy[key] = bounded.note;
      }
    }
    if (copy !== undefined) {
      tensors ??= [...raw];
      tensors[i] = copy;
    }
  });
  return { inputs: { tensors: tensors ?? raw }, bytes };
}

/** Named-feature rows; features are numbers, other fields are bounded like parameters. */
export function loggedInstances(instances: readonly Instance[]): LoggedInputs {
  let bytes = 0;
  let rows: Instance[] | undefined;
  instances.forEach((row, i) => {
    bytes += OVERHEAD;
    if (Array.isArray(row)) {
      // Every value was checked to be a number or a boolean before the model ran; V1 rows of a
      // multi-dimensional input nest (an image row), so count the leaves.
      bytes += leafCount(row) * ELEMENT;
      return;
    }
    if (typeof row !== "object") {
      // A V1 row of a one-column input is a bare value.
      bytes += typeof row === "string" ? row.length : ELEMENT;
      return;
    }
    let copy: Record<string, unknown> | undefined;
    for (const key in row) {
      const value = row[key];
      bytes += key.length;
      if (typeof value === "string") bytes += value.length;
      else if (typeof value !== "object" || value === null) bytes += ELEMENT;
      else {
        const bounded = boundedValue(key, value);
        bytes += bounded.bytes;
        if (bounded.note !== undefined) {
          copy ??= { ...row };
          copy[key] = bounded.note;
        }
      }
    }
    if (copy !== undefined) {
      rows ??= [...instances];
      rows[i] = copy;
    }
  });
  return { inputs: { instances: rows ?? instances }, bytes };
}

/** Leaves of a nested array, without recursion (the body parser bounds the depth anyway). */
function leafCount(row: readonly unknown[]): number {
  let leaves = 0;
  const pending: (readonly unknown[])[] = [row];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    for (const value of next) {
      if (Array.isArray(value)) pending.push(value);
      else leaves += 1;
    }
  }
  return leaves;
}

/** Estimated bytes of a model's answer. */
export function outputBytes(outputs: readonly JsonTensor[]): number {
  let bytes = 0;
  for (const o of outputs) bytes += OVERHEAD + o.data.length * ELEMENT;
  return bytes;
}

/** The value's estimated size, and the note that replaces it when it breaks a bound. */
function boundedValue(key: string, value: unknown): { bytes: number; note?: { truncated: string } } {
  const measure = measureJson(value, LOGGED_JSON_BOUNDS);
  if ("bytes" in measure) return { bytes: measure.bytes };
  const why =
    measure.beyond === "depth"
      ? `${key} deeper than ${LOGGED_JSON_BOUNDS.maxDepth} levels`
      : `${key} larger than ${LOGGED_JSON_BOUNDS.maxBytes} bytes`;
  return { bytes: OVERHEAD, note: { truncated: why } };
}

function dataBytes(tensor: Tensor | undefined): number {
  if (tensor === undefined) return 0;
  if (tensor.datatype !== "BYTES") return tensor.data.length * ELEMENT;
  let bytes = 0;
  for (const s of tensor.data as readonly string[]) bytes += s.length + 2;
  return bytes;
}
