/**
 * The builtin runtime: linear models Ballast trains itself, stored as JSON (see format.ts).
 * Inference is plain arithmetic on the request thread; there is nothing to warm but the JIT.
 */
import { readFile } from "node:fs/promises";
import { invalid, unavailable } from "../../domain/errors.js";
import type { Signature } from "../../domain/model.js";
import type { Tensor } from "../../domain/tensor.js";
import type { InferOptions, LoadedModel, LoadRequest, Runtime } from "../runtime.js";
import { checkInputs, selectOutputs, zeroInputs } from "../signature.js";
import { parseBuiltinModel, type BuiltinModel } from "./format.js";
import { BUILTIN_KIND_MODULES } from "./kinds.js";

export { BUILTIN_FORMAT, BUILTIN_KINDS, parseBuiltinModel, serializeBuiltinModel } from "./format.js";
export type { BuiltinKind, BuiltinModel, Scaling } from "./format.js";
export { trainLinearRegression, trainLogisticRegression, type TrainOptions } from "./train.js";

/** Input `input` FP32 [-1, features], plus the outputs of the model's kind. */
export function builtinSignature(model: BuiltinModel): Signature {
  return {
    inputs: [{ name: "input", datatype: "FP32", shape: [-1, model.features.length] }],
    outputs: BUILTIN_KIND_MODULES[model.kind].outputs(model),
    features: model.features,
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
    return BUILTIN_KIND_MODULES[this.model.kind].predict(
      this.model,
      input.data as Float32Array,
      rows,
      outputs,
    );
  }

  async warm(): Promise<void> {
    await this.infer(zeroInputs(this.signature.inputs));
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
