/**
 * Tensors in the Open Inference Protocol's JSON form <-> typed tensors, for both directions of
 * the wire: requests a client sends us and answers a remote model sends back. Decoding is where
 * malformed tensors are caught, so each error names the tensor and the element; encoding
 * refuses to round a 64-bit integer or to turn NaN into null silently. JSON numbers are
 * doubles, so INT64/UINT64 values also travel as decimal strings when they exceed ±2^53.
 */
import { BallastError, invalid } from "./errors.js";
import { halfToNumber, numberToHalf } from "./float16.js";
import { isPlainObject, previewJson } from "./json-value.js";
import {
  allocateData,
  elementCount,
  isDatatype,
  type Datatype,
  type Tensor,
  type TensorData,
} from "./tensor.js";

export interface JsonTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  readonly data: Array<number | boolean | string>;
}

/** Makes the error for a bad tensor, so a caller can blame a client (400) or a remote model (502). */
export type Blame = (message: string, details?: Record<string, unknown>) => BallastError;

export interface DecodeOptions {
  /** Where the tensor sits, for errors before its name is known (e.g. `inputs[0]`). */
  readonly where: string;
  /** What the tensor is to the reader, for errors: "input" or "output". */
  readonly role: "input" | "output";
  readonly fail?: Blame;
}

/** Nested `data` deeper than this is refused before it is walked. */
const MAX_NESTING = 32;
const MAX_RANK = 16;
const FLOAT_LIMIT: Record<"FP16" | "FP32" | "FP64", number> = {
  FP16: 65504,
  FP32: 3.4028234663852886e38,
  FP64: Number.MAX_VALUE,
};
const INT_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
};
const BIGINT_RANGE = {
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
} as const;

/** Reads one protocol tensor (`$request_input` or `$response_output`). */
export function decodeTensor(value: unknown, options: DecodeOptions): Tensor {
  const fail = options.fail ?? invalid;
  if (!isPlainObject(value))
    throw fail(`${options.where} must be an object with name, shape, datatype and data`);
  const name = value.name;
  if (typeof name !== "string" || name.length === 0)
    throw fail(`${options.where}.name must be a non-empty string`);
  const label = `${options.role} '${name}'`;
  const datatype = value.datatype;
  if (!isDatatype(datatype)) {
    throw fail(
      `${label}: datatype ${previewJson(datatype)} is not one of BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES`,
    );
  }
  const shape = decodeShape(value.shape, label, fail);
  if (value.parameters !== undefined && !isPlainObject(value.parameters))
    throw fail(`${label}: parameters must be an object`);
  if (!Array.isArray(value.data)) throw fail(`${label}: data must be an array`);
  const data: unknown[] = value.data;
  const nested = isNested(data);
  const count = nested ? countLeaves(data, 1, label, fail) : data.length;
  const expected = elementCount(shape);
  if (count !== expected) {
    throw fail(`${label}: data has ${count} elements but shape [${shape.join(", ")}] needs ${expected}`);
  }
  return { name, datatype, shape, data: typedData(data, nested, count, datatype, label, fail) };
}

function decodeShape(value: unknown, label: string, fail: Blame): number[] {
  if (!Array.isArray(value)) throw fail(`${label}: shape must be an array of non-negative integers`);
  if (value.length > MAX_RANK)
    throw fail(`${label}: shape has ${value.length} dimensions; at most ${MAX_RANK} are accepted`);
  return value.map((d, i) => {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw fail(`${label}: shape[${i}] must be a non-negative integer, got ${previewJson(d)}`);
    }
    return d;
  });
}

function isNested(data: unknown[]): boolean {
  for (let i = 0; i < data.length; i++) if (Array.isArray(data[i])) return true;
  return false;
}

/**
 * Leaves of nested `data`, row-major as the protocol allows, refusing nesting deeper than
 * MAX_NESTING levels before anything is copied.
 */
function countLeaves(items: unknown[], depth: number, label: string, fail: Blame): number {
  if (depth > MAX_NESTING) throw fail(`${label}: data is nested deeper than ${MAX_NESTING} levels`);
  let n = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    n += Array.isArray(item) ? countLeaves(item, depth + 1, label, fail) : 1;
  }
  return n;
}

/** Row-major flattening of nested `data` (depth already checked by countLeaves). */
function flatten(data: unknown[], count: number): unknown[] {
  const out = new Array<unknown>(count);
  let at = 0;
  const walk = (items: unknown[]): void => {
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (Array.isArray(item)) walk(item);
      else out[at++] = item;
    }
  };
  walk(data);
  return out;
}

type FloatData = Float64Array | Float32Array | Uint16Array;
type IntData = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
type Bad = (i: number, v: unknown, what: string) => BallastError;

/**
 * Checks and stores the floats of (possibly nested) `items` from index `at` in one pass, no
 * copy in between; returns the index after the last. FP16 travels to runtimes as IEEE half bit
 * patterns, as onnxruntime takes it.
 */
