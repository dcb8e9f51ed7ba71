/**
 * What starts a pipeline run: a monitor's alert, a KPI below its threshold, a schedule, files
 * arriving, or a person. Parsed once from the Pipeline's `triggers` list.
 */
import type { JsonValue } from "../../domain/json-value.js";

export interface TriggerSpec {
  /** alert | kpi | schedule | files | manual */
  readonly kind: string;
  readonly spec: Readonly<Record<string, JsonValue>>;
}

/** Checks a Pipeline's `triggers` list; errors name the field (`triggers[1].schedule.cron`). */
export function parseTriggers(raw: unknown, field: string): TriggerSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new TypeError(`${field} must be a list`);
  return raw.map((t, i) => {
    if (t === "manual") return { kind: "manual", spec: {} };
    if (typeof t !== "object" || t === null || Array.isArray(t) || Object.keys(t).length !== 1) {
      throw new TypeError(`${field}[${i}] must name one trigger kind`);
    }
    const [kind, spec] = Object.entries(t as Record<string, JsonValue>)[0]!;
    return { kind, spec: (spec ?? {}) as Readonly<Record<string, JsonValue>> };
  });
}
