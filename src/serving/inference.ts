/**
 * The request path: resolve the deployment, pick a variant, check the request against that
 * version's signature, run the model under the deployment's deadline, encode, and append one
 * row to the prediction log. Nothing here waits on the store.
 *
 * A deployment with `resilience` also gets load shedding, a circuit breaker per variant and a
 * fallback; one without takes the plain path, with no extra timers or objects per request.
 */
import { ShadowBook, comparableRows } from "./shadows.js";
import type { RequestAttributes } from "./routing.js";
import { isPlainObject } from "../domain/json-value.js";
import { performance } from "node:perf_hooks";
import {
  BallastError,
  invalid,
  notFound,
  isBallastError,
  unavailable,
  type ErrorCode,
} from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { Tensor } from "../domain/tensor.js";
import { MODEL_FAILURES, type Resilience, type Signature } from "../domain/model.js";
import type { Monitors } from "../monitoring/monitors.js";
import { instanceRows, tensorRows } from "../monitoring/request-rows.js";
import { STATIC_FALLBACK, type Endpoints, type ServedDeployment, type ServedVariant } from "./endpoints.js";
import type { ModelPool } from "./model-pool.js";
import type { PredictionLog } from "./prediction-log.js";
import { checkAgainstSignature, decodeInferenceRequest } from "./inference-request.js";
import {
  decodeInstances,
  instancesToTensor,
  predictionsFromOutputs,
  type Instance,
} from "./named-features.js";
import { encodeTensor, type Blame, type JsonTensor } from "../domain/tensor-json.js";
import { CHUNK_ELEMENTS, nextTurn } from "../domain/json-chunks.js";
import {
  Breakers,
  IGNORE_RESILIENCE_EVENTS,
  InFlight,
  failureOf,
  type FallbackReason,
  type ResilienceEvents,
} from "./resilience.js";
import { staticOutputs } from "./static-response.js";
import { loggedInstances, loggedTensors, outputBytes, type LoggedInputs } from "./logged-inputs.js";
import { RequestId, RequestIds } from "./request-ids.js";

export interface InferenceOutcome {
  readonly deployment: string;
  readonly model: string;
  readonly version: number;
  readonly variant: string;
  readonly code: "ok" | ErrorCode;
  readonly seconds: number;
  /**
   * Set when a fallback answered for the variant above: the request succeeded, but the
   * variant failed it (rollout analysis should count it against the variant).
   */
  readonly fallback?: FallbackReason;
}

export interface InferenceObserver {
  observe(outcome: InferenceOutcome): void;
}

/** What a response says when a fallback answered it (`served_by`: a variant, or an '@' label). */
export interface FallbackMarker {
  fallback: true;
  fallback_reason: FallbackReason;
  served_by: string;
}

export interface InferenceResponse {
  model_name: string;
  /** Absent only when a static default answered: no version did. */
  model_version?: string;
  id: string;
  parameters?: Record<string, unknown>;
  outputs: JsonTensor[];
}

export type NamedPredictionResponse = {
  predictions: unknown[];
  model_name: string;
  model_version?: string;
  request_id: string;
} & Partial<FallbackMarker>;

/** What the model run gave, and who gave it when not the chosen variant. */
interface Answer {
  readonly outputs: JsonTensor[];
  readonly latencyMs: number;
  readonly fallback?: { readonly reason: FallbackReason; readonly by: ServedVariant | null };
}

type Prepare = (signature: Signature) => { inputs: Tensor[]; outputs: readonly string[] | undefined };

/** The fallback reason of a response, for the route to put in a header; undefined when none. */
export function fallbackReasonOf(response: InferenceResponse | NamedPredictionResponse): string | undefined {
  const reason = "outputs" in response ? response.parameters?.fallback_reason : response.fallback_reason;
  return typeof reason === "string" ? reason : undefined;
}

export class InferenceService {
  private readonly breakers: Breakers;
  private readonly inFlight = new InFlight();
  /** Shadow variants' comparisons with the live answers. */
  readonly shadows = new ShadowBook();

