/**
 * What a pipeline run announces when it ends: `ValidationFailed` when its candidate was stopped
 * at validation (every failing gate listed), and `RunFinished` for every run that ends. The
 * orchestrator calls `recordRunEvent`; the announcer (wired in ballast.ts) writes the event log
 * and delivers to the Notifiers subscribed to the reason. Recording never throws into the run:
 * a failure to announce is the announcer's to count.
 */
import type { JsonValue } from "../domain/json-value.js";
import type { NewEvent } from "../events/event-log.js";
import { RegistryReason } from "../registry/registry-events.js";

/** Records an event and delivers it to the Notifiers subscribed to its reason. */
export interface Announcer {
  announce(event: NewEvent): Promise<void>;
}

export type RunEvent =
  | {
      readonly type: "validation-failed";
      readonly pipeline: string;
      readonly runId: string;
      /** The validate step's name. */
      readonly step: string;
      /** Every failing gate or smoke test, as people read it ("auc 0.71 < threshold 0.8"). */
      readonly reasons: readonly string[];
      readonly metrics?: Readonly<Record<string, JsonValue>>;
    }
  | {
      readonly type: "run-finished";
      readonly pipeline: string;
      readonly runId: string;
      readonly state: "Succeeded" | "Failed" | "Cancelled";
      /** Why it failed or was cancelled; for a success, what it did. */
      readonly reason?: string;
      /** What started it (the run's trigger reason). */
      readonly trigger?: string;
      readonly registered?: { readonly model: string; readonly version: number };
      readonly rolloutStarted?: boolean;
      readonly durationMs?: number;
    };

/** The event a run event becomes (pure): kind Pipeline, the pipeline's name, a RegistryReason. */
export function runEventOf(e: RunEvent): NewEvent {
  if (e.type === "validation-failed") {
    return {
      kind: "Pipeline",
      name: e.pipeline,
      type: "Warning",
      reason: RegistryReason.ValidationFailed,
      message: `run ${e.runId}: the candidate failed validation (${e.step}): ${e.reasons.join("; ")}`,
      details: {
        run: e.runId,
        step: e.step,
        reasons: [...e.reasons],
        ...(e.metrics === undefined ? {} : { metrics: e.metrics }),
      },
    };
  }
  const registered =
    e.registered === undefined ? "" : `; registered ${e.registered.model} version ${e.registered.version}`;
  const rollout = e.rolloutStarted === true ? "; rollout started" : "";
  const why = e.reason === undefined ? "" : `: ${e.reason}`;
  return {
    kind: "Pipeline",
    name: e.pipeline,
    type: e.state === "Succeeded" ? "Normal" : "Warning",
    reason: RegistryReason.RunFinished,
    message: `run ${e.runId} ${e.state.toLowerCase()}${why}${registered}${rollout}`,
    details: {
      run: e.runId,
      state: e.state,
      ...(e.reason === undefined ? {} : { reason: e.reason }),
      ...(e.trigger === undefined ? {} : { trigger: e.trigger }),
      ...(e.registered === undefined ? {} : { registered: { ...e.registered } }),
      ...(e.rolloutStarted === undefined ? {} : { rolloutStarted: e.rolloutStarted }),
      ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }),
    },
  };
}

/** For the orchestrator: records the run's event and tells the subscribed Notifiers. */
export async function recordRunEvent(announcer: Announcer, event: RunEvent): Promise<void> {
  await announcer.announce(runEventOf(event));
}
