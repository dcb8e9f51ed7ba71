/**
 * Tensors in the Open Inference Protocol's JSON form: `{ name, datatype, shape, data }` with
 * flat row-major data. JSON numbers are doubles, so 64-bit integers beyond 2^53 cannot travel
 * as numbers: encoding refuses them rather than rounding, and decoding also takes them as
 * decimal strings.
 */
import { invalid, type BallastError } from "../domain/errors.js";
import { elementCount, isDatatype, type Datatype, type Tensor } from "../domain/tensor.js";
import { halfToNumber, numberToHalf } from "./float16.js";

export interface JsonTensor {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: number[];
  readonly data: (number | boolean | string)[];
}

function safeNumber(value: bigint, name: string, index: number): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw invalid(
      `tensor '${name}' element ${index} is ${value}, beyond ±2^53: JSON numbers cannot carry it exactly`,
      { tensor: name, index },
    );
  }
  return Number(value);
}

function finiteNumbers(data: ArrayLike<number>, name: string): number[] {
  return Array.from(data, (v, i) => {
    if (!Number.isFinite(v)) {
      throw invalid(`tensor '${name}' element ${i} is ${v}, which JSON cannot carry`, {
        tensor: name,
        index: i,
      });
    }
    return v;
  });
}

/** The JSON form of a tensor; throws `invalid` for values JSON would silently change. */
export function tensorToJson(tensor: Tensor): JsonTensor {
  const { name, datatype, data } = tensor;
  let json: (number | boolean | string)[];
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    json = Array.from(data, (v, i) => safeNumber(v, name, i));
  } else if (datatype === "FP16") {
    json = finiteNumbers(Array.from(data as Uint16Array, halfToNumber), name);
  } else if (datatype === "BOOL" && data instanceof Uint8Array) {
    json = Array.from(data, (v) => v !== 0);
  } else if (datatype === "FP32" || datatype === "FP64") {
    json = finiteNumbers(data as Float32Array | Float64Array, name);
  } else {
    json = Array.from(data as ArrayLike<number | boolean | string>);
  }
  return { name, datatype, shape: [...tensor.shape], data: json };
}

const INTEGER_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
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

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads a tensor from its JSON form into the typed array its datatype uses. `fail` makes the
 * error, so a caller can blame a client (invalid) or a remote server (upstream).
 */
export function tensorFromJson(value: unknown, fail: (message: string) => BallastError): Tensor {
  if (!isObject(value)) throw fail("a tensor must be an object { name, datatype, shape, data }");
  const { name, datatype, shape } = value;
  if (typeof name !== "string") throw fail("a tensor has no name");
  if (!isDatatype(datatype)) throw fail(`tensor '${name}' has unknown datatype ${JSON.stringify(datatype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`tensor '${name}' needs a shape of non-negative integers`);
  }
  if (!Array.isArray(value.data)) throw fail(`tensor '${name}' has no data array`);
  // The protocol allows nested arrays; flat is what everything else here uses.
  const data: unknown[] = value.data.flat(Infinity);
  const expected = elementCount(shape as number[]);
  if (data.length !== expected) {
    throw fail(
      `tensor '${name}' has shape [${shape.join(", ")}] (${expected} values) but ${data.length} data values`,
    );
  }
  const bad = (i: number): BallastError =>
    fail(`tensor '${name}' element ${i} (${JSON.stringify(data[i])}) is not a valid ${datatype} value`);

  const numbers = (): number[] =>
    data.map((v, i) => {
      if (typeof v !== "number") throw bad(i);
      return v;
    });
  const integers = (): number[] => {
    const [low, high] = INTEGER_RANGE[datatype] ?? [-Infinity, Infinity];
    return numbers().map((v, i) => {
      if (!Number.isInteger(v) || v < low || v > high) throw bad(i);
      return v;
    });
  };
  const bigints = (range: readonly [bigint, bigint]): bigint[] =>
    data.map((v, i) => {
      let result: bigint;
      if (typeof v === "number" && Number.isSafeInteger(v)) result = BigInt(v);
      else if (typeof v === "string" && /^-?\d+$/.test(v)) result = BigInt(v);
      // An unsafe number was already rounded by JSON.parse: refuse rather than pass it on.
      else throw bad(i);
      if (result < range[0] || result > range[1]) throw bad(i);
      return result;
    });

  let typed: Tensor["data"];
  switch (datatype) {
    case "FP32":
      typed = Float32Array.from(numbers());
      break;
    case "FP64":
      typed = Float64Array.from(numbers());
      break;
    case "FP16":
      typed = Uint16Array.from(numbers(), numberToHalf);
      break;
    case "INT8":
      typed = Int8Array.from(integers());
      break;
    case "INT16":
      typed = Int16Array.from(integers());
      break;
    case "INT32":
      typed = Int32Array.from(integers());
      break;
    case "UINT8":
      typed = Uint8Array.from(integers());
      break;
    case "UINT16":
      typed = Uint16Array.from(integers());
      break;
    case "UINT32":
      typed = Uint32Array.from(integers());
      break;
    case "INT64":
      typed = BigInt64Array.from(bigints(BIGINT_RANGE.INT64));
      break;
    case "UINT64":
      typed = BigUint64Array.from(bigints(BIGINT_RANGE.UINT64));
      break;
    case "BOOL":
      typed = data.map((v, i) => {
        if (typeof v !== "boolean") throw bad(i);
        return v;
      });
      break;
    case "BYTES":
      typed = data.map((v, i) => {
        if (typeof v !== "string") throw bad(i);
        return v;
      });
      break;
  }
  return { name, datatype, shape: shape as number[], data: typed };
}
