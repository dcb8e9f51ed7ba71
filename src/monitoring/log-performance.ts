/**
 * Model performance over time from the prediction log and the feedback joined to it: buckets
 * keyed by *prediction* time, so a label that arrives days later lands in the bucket of the
 * prediction it is about, and each bucket shows its label coverage. Computed at read time, so
 * late and replaced labels are always reflected.
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import type { PredictionRecord } from "../domain/prediction.js";
import type { JoinedFeedback } from "../serving/prediction-store.js";
import { ClassificationAccumulator, type ClassificationMetrics } from "./performance/classification.js";
import { EventRateAccumulator, type EventRates } from "./performance/events.js";

export interface PerformanceLog {
  scan(deployment: string, since: number, until: number): AsyncIterable<readonly PredictionRecord[]>;
  feedbackFor(requestIds: string[]): Promise<Map<string, JoinedFeedback[]>>;
}

export interface PerformanceQuery {
  readonly deployment: string;
  readonly since: number;
  readonly until: number;
  /** Bucket length in ms (aligned to the epoch). */
  readonly bucketMs: number;
  /** The output holding P(positive) per row. */
  readonly score: string;
  readonly threshold: number;
}

export interface PerformanceBucket {
  readonly variant: string;
  readonly start: number;
  readonly end: number;
  readonly classification: ClassificationMetrics;
  readonly events: EventRates;
}

const MAX_BUCKETS = 10_000;

export async function performanceFromLog(
  log: PerformanceLog,
  query: PerformanceQuery,
): Promise<PerformanceBucket[]> {
  if (!(query.since < query.until)) throw invalid("since must be before until");
  if (!Number.isSafeInteger(query.bucketMs) || query.bucketMs < 1000)
    throw invalid("bucket must be at least 1s");
  if ((query.until - query.since) / query.bucketMs > MAX_BUCKETS) {
    throw invalid(`that period has more than ${MAX_BUCKETS} buckets; use a longer bucket`);
  }
  const buckets = new Map<
    string,
    { variant: string; start: number; cls: ClassificationAccumulator; events: EventRateAccumulator }
  >();
  for await (const page of log.scan(query.deployment, query.since, query.until)) {
    const feedback = await log.feedbackFor(page.map((p) => p.requestId));
    for (const p of page) {
      const scores = scoresOf(p.outputs, query.score);
      if (scores === null) continue;
      const start = Math.floor(p.createdAt / query.bucketMs) * query.bucketMs;
      const key = `${p.variant}\u0000${start}`;
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = {
          variant: p.variant,
          start,
          cls: new ClassificationAccumulator(),
          events: new EventRateAccumulator(),
        };
        buckets.set(key, bucket);
      }
      const outcomes = feedback.get(p.requestId) ?? [];
      scores.forEach((score, row) => {
        const mine = outcomes.filter((f) => f.row === row);
        const label = mine.find((f) => f.kind === "label")?.label;
        bucket.cls.add(
          score,
          label === 0 || label === 1 ? label : label === true ? 1 : label === false ? 0 : null,
        );
        const events: Record<string, number | null> = {};
        for (const f of mine) if (f.kind !== "label") events[f.kind] = f.value;
        bucket.events.add(events);
      });
    }
  }
  return [...buckets.values()]
    .sort((a, b) => a.start - b.start || a.variant.localeCompare(b.variant))
    .map((b) => ({
      variant: b.variant,
      start: b.start,
      end: b.start + query.bucketMs,
      classification: b.cls.metrics(query.threshold),
      events: b.events.rates(),
    }));
}

/** The per-row scores of one logged response, or null when it has no such output. */
function scoresOf(outputs: unknown, name: string): number[] | null {
  if (!Array.isArray(outputs)) return null;
  const output = outputs.find((o) => isPlainObject(o) && o.name === name) as { data?: unknown } | undefined;
  if (output === undefined || !Array.isArray(output.data)) return null;
  const scores = output.data.filter((v): v is number => typeof v === "number" && v >= 0 && v <= 1);
  return scores.length === output.data.length ? scores : null;
}
