import type { Tensor, TensorSpec } from "../../domain/tensor.js";
import type { BuiltinKind, BuiltinModel } from "./format.js";

/** What one kind of builtin model contributes: the outputs it declares and how it computes them. */
export interface BuiltinKindModule<M extends BuiltinModel = BuiltinModel> {
  readonly kind: BuiltinKind;
  /** Input specs; absent: one FP32 `input` [-1, features] (the linear kinds). */
  inputs?(model: M): TensorSpec[];
  /** Output specs; the leading -1 is the batch. */
  outputs(model: M): TensorSpec[];
  /** Computes the named outputs for `rows` rows of the row-major matrix `data` (the one input). */
  predict(model: M, data: ArrayLike<number>, rows: number, outputs: readonly string[]): Tensor[];
}
