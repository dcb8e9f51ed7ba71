/**
 * The builtin runtime: linear models Ballast trains itself, stored as JSON (see format.ts).
 * Inference is plain arithmetic on the request thread, a large batch in slices with a turn of
 * the event loop between them (a deadline can then pass between slices: the caller stops
 * waiting, the slices finish); there is nothing to warm but the JIT.
 */
import { readFile } from "node:fs/promises";
import { invalid, isBallastError, unavailable } from "../../domain/errors.js";
import { nextTurn, type Pause } from "../../domain/json-chunks.js";
import type { Signature } from "../../domain/model.js";
import type { Tensor, TensorData } from "../../domain/tensor.js";
import type { InferOptions, LoadedModel, LoadRequest, Runtime } from "../runtime.js";
import { checkInputs, selectOutputs, zeroInputs } from "../signature.js";
import { parseBuiltinModel, type BuiltinModel } from "./format.js";
import { BUILTIN_KIND_MODULES } from "./kinds.js";
import type { BuiltinKindModule } from "./kind.js";

export { BUILTIN_FORMAT, BUILTIN_KINDS, parseBuiltinModel, serializeBuiltinModel } from "./format.js";
export type { BuiltinKind, BuiltinModel, LinearBuiltinModel, Scaling } from "./format.js";
export type { VolatilityBuiltinModel } from "./volatility-format.js";
export { trainLinearRegression, trainLogisticRegression, type TrainOptions } from "./train.js";

/**
 * Rows scored per turn of the event loop. A batch of more is scored a slice at a time with a
 * pause in between, so a maximal request (~150,000 rows in 4 MiB) never holds other requests
 * for the whole of it; a batch of this many or fewer is scored at once, with no pause.
 */
export const ROWS_PER_TURN = 16 * 1024;

/**
 * The kind's outputs for `rows` rows of `data`, in slices of `ROWS_PER_TURN` rows with `pause`
 * awaited between them when there are more. Every output's first dimension is the batch, so the
 * slices' outputs are concatenated; the values are those of one call on the whole batch.
 */
export async function predictInSlices(
  kind: BuiltinKindModule,
  model: BuiltinModel,
  data: Float32Array | Float64Array,
  rows: number,
  outputs: readonly string[],
  pause: Pause = nextTurn,
): Promise<Tensor[]> {
  if (rows <= ROWS_PER_TURN) return kind.predict(model, data, rows, outputs);
  const width = data.length / rows;
  const slices: Tensor[][] = [];
  for (let from = 0; from < rows; from += ROWS_PER_TURN) {
    await pause();
    const n = Math.min(ROWS_PER_TURN, rows - from);
    slices.push(kind.predict(model, data.subarray(from * width, (from + n) * width), n, outputs));
  }
  const first = slices[0] as Tensor[];
  return first.map((tensor, k): Tensor => {
    const whole = joinTyped(slices.map((slice) => (slice[k] as Tensor).data));
    return { ...tensor, shape: [rows, ...tensor.shape.slice(1)], data: whole };
  });
}

/** One typed array of the parts' type holding them end to end (builtin outputs are FP32, FP64 or INT64). */
function joinTyped(parts: ReadonlyArray<TensorData>): Float32Array | Float64Array | BigInt64Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const first = parts[0];
  if (first instanceof BigInt64Array) return fill(new BigInt64Array(total), parts as BigInt64Array[]);
  if (first instanceof Float64Array) return fill(new Float64Array(total), parts as Float64Array[]);
  if (!(first instanceof Float32Array))
    throw new Error("builtin outputs are FP32, FP64 or INT64 typed arrays");
  return fill(new Float32Array(total), parts as Float32Array[]);
}

function fill<T extends Float32Array | Float64Array | BigInt64Array>(out: T, parts: readonly T[]): T {
  let at = 0;
  for (const p of parts) {
    // One of the two array types throughout; TypeScript cannot pair `set`'s overloads with T.
    (out as { set(a: ArrayLike<unknown>, offset: number): void }).set(p, at);
    at += p.length;
  }
  return out;
}

/** The kind's inputs (by default `input` FP32 [-1, features]) and outputs. */
export function builtinSignature(model: BuiltinModel): Signature {
  const kind = BUILTIN_KIND_MODULES[model.kind];
  if (kind.inputs !== undefined) return { inputs: kind.inputs(model), outputs: kind.outputs(model) };
  const features = "features" in model ? model.features : [];
  return {
    inputs: [{ name: "input", datatype: "FP32", shape: [-1, features.length] }],
    outputs: kind.outputs(model),
    features,
  };
}

async function readModel(path: string): Promise<BuiltinModel> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw invalid(`cannot read the builtin model at ${path}: ${(error as Error).message}`, { path });
  }
  return parseBuiltinModel(text);
}

class BuiltinLoadedModel implements LoadedModel {
  readonly signature: Signature;
  private unloaded = false;

  constructor(private readonly model: BuiltinModel) {
    this.signature = builtinSignature(model);
  }

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    if (this.unloaded) throw unavailable("the builtin model was unloaded");
    checkInputs(this.signature, inputs);
    const outputs = selectOutputs(this.signature, options.outputs);
    const input = inputs[0] as Tensor;
    const rows = input.shape[0] as number;
    return predictInSlices(
      BUILTIN_KIND_MODULES[this.model.kind],
      this.model,
      input.data as Float32Array | Float64Array,
      rows,
      outputs,
    );
  }

  async warm(): Promise<void> {
    try {
      await this.infer(zeroInputs(this.signature.inputs));
    } catch (error) {
      // A volatility specialist may refuse a window of zero returns (a variance of 0, or an
      // OLS intercept below 0): an answer about that window, not a model that cannot serve.
      const refused =
        isBallastError(error) && error.code === "invalid_argument" && "specialist" in this.model;
      if (!refused) throw error;
    }
  }

  async unload(): Promise<void> {
    this.unloaded = true;
  }
}

export const builtinRuntime: Runtime = {
  flavor: "builtin",
  inspect: async (artifactPath: string) => builtinSignature(await readModel(artifactPath)),
  load: async (request: LoadRequest) => new BuiltinLoadedModel(await readModel(request.artifactPath)),
};
