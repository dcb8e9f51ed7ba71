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
