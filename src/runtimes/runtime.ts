/**
 * The extension point for model formats: one Runtime per flavor, registered in
 * runtimes/table.ts. A runtime turns an artifact into a LoadedModel; the serving layer owns
 * when that happens (load, warm, swap, unload).
 */
import type { Flavor, Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";

export interface LoadRequest {
  /** Absolute path of the artifact file (content-addressed under the data directory). */
  readonly artifactPath: string;
  /** The registered signature, if any; runtimes may refine it from the artifact itself. */
  readonly signature: Signature | null;
  /** Per-call deadline in milliseconds (used by remote runtimes). */
  readonly timeoutMs: number;
}

export interface InferOptions {
  /** Only these outputs are wanted; undefined means all of them. */
  readonly outputs?: readonly string[];
  /** Aborted when the caller's deadline passes. */
  readonly signal?: AbortSignal;
}

export interface LoadedModel {
  /** The signature as the runtime sees it (inputs and outputs it will accept and produce). */
  readonly signature: Signature;
  /**
   * True when `infer` stops work on `options.signal` (a remote call). In-process runtimes cannot
   * stop a running computation; the caller only stops waiting, so it passes them no signal.
   */
  readonly cancellable?: boolean;
  infer(inputs: readonly Tensor[], options?: InferOptions): Promise<Tensor[]>;
  /** Runs one request of zeros (or the runtime's equivalent) so the first real call is not slow. */
  warm(): Promise<void>;
  unload(): Promise<void>;
}

export interface Runtime {
  readonly flavor: Flavor;
  /**
   * Reads what can be learnt from an artifact without serving it (a signature, for
   * registration). Returns null when the artifact itself carries no signature.
   */
  inspect(artifactPath: string): Promise<Signature | null>;
  load(request: LoadRequest): Promise<LoadedModel>;
}
