/**
 * Which array holds which datatype. The choices follow onnxruntime (see domain/tensor.ts),
 * except BOOL, which runtimes return as boolean[] so it serialises as JSON booleans; a
 * Uint8Array of 0/1 is accepted on input too.
 */
import type { Datatype, TensorData } from "../domain/tensor.js";

const every = (data: TensorData, kind: "boolean" | "string"): boolean =>
  Array.isArray(data) && (data as readonly unknown[]).every((v) => typeof v === kind);

const MATCHES: Record<Datatype, (data: TensorData) => boolean> = {
  BOOL: (d) => d instanceof Uint8Array || every(d, "boolean"),
  UINT8: (d) => d instanceof Uint8Array,
  UINT16: (d) => d instanceof Uint16Array,
  UINT32: (d) => d instanceof Uint32Array,
  UINT64: (d) => d instanceof BigUint64Array,
  INT8: (d) => d instanceof Int8Array,
  INT16: (d) => d instanceof Int16Array,
  INT32: (d) => d instanceof Int32Array,
  INT64: (d) => d instanceof BigInt64Array,
  FP16: (d) => d instanceof Uint16Array,
  FP32: (d) => d instanceof Float32Array,
  FP64: (d) => d instanceof Float64Array,
  BYTES: (d) => every(d, "string"),
};

/** True when `data` is the array type that carries `datatype`. */
export function dataMatchesDatatype(datatype: Datatype, data: TensorData): boolean {
  return MATCHES[datatype](data);
}

/** Zeros (false, "") of the right array type: what warm-up requests are made of. */
export function zeroData(datatype: Datatype, length: number): TensorData {
  switch (datatype) {
    case "BOOL":
      return new Array<boolean>(length).fill(false);
    case "BYTES":
      return new Array<string>(length).fill("");
    case "UINT8":
      return new Uint8Array(length);
    case "UINT16":
    case "FP16":
      return new Uint16Array(length);
    case "UINT32":
      return new Uint32Array(length);
    case "UINT64":
      return new BigUint64Array(length);
    case "INT8":
      return new Int8Array(length);
    case "INT16":
      return new Int16Array(length);
    case "INT32":
      return new Int32Array(length);
    case "INT64":
      return new BigInt64Array(length);
    case "FP32":
      return new Float32Array(length);
    case "FP64":
      return new Float64Array(length);
  }
}