function fillFloats(
  items: unknown[],
  out: FloatData,
  at: number,
  max: number,
  half: boolean,
  bad: Bad,
): number {
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw bad(at, v, "a finite number");
      if (Math.abs(v) > max) throw bad(at, v, `a number within ±${max}`);
      out[at++] = half ? numberToHalf(v) : v;
    } else if (Array.isArray(v)) at = fillFloats(v, out, at, max, half, bad);
    else throw bad(at, v, "a finite number");
  }
  return at;
}

function fillInts(items: unknown[], out: IntData, at: number, min: number, max: number, bad: Bad): number {
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (typeof v === "number" && Number.isInteger(v)) {
      if (v < min || v > max) throw bad(at, v, `an integer within ${min}…${max}`);
      out[at++] = v;
    } else if (Array.isArray(v)) at = fillInts(v, out, at, min, max, bad);
    else throw bad(at, v, "an integer");
  }
  return at;
}

/**
 * The typed data of `data` (`count` leaves, nested or not). Numbers go straight from the
 * parsed arrays into the typed array; the other datatypes are flattened first.
 */
function typedData(
  data: unknown[],
  nested: boolean,
  count: number,
  datatype: Datatype,
  label: string,
  fail: Blame,
): TensorData {
  const bad: Bad = (i, v, what) =>
    fail(`${label}: data[${i}] must be ${what} for ${datatype}, got ${previewJson(v)}`, {
      index: i,
    });
  switch (datatype) {
    case "FP16":
    case "FP32":
    case "FP64": {
      const out = allocateData(datatype, count) as FloatData;
      const limit = FLOAT_LIMIT[datatype];
      fillFloats(data, out, 0, limit, datatype === "FP16", bad);
      return out;
    }
    case "BOOL":
    case "BYTES":
    case "INT64":
    case "UINT64":
      return otherData(nested ? flatten(data, count) : data, datatype, bad);
    default: {
      const [min, max] = INT_RANGE[datatype] as readonly [number, number];
      const out = allocateData(datatype, count) as IntData;
      fillInts(data, out, 0, min, max, bad);
      return out;
    }
  }
}

function otherData(flat: unknown[], datatype: "BOOL" | "BYTES" | "INT64" | "UINT64", bad: Bad): TensorData {
  switch (datatype) {
    case "BOOL":
      return flat.map((v, i) => {
        if (typeof v !== "boolean") throw bad(i, v, "true or false");
        return v;
      });
    case "BYTES":
      return flat.map((v, i) => {
        if (typeof v !== "string") throw bad(i, v, "a string");
        return v;
      });
    default: {
      const [min, max] = BIGINT_RANGE[datatype];
      const out = allocateData(datatype, flat.length) as BigInt64Array | BigUint64Array;
      for (let i = 0; i < flat.length; i++) {
        const v = flat[i];
        let n: bigint;
        if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
        else if (typeof v === "string" && /^-?[0-9]{1,20}$/.test(v)) n = BigInt(v);
        // A number beyond 2^53 was already rounded by JSON.parse: refuse it rather than pass it on.
        else throw bad(i, v, "an integer within ±2^53, or a decimal string for larger values");
        if (n < min || n > max) throw bad(i, v, `an integer within ${min}…${max}`);
        out[i] = n;
      }
      return out;
    }
  }
}

/** A model's answer has a value JSON cannot carry: not the caller's fault, so a 500 by default. */
const unrepresentable: Blame = (message, details) => new BallastError("internal", message, details);

/** The JSON form of a tensor: flat, row-major; throws rather than change a value. */
export function encodeTensor(tensor: Tensor, fail: Blame = unrepresentable): JsonTensor {
  return {
    name: tensor.name,
    datatype: tensor.datatype,
    shape: [...tensor.shape],
    data: jsonData(tensor, fail),
  };
}

function jsonData(tensor: Tensor, fail: Blame): Array<number | boolean | string> {
  const { data, name } = tensor;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Array<number>(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as bigint;
      const n = Number(v);
      // Number() rounds, but never into ±2^53 - 1 from beyond it: the same test as on the BigInt.
      if (n > Number.MAX_SAFE_INTEGER || n < -Number.MAX_SAFE_INTEGER) {
        throw fail(
          `tensor '${name}' holds ${v} at index ${i}, beyond ±2^53: a JSON number cannot carry it exactly`,
          {
            tensor: name,
            index: i,
          },
        );
      }
      out[i] = n;
    }
    return out;
  }
  if (Array.isArray(data)) return data;
  const n = data.length;
  if (tensor.datatype === "BOOL") {
    const bools = new Array<boolean>(n);
    for (let i = 0; i < n; i++) bools[i] = data[i] !== 0;
    return bools;
  }
  const half = tensor.datatype === "FP16";
  const numbers = data as ArrayLike<number>;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = half ? halfToNumber(numbers[i] as number) : (numbers[i] as number);
    if (!Number.isFinite(v)) {
      throw fail(
        `tensor '${name}' holds ${v} at index ${i}, which JSON cannot carry; the input may lie far outside what the model was trained on`,
        { tensor: name, index: i },
      );
    }
    out[i] = v;
  }
  return out;
}
