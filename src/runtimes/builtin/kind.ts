import type { Tensor, TensorSpec } from "../../domain/tensor.js";
import type { BuiltinKind, BuiltinModel } from "./format.js";

/** What one kind of builtin model contributes: the outputs it declares and how it computes them. */
export interface BuiltinKindModule {
  readonly kind: BuiltinKind;
  /** Output specs; the leading -1 is the batch. */
  outputs(model: BuiltinModel): TensorSpec[];
  /** Computes the named outputs for `rows` rows of the row-major feature matrix `data`. */
  predict(model: BuiltinModel, data: ArrayLike<number>, rows: number, outputs: readonly string[]): Tensor[];
}
