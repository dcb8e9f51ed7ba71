/**
 * ONNX models through onnxruntime-node, including the ai.onnx.ml operators (tree ensembles,
 * linear classifiers) that scikit-learn exports use.
 *
 * Only tensor outputs are served. Non-tensor outputs, such as ZipMap's sequence of maps, are
 * left out of the signature and never fetched (onnxruntime-node cannot return them anyway);
 * export without ZipMap to get the probabilities as a tensor.
 *
 * onnxruntime's `run` cannot be cancelled: when the caller's signal aborts, the caller stops
 * waiting and gets its error at once, while the run finishes in the background and its
 * result is dropped. `unload` waits for such runs before releasing the session.
 */
import type { InferenceSession, Tensor as OrtTensor } from "onnxruntime-node";
import { BallastError, invalid, isBallastError, unavailable } from "../domain/errors.js";
import type { Signature } from "../domain/model.js";
import type { Datatype, Tensor, TensorSpec } from "../domain/tensor.js";
import type { InferOptions, LoadedModel, LoadRequest, Runtime } from "./runtime.js";
import { checkInputs, selectOutputs, withFeatures, zeroInputs } from "./signature.js";

type Ort = typeof import("onnxruntime-node");

let ortModule: Promise<Ort> | undefined;
/** Loaded on first use so that commands which never touch ONNX do not pay for the native library. */
const ort = (): Promise<Ort> => (ortModule ??= import("onnxruntime-node"));

const DATATYPE_OF: Partial<Record<OrtTensor.Type, Datatype>> = {
  float32: "FP32",
  float64: "FP64",
  float16: "FP16",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  bool: "BOOL",
  string: "BYTES",
};

const ORT_TYPE_OF: Record<Datatype, OrtTensor.Type> = {
  FP32: "float32",
  FP64: "float64",
  FP16: "float16",
  INT8: "int8",
  INT16: "int16",
  INT32: "int32",
  INT64: "int64",
  UINT8: "uint8",
  UINT16: "uint16",
  UINT32: "uint32",
  UINT64: "uint64",
  BOOL: "bool",
  BYTES: "string",
};

const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  graphOptimizationLevel: "all",
  // The server scales by running many requests at once, one session run each; intra-op
  // threads would compete with those runs for the same cores and add tail latency.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
};

async function openSession(path: string): Promise<InferenceSession> {
  const { InferenceSession } = await ort();
  try {
    return await InferenceSession.create(path, SESSION_OPTIONS);
  } catch (error) {
    throw invalid(`cannot load the ONNX model at ${path}: ${(error as Error).message}`, { path });
  }
}

function specOf(meta: InferenceSession.TensorValueMetadata, role: "input" | "output"): TensorSpec {
  const datatype = DATATYPE_OF[meta.type];
  if (datatype === undefined) {
    throw invalid(
      `${role} '${meta.name}' has element type ${meta.type}, which the inference protocol cannot carry`,
    );
  }
  // Symbolic dimensions come back as their name, unknown ones as "" (or a negative number).
  const shape = meta.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1));
  return { name: meta.name, datatype, shape };
}

/** The signature onnxruntime reads from the model: tensor inputs and tensor outputs. */
function signatureOf(session: InferenceSession): Signature {
  const inputs = session.inputMetadata.map((meta) => {
    if (!meta.isTensor)
      throw invalid(`input '${meta.name}' is not a tensor; only tensor inputs can be served`);
    return specOf(meta, "input");
  });
  const outputs = session.outputMetadata.flatMap((meta) => (meta.isTensor ? [specOf(meta, "output")] : []));
  if (outputs.length === 0) throw invalid("the ONNX model has no tensor outputs to serve");
  return { inputs, outputs };
}

function toOrt(Tensor: Ort["Tensor"], tensor: Tensor): OrtTensor {
  // Typed arrays are wrapped, not copied; boolean[] becomes the Uint8Array onnxruntime wants.
  return new Tensor(ORT_TYPE_OF[tensor.datatype], tensor.data, tensor.shape);
}

function fromOrt(name: string, value: OrtTensor): Tensor {
  const datatype = DATATYPE_OF[value.type];
  if (datatype === undefined)
    throw new BallastError("internal", `output '${name}' came back as ${value.type}`);
  const data = datatype === "BOOL" ? Array.from(value.data as Uint8Array, (v) => v !== 0) : value.data;
  return { name, datatype, shape: [...value.dims], data: data as Tensor["data"] };
}

function abortError(signal: AbortSignal): BallastError {
  if (isBallastError(signal.reason)) return signal.reason;
  return new BallastError(
    "timeout",
    "stopped waiting for the ONNX model (the run cannot be cancelled and finishes in the background)",
  );
}

/** Settles with `work`, or rejects as soon as `signal` aborts while `work` carries on unobserved. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

class OnnxModel implements LoadedModel {
  readonly signature: Signature;
  private readonly inFlight = new Set<Promise<unknown>>();
  private unloaded = false;

  constructor(
    private readonly session: InferenceSession,
    private readonly Tensor: Ort["Tensor"],
    signature: Signature,
  ) {
    this.signature = signature;
  }

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    if (this.unloaded) throw unavailable("the ONNX model was unloaded");
    if (options.signal?.aborted) throw abortError(options.signal);
    checkInputs(this.signature, inputs);
    const fetches = selectOutputs(this.signature, options.outputs);
    const feeds: Record<string, OrtTensor> = {};
    for (const tensor of inputs) feeds[tensor.name] = toOrt(this.Tensor, tensor);

    const run = this.session.run(feeds, fetches);
    this.inFlight.add(run);
    const settled = (): void => void this.inFlight.delete(run);
    run.then(settled, settled);

    let results: InferenceSession.ReturnType;
    try {
      results = await untilAborted(run, options.signal);
    } catch (error) {
      if (isBallastError(error)) throw error;
      throw invalid(`the ONNX model failed on these inputs: ${(error as Error).message}`);
    }
    return fetches.map((name) => {
      const value = results[name];
      if (value === undefined) throw new BallastError("internal", `onnxruntime returned no output '${name}'`);
      return fromOrt(name, value);
    });
  }

  async warm(): Promise<void> {
    await this.infer(zeroInputs(this.signature.inputs));
  }

  async unload(): Promise<void> {
    if (this.unloaded) return;
    this.unloaded = true;
    // Releasing under a running session would free memory the run still uses.
    await Promise.allSettled([...this.inFlight]);
    await this.session.release();
  }
}

export const onnxRuntime: Runtime = {
  flavor: "onnx",

  async inspect(artifactPath: string): Promise<Signature> {
    const session = await openSession(artifactPath);
    try {
      return signatureOf(session);
    } finally {
      await session.release();
    }
  },

  async load(request: LoadRequest): Promise<LoadedModel> {
    const { Tensor } = await ort();
    const session = await openSession(request.artifactPath);
    try {
      const signature = withFeatures(signatureOf(session), request.signature);
      return new OnnxModel(session, Tensor, signature);
    } catch (error) {
      await session.release();
      throw error;
    }
  },
};
