/**
 * The request path, one pipeline for every protocol: a codec decodes the body, the plan says
 * who answers (primary, fallback chain, shadows), the executor runs it under the deadline and
 * the breaker, the taps hear of the answer (log, monitors, metrics, traffic meter), shadows
 * get their copies, and the codec encodes the answer. Nothing here waits on the store.
 */
import { performance } from "node:perf_hooks";
import { isBallastError } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { Endpoints, ServedDeployment } from "./endpoints.js";
import type { ModelPool } from "./model-pool.js";
import type { RequestAttributes } from "./routing.js";
import { plan, type InferencePlan } from "./plan.js";
import { Executor, type Answer } from "./executor.js";
import { IGNORE_RESILIENCE_EVENTS, type FallbackReason, type ResilienceEvents } from "./resilience.js";
import { RequestId, RequestIds } from "./request-ids.js";
import { Mirrors } from "./shadows.js";
import type { Codec, DecodedRequest } from "./codecs/codec.js";
import { OIP_V2, type InferenceResponse } from "./codecs/oip-v2.js";
import { V1, type NamedPredictionResponse } from "./codecs/v1.js";
import type { InferenceOutcome, InferenceTap } from "./taps.js";
import { isPlainObject } from "../domain/json-value.js";

export type { InferenceResponse } from "./codecs/oip-v2.js";
export type { NamedPredictionResponse } from "./codecs/v1.js";
export type { FallbackMarker } from "./codecs/codec.js";
export type { InferenceObserver, InferenceOutcome, InferenceTap } from "./taps.js";

export interface InferenceOptions {
  /** Registered by the composition root; called in order. */
  readonly taps?: readonly InferenceTap[];
  /** Breaker, fallback and shedding events (metrics). */
  readonly events?: ResilienceEvents;
  /** Uniform numbers in [0, 1) for the split and the shadows' shares. */
  readonly random?: () => number;
  readonly requestIds?: RequestIds;
}

/** The fallback reason of a response, for the route to put in a header; undefined when none. */
export function fallbackReasonOf(response: InferenceResponse | NamedPredictionResponse): string | undefined {
  const reason = "outputs" in response ? response.parameters?.fallback_reason : response.fallback_reason;
  return typeof reason === "string" ? reason : undefined;
}

export class InferenceService {
  private readonly executor: Executor;
  /** Mirrored calls in flight (bounded). */
  readonly shadows: Mirrors;
  private readonly taps: readonly InferenceTap[];
  private readonly random: () => number;
  private readonly requestIds: RequestIds;

  constructor(
    private readonly endpoints: Endpoints,
    pool: ModelPool,
    private readonly clock: Clock,
    options: InferenceOptions = {},
  ) {
    this.executor = new Executor(pool, clock, options.events ?? IGNORE_RESILIENCE_EVENTS);
    this.taps = options.taps ?? [];
    this.random = options.random ?? Math.random;
    this.requestIds = options.requestIds ?? new RequestIds();
    this.shadows = new Mirrors();
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer`. */
  infer(
    name: string,
    versionInPath: string | undefined,
    body: unknown,
    requestId: RequestId | string,
    headers: RequestAttributes["headers"] = {},
    /** The caller gives up (a router's deadline): a remote call in flight is aborted. */
    signal?: AbortSignal,
  ): Promise<InferenceResponse> {
    return this.serve(OIP_V2, name, versionInPath, body, requestId, headers, signal);
  }

  /** `POST /v1/models/{name}:predict` with named features. */
  predict(
    name: string,
    body: unknown,
    requestId: RequestId | string,
    headers: RequestAttributes["headers"] = {},
  ): Promise<NamedPredictionResponse> {
    return this.serve(V1, name, undefined, body, requestId, headers);
  }

  private async serve<R>(
    codec: Codec<R>,
    name: string,
    version: string | undefined,
    body: unknown,
    requestId: RequestId | string,
    headers: RequestAttributes["headers"],
    signal?: AbortSignal,
  ): Promise<R> {
    const id = typeof requestId === "string" ? new RequestId(requestId, true) : requestId;
    const served = this.endpoints.get(name);
    const chosen = plan(served, planRequest(served, headers, version, codec, body), this.random);
    const started = performance.now();
    let code: InferenceOutcome["code"] = "ok";
    let fallback: FallbackReason | undefined;
    let leave: (() => void) | undefined;
    try {
      leave = this.executor.enter(served);
      const request = codec.decode(body);
      const answer = await this.executor.execute(chosen, request, signal);
      fallback = answer.fallback?.reason;
      this.requestIds.claim(id);
      const at = this.clock.now();
      const answered = {
        deployment: served,
        variant: chosen.primary,
        requestId: id.logged,
        request,
        answer,
        at,
      };
      for (const tap of this.taps) tap.answered?.(answered);
      if (chosen.shadows.length > 0) this.mirror(chosen, request, answer, id.logged);
      return codec.encode({
        deployment: name,
        request,
        requestId: id.logged,
        version: chosen.primary.version.version,
        answer,
      });
    } catch (error) {
      code = isBallastError(error) ? error.code : "internal";
      throw error;
    } finally {
      leave?.();
      const target = chosen.primary;
      const outcome: InferenceOutcome = {
        deployment: name,
        model: target.version.model,
        version: target.version.version,
        variant: target.variant.name,
        code,
        seconds: (performance.now() - started) / 1000,
        fallback,
      };
      for (const tap of this.taps) tap.finished?.(outcome);
    }
  }

  /**
   * Sends a copy of the request to each shadow the plan drew once the live answer is known;
   * never awaited, never affects the response.
   */
  private mirror(chosen: InferencePlan, request: DecodedRequest, live: Answer, requestId: string): void {
    const served: ServedDeployment = chosen.deployment;
    for (const shadow of chosen.shadows) {
      const ref = {
        deployment: served.deployment.name,
        variant: shadow.variant.name,
        model: shadow.version.model,
        version: shadow.version.version,
      };
      if (!this.shadows.admit()) {
        for (const tap of this.taps) tap.shadowSkipped?.(ref);
        continue;
      }
      setImmediate(() => {
        this.executor
          .runOne(served, shadow, request)
          .then((answer) => {
            const answered = {
              deployment: served,
              variant: shadow,
              requestId,
              request,
              answer,
              live,
              at: this.clock.now(),
            };
            for (const tap of this.taps) tap.shadowAnswered?.(answered);
          })
          .catch(() => {
            for (const tap of this.taps) tap.shadowFailed?.(ref);
          })
          .finally(() => this.shadows.settled());
      });
    }
  }
}

/** What the plan reads from a request: headers, the sticky field when the routing has one, a version. */
function planRequest(
  served: ServedDeployment,
  headers: RequestAttributes["headers"],
  version: string | undefined,
  codec: Codec<unknown>,
  body: unknown,
): { headers: RequestAttributes["headers"]; stickyField?: string; version?: string } {
  if (version !== undefined) return { headers, version };
  const sticky = served.deployment.routing?.sticky;
  if (sticky === undefined || !("field" in sticky)) return { headers };
  const fields = codec.stickyFields(body);
  const value = isPlainObject(fields) ? fields[sticky.field] : undefined;
  return typeof value === "string" || typeof value === "number"
    ? { headers, stickyField: String(value) }
    : { headers };
}
