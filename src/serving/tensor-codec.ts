/**
 * Open Inference Protocol tensors <-> typed tensors. Decoding is where every malformed request
 * is caught, so each error names the tensor and the field; encoding refuses to round a 64-bit
 * integer silently.
 */
import { invalid, BallastError } from "../domain/errors.js";
import { isDatatype, elementCount, type Datatype, type Tensor, type TensorData } from "../domain/tensor.js";
import { halfToNumber, numberToHalf } from "../runtimes/float16.js";

/** Nested `data` deeper than this is refused before it is walked. */
const MAX_NESTING = 32;
const FP32_MAX = 3.4028234663852886e38;
const FP16_MAX = 65504;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE_BIG = BigInt(Number.MIN_SAFE_INTEGER);

type IntRange = readonly [min: number, max: number];
const INT_RANGES: Partial<Record<Datatype, IntRange>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

export interface JsonTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Array<number | boolean | string>;
}

/** Reads one `$request_input`; `where` names it in errors (e.g. `inputs[0]`). */
export function decodeTensor(value: unknown, where: string): Tensor {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(`${where} must be an object with name, shape, datatype and data`);
  }
  const input = value as Record<string, unknown>;
  const name = input.name;
  if (typeof name !== "string" || name.length === 0)
    throw invalid(`${where}.name must be a non-empty string`);
  const label = `input '${name}'`;
  const datatype = input.datatype;
  if (!isDatatype(datatype)) {
    throw invalid(
      `${label}: datatype must be one of BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES`,
    );
  }
  const shape = decodeShape(input.shape, label);
  if (input.parameters !== undefined && !isPlainObject(input.parameters)) {
    throw invalid(`${label}: parameters must be an object`);
  }
  if (!Array.isArray(input.data)) throw invalid(`${label}: data must be an array`);
  const flat = flatten(input.data, label);
  const expected = elementCount(shape);
  if (flat.length !== expected) {
    throw invalid(
      `${label}: data has ${flat.length} elements but shape [${shape.join(", ")}] needs ${expected}`,
    );
  }
  return { name, datatype, shape, data: toTypedData(flat, datatype, label) };
}

function decodeShape(value: unknown, label: string): number[] {
  if (!Array.isArray(value)) throw invalid(`${label}: shape must be an array of non-negative integers`);
  if (value.length > 16)
    throw invalid(`${label}: shape has ${value.length} dimensions; at most 16 are accepted`);
  return value.map((d, i) => {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw invalid(`${label}: shape[${i}] must be a non-negative integer, got ${JSON.stringify(d)}`);
    }
    return d;
  });
}

/** Row-major flattening of nested `data`, as the protocol allows. */
function flatten(data: unknown[], label: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (items: unknown[], depth: number): void => {
    if (depth > MAX_NESTING) throw invalid(`${label}: data is nested deeper than ${MAX_NESTING} levels`);
    for (const item of items) {
      if (Array.isArray(item)) walk(item, depth + 1);
      else out.push(item);
    }
  };
  walk(data, 1);
  return out;
}

function toTypedData(flat: unknown[], datatype: Datatype, label: string): TensorData {
  const bad = (i: number, what: string): BallastError =>
    invalid(
      `${label}: data[${i}] must be ${what} for ${datatype}, got ${JSON.stringify(flat[i]) ?? "undefined"}`,
    );
  switch (datatype) {
    case "BOOL":
      return flat.map((v, i) => {
        if (typeof v !== "boolean") throw bad(i, "true or false");
        return v;
      });
    case "BYTES":
      return flat.map((v, i) => {
        if (typeof v !== "string") throw bad(i, "a string");
        return v;
      });
    case "FP16":
    case "FP32":
    case "FP64": {
      const limit = datatype === "FP64" ? Number.MAX_VALUE : datatype === "FP32" ? FP32_MAX : FP16_MAX;
      // FP16 travels to runtimes as IEEE half bit patterns, as onnxruntime takes it.
      const out =
        datatype === "FP64"
          ? new Float64Array(flat.length)
          : datatype === "FP32"
            ? new Float32Array(flat.length)
            : new Uint16Array(flat.length);
      const store = datatype === "FP16" ? numberToHalf : (v: number) => v;
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        if (typeof v !== "number" || !Number.isFinite(v)) throw bad(i, "a finite number");
        if (Math.abs(v) > limit) throw bad(i, `a number within ±${limit}`);
        out[i] = store(v);
      }
      return out;
    }
    default: {
      const range = INT_RANGES[datatype];
      if (range === undefined) throw invalid(`${label}: datatype ${datatype} is not supported`);
      const [min, max] = range;
      const check = (i: number): number => {
        const v = flat[i];
        if (typeof v !== "number" || !Number.isInteger(v)) throw bad(i, "an integer");
        if (v < min || v > max) {
          const span = datatype.endsWith("64")
            ? "±2^53 (larger values cannot travel in JSON exactly)"
            : `${min}…${max}`;
          throw bad(i, `an integer within ${span}`);
        }
        return v;
      };
      if (datatype === "INT64" || datatype === "UINT64") {
        const out = datatype === "INT64" ? new BigInt64Array(flat.length) : new BigUint64Array(flat.length);
        for (let i = 0; i < flat.length; i++) out[i] = BigInt(check(i));
        return out;
      }
      const out = newIntArray(datatype, flat.length);
      for (let i = 0; i < flat.length; i++) out[i] = check(i);
      return out;
    }
  }
}

function newIntArray(
  datatype: Datatype,
  length: number,
): Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array {
  switch (datatype) {
    case "INT8":
      return new Int8Array(length);
    case "INT16":
      return new Int16Array(length);
    case "INT32":
      return new Int32Array(length);
    case "UINT8":
      return new Uint8Array(length);
    case "UINT16":
      return new Uint16Array(length);
    default:
      return new Uint32Array(length);
  }
}

/** One `$response_output`: flat, row-major, JSON-safe. */
export function encodeTensor(tensor: Tensor): JsonTensor {
  return { name: tensor.name, datatype: tensor.datatype, shape: [...tensor.shape], data: jsonData(tensor) };
}

function jsonData(tensor: Tensor): Array<number | boolean | string> {
  const { data } = tensor;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Array<number>(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as bigint;
      if (v > MAX_SAFE_BIG || v < MIN_SAFE_BIG) {
        throw new BallastError(
          "internal",
          `output '${tensor.name}' holds ${v} at index ${i}, beyond ±2^53: it cannot be sent as a JSON number without rounding`,
          { output: tensor.name, index: i },
        );
      }
      out[i] = Number(v);
    }
    return out;
  }
  if (Array.isArray(data)) return data;
  const out =
    tensor.datatype === "FP16"
      ? Array.from(data as Uint16Array, halfToNumber)
      : Array.from(data as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new BallastError(
        "internal",
        `output '${tensor.name}' holds ${out[i]} at index ${i}, which JSON cannot carry; the input may lie far outside what the model was trained on`,
        { output: tensor.name, index: i },
      );
    }
  }
  return out;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
