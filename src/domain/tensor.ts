/**
 * Tensors as the Open Inference Protocol names them. Data is always flat and row-major.
 * The typed-array choice per datatype is the one onnxruntime uses, so tensors cross the
 * runtime boundary without copies.
 */
export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
] as const;

export type Datatype = (typeof DATATYPES)[number];

export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | boolean[]
  | string[];

export interface Tensor {
  readonly name: string;
  readonly datatype: Datatype;
  /** Concrete dimensions; their product equals data.length. */
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** A tensor declared by a signature: -1 marks a variable dimension. */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === "string" && (DATATYPES as readonly string[]).includes(value);
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * A zero-filled (false, "") array of the type that carries `datatype`: what decoders fill and
 * warm-up requests are made of.
 */
export function allocateData(datatype: Datatype, length: number): TensorData {
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
