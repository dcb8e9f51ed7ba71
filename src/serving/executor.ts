/**
 * Carries out an inference plan: the primary variant runs under the deployment's deadline;
 * with `resilience`, behind its circuit breaker, with requests beyond `maxConcurrency` shed and
 * the plan's fallback chain answering for a failure. A deployment without `resilience` takes
 * the plain path, with no extra timers or objects per request.
 */
import { performance } from "node:perf_hooks";
import { BallastError, isBallastError, unavailable } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { Tensor } from "../domain/tensor.js";
import { MODEL_FAILURES, type Resilience } from "../domain/model.js";
import { encodeTensor, type Blame, type JsonTensor } from "../domain/tensor-json.js";
import { CHUNK_ELEMENTS, nextTurn } from "../domain/json-chunks.js";
import type { ServedDeployment, ServedVariant } from "./endpoints.js";
import type { ModelPool } from "./model-pool.js";
import type { InferencePlan } from "./plan.js";
import type { DecodedRequest, Prepared } from "./codecs/codec.js";
import type { Answer } from "./answer.js";

export type { Answer } from "./answer.js";
import {
  Breakers,
  IGNORE_RESILIENCE_EVENTS,
  InFlight,
  failureOf,
  type FallbackReason,
  type ResilienceEvents,
} from "./resilience.js";
import { staticOutputs } from "./static-response.js";

const NO_SLOT = (): void => {};

export class Executor {
  private readonly breakers: Breakers;
  private readonly inFlight = new InFlight();

  constructor(
    private readonly pool: ModelPool,
    private readonly clock: Clock,
    private readonly events: ResilienceEvents = IGNORE_RESILIENCE_EVENTS,
  ) {
    this.breakers = new Breakers(events);
  }

  /**
   * Takes one of the deployment's request slots (load shedding); returns what gives it back.
   * Throws `unavailable` (with Retry-After) when the deployment is at its limit.
   */
  enter(served: ServedDeployment): () => void {
    const limit = served.deployment.resilience?.maxConcurrency;
    if (limit === undefined) return NO_SLOT;
    const name = served.deployment.name;
    if (!this.inFlight.enter(name, limit)) {
      this.events.requestShed(name);
      // Shed work clears in about one model call; a second is the smallest Retry-After.
      throw unavailable(`'${name}' is at its limit of ${limit} requests in flight; retry after 1 s`, {
        retryAfterSeconds: 1,
      });
    }
    return () => this.inFlight.leave(name);
  }

  /** The plan's answer: the primary's, or a fallback's when the primary failed and one may stand in. */
  execute(plan: InferencePlan, request: DecodedRequest, signal?: AbortSignal): Promise<Answer> {
    if (plan.ensemble !== undefined)
      return Promise.reject(new BallastError("internal", "ensembles are not served yet"));
    return plan.deployment.deployment.resilience === undefined
      ? this.run(plan.deployment, plan.primary, request.prepare(plan.primary.signature), signal)
      : this.guarded(plan, request, signal);
  }

  /** One plain run of `target` (a shadow's copy of the request). */
  runOne(served: ServedDeployment, target: ServedVariant, request: DecodedRequest): Promise<Answer> {
    try {
      return this.run(served, target, request.prepare(target.signature));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs one call under the deployment's deadline. `signal`: the caller gave up (a router's
   * deadline); a remote call is aborted then, so the request does not run on unattended.
   */
  private async run(
    served: ServedDeployment,
    target: ServedVariant,
    prepared: Prepared,
    signal?: AbortSignal,
  ): Promise<Answer> {
    const lease = this.pool.lease(target.version.model, target.version.version);
    let running: Promise<Tensor[]>;
    let controller: AbortController | undefined;
    const started = performance.now();
    try {
      controller = lease.model.cancellable === true ? new AbortController() : undefined;
      if (controller !== undefined && signal !== undefined) {
        const c = controller;
        if (signal.aborted) c.abort(signal.reason);
        else signal.addEventListener("abort", () => c.abort(signal.reason), { once: true });
      }
      running = lease.model.infer(prepared.inputs, { outputs: prepared.outputs, signal: controller?.signal });
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
   * `run` behind the deployment's circuit breaker, with its fallback chain. The request is
   * checked against the chosen version first, so a client's mistake is a 400 and never a
   * model failure.
   */
  private async guarded(plan: InferencePlan, request: DecodedRequest, signal?: AbortSignal): Promise<Answer> {
    const served = plan.deployment;
    const target = plan.primary;
    const resilience = served.deployment.resilience as Resilience;
    const name = served.deployment.name;
    const prepared = request.prepare(target.signature);
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
        return this.fallBack(plan, request, "circuit_open", refusal);
      }
      probe = admission.probe;
    }
    try {
      const answer = await this.run(served, target, prepared, signal);
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
      // The caller has gone: no fallback is owed an answer nobody waits for.
      if (signal?.aborted === true) throw error;
      return this.fallBack(plan, request, failure, error);
    }
  }

  /** The first answer of the plan's fallback chain, or `cause` when there is none (or all fail). */
  private async fallBack(
    plan: InferencePlan,
    request: DecodedRequest,
    reason: FallbackReason,
    cause: unknown,
  ): Promise<Answer> {
    if (plan.fallbacks.length === 0) throw cause;
    const failed: Array<{ name: string; why: string }> = [];
    for (const fallback of plan.fallbacks) {
      let answer: Answer;
      if (fallback.kind === "static") {
        answer = {
          outputs: staticOutputs(fallback.outputs, request.rows, plan.primary.signature),
          latencyMs: 0,
          fallback: { reason, by: null },
        };
      } else {
        try {
          const { outputs, latencyMs } = await this.runOne(plan.deployment, fallback.target, request);
          answer = { outputs, latencyMs, fallback: { reason, by: fallback.target } };
        } catch (error) {
          if (!isBallastError(cause)) throw cause;
          // The fallback's own words may quote a remote server: kept for the log, not the message.
          failed.push({
            name: fallback.target.variant.name,
            why: error instanceof Error ? error.message : String(error),
          });
          continue;
        }
      }
      this.events.fallbackAnswered(plan.deployment.deployment.name, reason);
      return answer;
    }
    if (!isBallastError(cause)) throw cause;
    throw new BallastError(
      cause.code,
      `${cause.message}; the fallback (${failed.map((f) => f.name).join(", ")}) failed too`,
      {
        ...cause.details,
        detail: [cause.details?.detail, ...failed.map((f) => f.why)]
          .filter((d) => d !== undefined)
          .join("; "),
      },
    );
  }
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
