/**
 * What the request path tells the rest of Ballast, and nothing more: the composition root
 * registers taps (the prediction log, monitors, the shadow comparison, metrics and the rollout
 * traffic meter) and serving calls each one synchronously. A tap must only append to something
 * bounded; anything slower belongs off the path, behind the tap.
 */
import type { ErrorCode } from "../domain/errors.js";
import type { DecodedRequest } from "./codecs/codec.js";
import { servedBy } from "./codecs/codec.js";
import type { ServedDeployment, ServedVariant } from "./endpoints.js";
import type { Answer } from "./executor.js";
import { outputBytes } from "./logged-inputs.js";
import type { PredictionLog } from "./prediction-log.js";
import type { FallbackReason } from "./resilience.js";

/** Every request that reached a deployment, answered or not (shed ones included). */
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

/** Something that counts outcomes (metrics, the rollout traffic meter); a `finished` tap calls it. */
export interface InferenceObserver {
  observe(outcome: InferenceOutcome): void;
}

/** A request answered: by `variant` (the one the plan chose), or a fallback standing in for it. */
export interface Answered {
  readonly deployment: ServedDeployment;
  readonly variant: ServedVariant;
  /** The id the answer is logged under. */
  readonly requestId: string;
  readonly request: DecodedRequest;
  readonly answer: Answer;
  readonly at: number;
}

/** A shadow's answer to its copy of a request, with the live answer it is compared with. */
export interface ShadowAnswered extends Answered {
  readonly live: Answer;
}

/** Which shadow a mirror was for. */
export interface ShadowRef {
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
}

/** Each hook is optional; each is called at most once per event. */
export interface InferenceTap {
  /** Once per request answered (not for errors, nor for shed requests). */
  answered?(answered: Answered): void;
  /** Once per request that reached a deployment, after it was answered or failed. */
  finished?(outcome: InferenceOutcome): void;
  /** A shadow answered its copy of a request. */
  shadowAnswered?(answered: ShadowAnswered): void;
  /** A shadow failed its copy. */
  shadowFailed?(shadow: ShadowRef): void;
  /** A mirror was skipped: too many mirrors in flight. */
  shadowSkipped?(shadow: ShadowRef): void;
}

/**
 * The prediction log as a tap: one row per answer, shadows' answers included (under the
 * shadow's variant name and the same request id). A fallback's row names the version that
 * answered (for a static answer, the one that failed) under the `served_by` label, and its
 * inputs object carries `fallback: {reason, variant}` naming the variant that was chosen and
 * failed.
 */
export function predictionLogTap(log: PredictionLog): InferenceTap {
  const record = ({ deployment, variant, requestId, request, answer, at }: Answered): void => {
    const fallback = answer.fallback;
    const by = fallback?.by ?? variant;
    const logged = request.logged();
    const inputs = logged.inputs;
    log.record(
      {
        requestId,
        deployment: deployment.deployment.name,
        model: by.version.model,
        modelVersion: by.version.version,
        variant: fallback === undefined ? variant.variant.name : servedBy(fallback),
        inputs:
          fallback === undefined
            ? inputs
            : { ...inputs, fallback: { reason: fallback.reason, variant: variant.variant.name } },
        outputs: answer.outputs,
        latencyMs: answer.latencyMs,
        createdAt: at,
      },
      logged.bytes + outputBytes(answer.outputs),
    );
  };
  return { answered: record, shadowAnswered: record };
}
