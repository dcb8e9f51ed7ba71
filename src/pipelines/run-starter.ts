/**
 * How triggers (alerts, KPIs, schedules, files, a person) start a pipeline run. The orchestrator
 * (run-controller.ts) implements it; a start it refuses (a run already going, a cooldown) is
 * answered with the reason rather than thrown, so a trigger can record why nothing started.
 */
import type { JsonValue } from "../domain/json-value.js";

export interface RunStarter {
  start(
    pipeline: string,
    request: {
      params?: Record<string, string>;
      trigger: { kind: string; reason: string; details?: Record<string, JsonValue> };
    },
  ): Promise<{ started: true; runId: string } | { started: false; reason: string }>;
}
