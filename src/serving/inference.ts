/**
 * The request path: resolve the deployment, pick a variant, check the request against that
 * version's signature, run the model under the deployment's deadline, encode, and append one
 * row to the prediction log. Nothing here waits on the store.
 */
import { performance } from "node:perf_hooks";
import { BallastError, invalid, notFound, isBallastError, type ErrorCode } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { Tensor } from "../domain/tensor.js";
import type { Signature } from "../domain/model.js";
import type { Monitors } from "../monitoring/monitors.js";
import { instanceRows, tensorRows } from "../monitoring/request-rows.js";
import type { Endpoints, ServedDeployment, ServedVariant } from "./endpoints.js";
import type { ModelPool } from "./model-pool.js";
import type { PredictionLog } from "./prediction-log.js";
import { checkAgainstSignature, decodeInferenceRequest } from "./inference-request.js";
import {
  decodeInstances,
  instancesToTensor,
  predictionsFromOutputs,
  type Instance,
} from "./named-features.js";
import { encodeTensor, type JsonTensor } from "../domain/tensor-json.js";

export interface InferenceOutcome {
  readonly deployment: string;
  readonly model: string;
  readonly version: number;
  readonly variant: string;
  readonly code: "ok" | ErrorCode;
  readonly seconds: number;
}

export interface InferenceObserver {
  observe(outcome: InferenceOutcome): void;
}

export interface InferenceResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, unknown>;
  outputs: JsonTensor[];
}

export interface NamedPredictionResponse {
  predictions: unknown[];
  model_name: string;
  model_version: string;
  request_id: string;
}

export class InferenceService {
  constructor(
    private readonly endpoints: Endpoints,
    private readonly pool: ModelPool,
    private readonly log: PredictionLog,
    private readonly clock: Clock,
    private readonly observer: InferenceObserver = { observe: () => {} },
    private readonly monitors?: Monitors,
  ) {}

  /** `POST /v2/models/{name}[/versions/{v}]/infer`. */
  async infer(
    name: string,
    versionInPath: string | undefined,
    body: unknown,
    requestId: string,
  ): Promise<InferenceResponse> {
    const served = this.endpoints.get(name);
    const target =
      versionInPath === undefined ? this.endpoints.pick(served) : findVersion(served, versionInPath);
    return this.observed(served, target, async () => {
      const request = decodeInferenceRequest(body);
      const { outputs, latencyMs } = await this.run(served, target, (signature) => {
        checkAgainstSignature(request, signature);
        return { inputs: request.inputs, outputs: request.outputs };
      });
      // The tensors as the client sent them (already checked): re-encoding would cost the
      // request path a copy of every input.
      this.record(
        served,
        target,
        requestId,
        { tensors: (body as { inputs: unknown }).inputs },
        outputs,
        latencyMs,
      );
      if (this.monitors?.watches(name) === true)
        this.monitor(served, target, tensorRows(request.inputs, target.signature));
      return {
        model_name: name,
        model_version: String(target.version.version),
        id: request.id ?? requestId,
        outputs,
      };
    });
  }

  /** `POST /v1/models/{name}:predict` with named features. */
  async predict(name: string, body: unknown, requestId: string): Promise<NamedPredictionResponse> {
    const served = this.endpoints.get(name);
    const target = this.endpoints.pick(served);
    return this.observed(served, target, async () => {
      const instances: Instance[] = decodeInstances(body);
      const { outputs, latencyMs } = await this.run(served, target, (signature) => ({
        inputs: [instancesToTensor(instances, signature)],
        outputs: undefined,
      }));
      this.record(served, target, requestId, { instances }, outputs, latencyMs);
      if (this.monitors?.watches(name) === true)
        this.monitor(served, target, instanceRows(instances, target.signature));
      return {
        predictions: predictionsFromOutputs(outputs, instances.length),
        model_name: name,
        model_version: String(target.version.version),
        request_id: requestId,
      };
    });
  }

  /**
   * Runs one call under the deployment's deadline. `prepare` turns the request into tensors
   * for the signature of the version actually chosen.
   */
  private async run(
    served: ServedDeployment,
    target: ServedVariant,
    prepare: (signature: Signature) => { inputs: Tensor[]; outputs: readonly string[] | undefined },
  ): Promise<{ outputs: JsonTensor[]; latencyMs: number }> {
    const lease = this.pool.lease(target.version.model, target.version.version);
    let running: Promise<Tensor[]>;
    let controller: AbortController | undefined;
    const started = performance.now();
    try {
      const { inputs, outputs } = prepare(target.signature);
      controller = lease.model.cancellable === true ? new AbortController() : undefined;
      running = lease.model.infer(inputs, { outputs, signal: controller?.signal });
    } catch (error) {
      lease.release();
      throw error;
    }
    // A run that outlives its deadline still holds the model until it settles, so an unload
    // never pulls a session out from under it.
    running.then(lease.release, lease.release);
    const timeoutMs = served.deployment.timeoutMs;
    const tensors = await withDeadline(running, timeoutMs, () => {
      controller?.abort();
      return new BallastError(
        "timeout",
        `model ${target.version.model} version ${target.version.version} did not answer within ${timeoutMs} ms`,
      );
    });
    return { outputs: tensors.map((t) => encodeTensor(t)), latencyMs: performance.now() - started };
  }

  private monitor(served: ServedDeployment, target: ServedVariant, rows: Record<string, unknown>[]): void {
    this.monitors?.observe({
      deployment: served.deployment.name,
      variant: target.variant.name,
      model: target.version.model,
      version: target.version.version,
      rows,
      at: this.clock.now(),
    });
  }

  private record(
    served: ServedDeployment,
    target: ServedVariant,
    requestId: string,
    inputs: unknown,
    outputs: JsonTensor[],
    latencyMs: number,
  ): void {
    this.log.record({
      requestId,
      deployment: served.deployment.name,
      model: target.version.model,
      modelVersion: target.version.version,
      variant: target.variant.name,
      inputs,
      outputs,
      latencyMs,
      createdAt: this.clock.now(),
    });
  }

  private async observed<T>(
    served: ServedDeployment,
    target: ServedVariant,
    work: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let code: InferenceOutcome["code"] = "ok";
    try {
      return await work();
    } catch (error) {
      code = isBallastError(error) ? error.code : "internal";
      throw error;
    } finally {
      this.observer.observe({
        deployment: served.deployment.name,
        model: target.version.model,
        version: target.version.version,
        variant: target.variant.name,
        code,
        seconds: (performance.now() - started) / 1000,
      });
    }
  }
}

function findVersion(served: ServedDeployment, raw: string): ServedVariant {
  const version = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || !Number.isSafeInteger(version)) {
    throw invalid(`version must be a positive integer, got '${raw}'`);
  }
  const found = served.variants.find((v) => v.version.version === version);
  if (found === undefined) {
    const deployed = served.variants.map((v) => v.version.version).join(", ");
    throw notFound(
      `version ${version} of '${served.deployment.name}' is not deployed; deployed: ${deployed}`,
    );
  }
  return found;
}

/** Settles with `work`, or with the deadline's error if `ms` pass first. */
function withDeadline<T>(work: Promise<T>, ms: number, expired: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(expired()), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
