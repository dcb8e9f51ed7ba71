/**
 * A KPI trigger's reading, from the deployment's performance monitor: the latest evaluation's
 * buckets that overlap the trailing window, over every variant, weighted by their labelled rows
 * (the rows each bucket's value was computed on). Reading the monitor rather than rescanning the
 * log keeps one computation of each metric (the monitor's output, threshold, event and label
 * rules) and costs nothing per tick. For a window of one bucket the value is the bucket's; over
 * several, a label-weighted mean (exact for rates and accuracy, an approximation for AUC).
 */
import type { PerformanceMonitorStatus } from "../../monitoring/performance-monitors.js";
import type { KpiReading } from "./decide.js";
import type { KpiTrigger } from "./trigger-spec.js";

export type KpiAnswer = KpiReading | { readonly problem: string };

export interface KpiSource {
  read(trigger: KpiTrigger, now: number): KpiAnswer;
}

/** Reads from the performance monitors' statuses (`performance.list()`). */
export function monitorKpis(list: () => readonly PerformanceMonitorStatus[]): KpiSource {
  return {
    read(trigger, now) {
      const monitors = list().filter(
        (m) =>
          m.spec.deployment === trigger.deployment &&
          m.spec.metric === trigger.metric &&
          (trigger.event === undefined || m.spec.event === trigger.event),
      );
      const what = trigger.event === undefined ? trigger.metric : `${trigger.metric} of ${trigger.event}`;
      if (monitors.length === 0)
        return { problem: `no performance monitor of deployment ${trigger.deployment} measures ${what}` };
      // The one evaluated most recently, when several measure the same thing.
      const monitor = [...monitors].sort(
        (a, b) => (b.latest?.at ?? 0) - (a.latest?.at ?? 0),
      )[0] as PerformanceMonitorStatus;
      const latest = monitor.latest;
      if (latest === null)
        return { problem: `performance monitor ${monitor.spec.name} has not evaluated yet` };
      return readingOf(monitor.spec.name, latest.variants, trigger.windowMs, now);
    },
  };
}

export function readingOf(
  monitor: string,
  variants: ReadonlyArray<{
    readonly buckets: ReadonlyArray<{ start: number; end: number; labelled: number; value: number | null }>;
  }>,
  windowMs: number,
  now: number,
): KpiReading {
  let weighted = 0;
  let labelled = 0;
  let buckets = 0;
  for (const v of variants) {
    for (const b of v.buckets) {
      if (b.end <= now - windowMs || b.start >= now || b.value === null || b.labelled <= 0) continue;
      weighted += b.value * b.labelled;
      labelled += b.labelled;
      buckets += 1;
    }
  }
  return { monitor, value: labelled === 0 ? null : weighted / labelled, labelled, buckets };
}