  constructor(
    private readonly endpoints: Endpoints,
    private readonly pool: ModelPool,
    private readonly log: PredictionLog,
    private readonly clock: Clock,
    private readonly observer: InferenceObserver & ResilienceEvents = {
      observe: () => {},
      ...IGNORE_RESILIENCE_EVENTS,
    },
    private readonly monitors?: Monitors,
    private readonly requestIds = new RequestIds(),
  ) {
    this.breakers = new Breakers(observer);
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer`. */
  async infer(
    name: string,
    versionInPath: string | undefined,
    body: unknown,
    requestId: RequestId | string,
    headers: RequestAttributes["headers"] = {},
  ): Promise<InferenceResponse> {
    const id = asRequestId(requestId);
    const served = this.endpoints.get(name);
    const target =
      versionInPath === undefined
        ? this.endpoints.pick(
            served,
            attributes(served, headers, () => parametersOf(body)),
          )
        : findVersion(served, versionInPath);
    return this.observed(served, target, async () => {
      const request = decodeInferenceRequest(body);
      const prepare: Prepare = (signature) => {
        checkAgainstSignature(request, signature);
        return { inputs: request.inputs, outputs: request.outputs };
      };
      // A version named in the path is what the client asked for: no other version answers it.
      const answer =
        served.deployment.resilience === undefined
          ? await this.run(served, target, prepare)
          : await this.guarded(served, target, prepare, rowsOf(request.inputs), versionInPath === undefined);
      // The tensors as the client sent them (already checked): re-encoding would cost the
      // request path a copy of every input. Only free-form fields are bounded.
      const logged = loggedTensors((body as { inputs: unknown[] }).inputs, request.inputs);
      this.requestIds.claim(id);
      this.record(served, target, id.logged, logged, answer);
      if (this.monitors?.watches(name) === true)
        this.monitor(served, target, tensorRows(request.inputs, target.signature));
      if (served.hasShadows === true && versionInPath === undefined)
        this.mirror(served, answer, prepare, id.logged, logged);
      if (answer.fallback === undefined) {
        return {
          model_name: name,
          model_version: String(target.version.version),
          id: request.id ?? id.logged,
          outputs: answer.outputs,
        };
      }
      const version = answeredVersion(answer.fallback);
      return {
        model_name: name,
        ...(version === undefined ? {} : { model_version: version }),
        id: request.id ?? id.logged,
        parameters: { ...fallbackMarker(answer.fallback) },
        outputs: answer.outputs,
      };
    });
  }

  /** `POST /v1/models/{name}:predict` with named features. */
  async predict(
    name: string,
    body: unknown,
    requestId: RequestId | string,
    headers: RequestAttributes["headers"] = {},
  ): Promise<NamedPredictionResponse> {
    const id = asRequestId(requestId);
    const served = this.endpoints.get(name);
    const target = this.endpoints.pick(
      served,
      attributes(served, headers, () => firstInstanceOf(body)),
    );
    return this.observed(served, target, async () => {
      const instances: Instance[] = decodeInstances(body);
      const prepare: Prepare = (signature) => ({
        inputs: [instancesToTensor(instances, signature)],
        outputs: undefined,
      });
      const answer =
        served.deployment.resilience === undefined
          ? await this.run(served, target, prepare)
          : await this.guarded(served, target, prepare, instances.length, true);
      const logged = loggedInstances(instances);
      this.requestIds.claim(id);
      this.record(served, target, id.logged, logged, answer);
      if (this.monitors?.watches(name) === true)
        this.monitor(served, target, instanceRows(instances, target.signature));
      if (served.hasShadows === true) this.mirror(served, answer, prepare, id.logged, logged);
      const predictions = predictionsFromOutputs(answer.outputs, instances.length);
      if (answer.fallback === undefined) {
        return {
          predictions,
          model_name: name,
          model_version: String(target.version.version),
          request_id: id.logged,
        };
      }
      const version = answeredVersion(answer.fallback);
      return {
        predictions,
        model_name: name,
        ...(version === undefined ? {} : { model_version: version }),
        request_id: id.logged,
        ...fallbackMarker(answer.fallback),
      };
    });
  }

  /**
   * Runs one call under the deployment's deadline. `prepare` turns the request into tensors
   * for the signature of the version actually chosen.
   */
  private async run(served: ServedDeployment, target: ServedVariant, prepare: Prepare): Promise<Answer> {
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
    const outputs = needsTurns(tensors)
      ? await encodeInTurns(tensors, target)
      : encodeOutputs(tensors, target);
    return { outputs, latencyMs: performance.now() - started };
  }

  /**
   * `run` behind the deployment's circuit breaker, with its fallback. The request is checked
   * against the chosen version first, so a client's mistake is a 400 and never a model failure.
   */
  private async guarded(
    served: ServedDeployment,
    target: ServedVariant,
    prepare: Prepare,
    rows: number,
    mayFallBack: boolean,
  ): Promise<Answer> {
    const resilience = served.deployment.resilience as Resilience;
    const name = served.deployment.name;
    const prepared = prepare(target.signature);
    const policy = resilience.circuitBreaker;
    let probe = false;
    if (policy !== undefined) {
      const admission = this.breakers.admit(name, target, policy, this.clock.now());
      if (!admission.admitted) {
        const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        const refusal = unavailable(
          `variant '${target.variant.name}' of '${name}' is failing and its circuit is open; retry after ${seconds} s`,
          { retryAfterSeconds: seconds },
        );
        return this.fallBack(served, target, prepare, rows, mayFallBack, "circuit_open", refusal);
      }
      probe = admission.probe;
    }
    try {
      const answer = await this.run(served, target, () => prepared);
      if (policy !== undefined)
        this.breakers.settle(name, target, policy, this.clock.now(), "success", probe);
      return answer;
    } catch (error) {
      const failure = failureOf(error);
      if (policy !== undefined) {
        const result = failure === null ? "ignored" : "failure";
        this.breakers.settle(name, target, policy, this.clock.now(), result, probe);
      }
      if (failure === null || !(resilience.fallbackOn ?? MODEL_FAILURES).includes(failure)) throw error;
      return this.fallBack(served, target, prepare, rows, mayFallBack, failure, error);
    }
  }

  /** The fallback's answer, or `cause` when there is none (or it fails too). */
  private async fallBack(
    served: ServedDeployment,
    target: ServedVariant,
    prepare: Prepare,
    rows: number,
    mayFallBack: boolean,
    reason: FallbackReason,
    cause: unknown,
  ): Promise<Answer> {
    const fallback = mayFallBack ? served.fallback : undefined;
    if (fallback === undefined || (fallback.kind === "model" && fallback.target === target)) throw cause;
    let answer: Answer;
    if (fallback.kind === "static") {
      answer = {
        outputs: staticOutputs(fallback.outputs, rows, target.signature),
        latencyMs: 0,
        fallback: { reason, by: null },
      };
    } else {
      try {
        const { outputs, latencyMs } = await this.run(served, fallback.target, prepare);
        answer = { outputs, latencyMs, fallback: { reason, by: fallback.target } };
      } catch (error) {
        if (!isBallastError(cause)) throw cause;
        // The fallback's own words may quote a remote server: kept for the log, not the message.
        const why = error instanceof Error ? error.message : String(error);
        throw new BallastError(
          cause.code,
          `${cause.message}; the fallback (${fallback.target.variant.name}) failed too`,
          {
            ...cause.details,
            detail: [cause.details?.detail, why].filter((d) => d !== undefined).join("; "),
          },
        );
      }
    }
    this.observer.fallbackAnswered(served.deployment.name, reason);
    return answer;
  }

  /**
   * Sends a copy of the request to each shadow variant (its weight is the share mirrored) once
   * the live answer is known; never awaited, never affects the response.
   */
  private mirror(
    served: ServedDeployment,
    live: Answer,
    prepare: Prepare,
    requestId: string,
    inputs: LoggedInputs,
  ): void {
    for (const shadow of served.variants) {
      if (shadow.variant.shadow !== true || Math.random() * 100 >= shadow.variant.weight) continue;
      const { model, version } = shadow.version;
      const name = served.deployment.name;
      if (!this.shadows.admit(name, shadow.variant.name, model, version)) continue;
      setImmediate(() => {
        const comparison = this.shadows.of(name, shadow.variant.name, model, version);
        this.run(served, shadow, prepare)
          .then((answer) => {
            const rows = comparableRows(live.outputs, answer.outputs);
            if (rows !== null) comparison.record(rows.live, rows.shadow, answer.latencyMs, rows.scores);
            this.record(served, shadow, requestId, inputs, answer);
          })
          .catch(() => comparison.recordError())
          .finally(() => this.shadows.settled());
      });
    }
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

  /**
   * A fallback's row names the version that answered (for a static answer, the one that
   * failed) under the `served_by` label, and its inputs object carries
   * `fallback: {reason, variant}` naming the variant that was chosen and failed.
   */
  private record(
    served: ServedDeployment,
    target: ServedVariant,
    requestId: string,
    logged: LoggedInputs,
    answer: Answer,
  ): void {
    const fallback = answer.fallback;
    const by = fallback?.by ?? target;
    const inputs = logged.inputs;
    this.log.record(
      {
        requestId,
        deployment: served.deployment.name,
        model: by.version.model,
        modelVersion: by.version.version,
        variant: fallback === undefined ? target.variant.name : servedBy(fallback),
        inputs:
          fallback === undefined
            ? inputs
            : { ...inputs, fallback: { reason: fallback.reason, variant: target.variant.name } },
        outputs: answer.outputs,
        latencyMs: answer.latencyMs,
        createdAt: this.clock.now(),
      },
      logged.bytes + outputBytes(answer.outputs),
    );
  }

  private async observed<T extends InferenceResponse | NamedPredictionResponse>(
    served: ServedDeployment,
    target: ServedVariant,
    work: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let code: InferenceOutcome["code"] = "ok";
    let fallback: FallbackReason | undefined;
    const limit = served.deployment.resilience?.maxConcurrency;
    let admitted = false;
    try {
      if (limit !== undefined) {
        admitted = this.inFlight.enter(served.deployment.name, limit);
        if (!admitted) {
          this.observer.requestShed(served.deployment.name);
          // Shed work clears in about one model call; a second is the smallest Retry-After.
          throw unavailable(
            `'${served.deployment.name}' is at its limit of ${limit} requests in flight; retry after 1 s`,
            { retryAfterSeconds: 1 },
          );
        }
      }
      const response = await work();
      if (served.deployment.resilience !== undefined)
        fallback = fallbackReasonOf(response) as FallbackReason | undefined;
      return response;
    } catch (error) {
      code = isBallastError(error) ? error.code : "internal";
      throw error;
    } finally {
      if (admitted) this.inFlight.leave(served.deployment.name);
      this.observer.observe({
        deployment: served.deployment.name,
        model: target.version.model,
        version: target.version.version,
        variant: target.variant.name,
        code,
        seconds: (performance.now() - started) / 1000,
        fallback,
      });
    }
  }
}

/** A bare string is an id the caller chose, checked for reuse like a client's. */
function asRequestId(id: RequestId | string): RequestId {
  return typeof id === "string" ? new RequestId(id, true) : id;
}

/** What routing reads from a request: headers, and the sticky field when the routing has one. */
function attributes(
  served: ServedDeployment,
  headers: RequestAttributes["headers"],
  fields: () => unknown,
): RequestAttributes | undefined {
  const routing = served.deployment.routing;
  if (routing === undefined) return undefined;
  const sticky = routing.sticky;
  if (sticky === undefined || !("field" in sticky)) return { headers };
  const value = (fields() as Record<string, unknown> | undefined)?.[sticky.field];
  return typeof value === "string" || typeof value === "number"
    ? { headers, stickyField: String(value) }
    : { headers };
}

/** OIP requests carry request-level attributes in `parameters`. */
function parametersOf(body: unknown): unknown {
  return isPlainObject(body) ? body.parameters : undefined;
}

function firstInstanceOf(body: unknown): unknown {
  if (!isPlainObject(body)) return undefined;
  const rows = body.instances ?? body.inputs;
  return Array.isArray(rows) ? rows[0] : undefined;
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

/** Rows of an OIP request: the first input's leading dimension (a scalar input is one row). */
function rowsOf(inputs: readonly Tensor[]): number {
  return inputs[0]?.shape[0] ?? 1;
}

function servedBy(fallback: NonNullable<Answer["fallback"]>): string {
  return fallback.by === null ? STATIC_FALLBACK : fallback.by.variant.name;
}

function fallbackMarker(fallback: NonNullable<Answer["fallback"]>): FallbackMarker {
  return { fallback: true, fallback_reason: fallback.reason, served_by: servedBy(fallback) };
}

/** The version that answered for the fallback; undefined for a static answer. */
function answeredVersion(fallback: NonNullable<Answer["fallback"]>): string | undefined {
  return fallback.by === null ? undefined : String(fallback.by.version.version);
}

/** True when the outputs are large enough (a maximal batch) to be encoded a tensor per turn. */
function needsTurns(tensors: readonly Tensor[]): boolean {
  let elements = 0;
  for (const t of tensors) elements += t.data.length;
  return elements > CHUNK_ELEMENTS;
}

/** encodeOutputs one tensor per turn of the event loop, so other requests are served between. */
async function encodeInTurns(tensors: readonly Tensor[], target: ServedVariant): Promise<JsonTensor[]> {
  const out: JsonTensor[] = [];
  for (const t of tensors) {
    await nextTurn();
    out.push(...encodeOutputs([t], target));
  }
  return out;
}

/**
 * NaN or Infinity from a model is the model failing (a 502, and a reason to fall back), not
 * something to pass on as JSON null. Only float tensors can hold them; other encode failures
 * keep the default blame.
 */
function encodeOutputs(tensors: readonly Tensor[], target: ServedVariant): JsonTensor[] {
  const out = new Array<JsonTensor>(tensors.length);
  try {
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i] as Tensor;
      out[i] = t.datatype.startsWith("FP") ? encodeTensor(t, nonFinite) : encodeTensor(t);
    }
  } catch (error) {
    // Named here rather than in the blame, so the happy path allocates no closure per call.
    if (isBallastError(error) && error.details?.failure === "nan") {
      throw new BallastError(
        error.code,
        `model ${target.version.model} version ${target.version.version} gave an invalid output: ${error.message}`,
        error.details,
      );
    }
    throw error;
  }
  return out;
}

const nonFinite: Blame = (message, details) =>
  new BallastError("upstream", message, { ...details, failure: "nan" });

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
