/**
 * Model performance over time from the prediction log and the feedback joined to it: buckets
 * keyed by *prediction* time, so a label that arrives days later lands in the bucket of the
 * prediction it is about, and each bucket shows its label coverage. Computed at read time, so
 * late and replaced labels are always reflected.
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import type { PredictionRecord } from "../domain/prediction.js";
import type { JoinedFeedback } from "../domain/prediction.js";
import { ClassificationAccumulator, type ClassificationMetrics } from "./performance/classification.js";
import { EventRateAccumulator, type EventRates } from "./performance/events.js";
import { RegressionAccumulator, type RegressionMetrics } from "./performance/regression.js";
import { CbpeAccumulator, type CbpeEstimate } from "./performance/cbpe.js";
import { confusionMetrics } from "./performance/confusion.js";
import type { IsotonicCalibration } from "./performance/isotonic.js";
import type { ModelVersion } from "../domain/model.js";
import { loggedRows } from "./log-drift.js";
import { MISSING_SEGMENT, SegmentKeys, type SegmentSpec } from "./segments.js";

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
  /** The output holding P(positive) per row (the prediction, for regression). */
  readonly score: string;
  readonly threshold: number;
  /** Read the output as a regression's predictions and numeric labels (MAE, RMSE). */
  readonly regression?: boolean;
  /** The label value meaning positive; absent, labels must be 0/1 or booleans. */
  readonly positive?: unknown;
  /**
   * The CBPE calibrator of a model version (null when it has none): with it, each bucket also
   * carries the confidence-based estimate, unlabelled rows counting with their calibrated score.
   */
  readonly calibration?: (model: string, version: number) => Promise<IsotonicCalibration | null>;
  /** Only this variant's predictions. */
  readonly variant?: string;
  /**
   * Also buckets per value of this input feature, read from the logged inputs (named through
   * the version's signature). `keys` carries which values own segments across calls.
   */
  readonly segment?: SegmentSpec & {
    readonly keys?: SegmentKeys;
    readonly versions: (model: string, version: number) => Promise<ModelVersion>;
  };
}

/** With a segment: which values got buckets of their own, and what could not be read. */
export interface SegmentedPerformance {
  readonly feature: string;
  readonly maxValues: number;
  readonly values: string[];
  /** Why rows went to __missing__ (the feature is not in a version's signature, …). */
  readonly problems: string[];
}

export interface PerformanceBucket {
  readonly variant: string;
  /** A segment's bucket (the feature's value, __other__ or __missing__); absent for all rows. */
  readonly segment?: string;
  readonly start: number;
  readonly end: number;
  readonly classification: ClassificationMetrics;
  readonly events: EventRates;
  /** With `regression`: MAE and RMSE over the rows labelled so far. */
  readonly regression?: RegressionMetrics;
  /** With `calibration`: the CBPE estimate, or null with the reason it could not be made. */
  readonly estimate?: CbpeEstimate | null;
  readonly estimateProblem?: string;
}

interface BucketAccumulators {
  variant: string;
  segment: string | undefined;
  start: number;
  cls: ClassificationAccumulator;
  events: EventRateAccumulator;
  reg: RegressionAccumulator;
  /** One per model version: CBPE windows merge only under one calibrator. */
  cbpe: Map<string, CbpeAccumulator>;
  /** Rows whose version has no calibrator (not in the estimate). */
  uncalibrated: number;
}

const MAX_BUCKETS = 10_000;
/** Buckets of all segments together (each segment value has its own series of buckets). */
export const MAX_SEGMENTED_BUCKETS = 100_000;

export async function performanceFromLog(
  log: PerformanceLog,
  query: PerformanceQuery,
): Promise<PerformanceBucket[]> {
  return (await performanceBySegment(log, query)).buckets;
}

/**
 * Buckets of every variant over all its rows and, with `query.segment`, also per segment value
 * (each row counts in both): one scan of the log.
 */
export async function performanceBySegment(
  log: PerformanceLog,
  query: PerformanceQuery,
): Promise<{ buckets: PerformanceBucket[]; segment?: SegmentedPerformance }> {
  if (!(query.since < query.until)) throw invalid("since must be before until");
  if (!Number.isSafeInteger(query.bucketMs) || query.bucketMs < 1000)
    throw invalid("bucket must be at least 1s");
  if ((query.until - query.since) / query.bucketMs > MAX_BUCKETS) {
    throw invalid(`that period has more than ${MAX_BUCKETS} buckets; use a longer bucket`);
  }
  const periods = Math.ceil((query.until - query.since) / query.bucketMs);
  if (query.segment !== undefined && periods * (query.segment.maxValues + 2) > MAX_SEGMENTED_BUCKETS) {
    throw invalid(
      `that period has ${periods} buckets per segment, and ${query.segment.maxValues + 2} segments make more than ${MAX_SEGMENTED_BUCKETS}; use a longer bucket or a smaller maxValues`,
    );
  }
  const buckets = new Map<string, BucketAccumulators>();
  const calibrations = new Map<string, Promise<IsotonicCalibration | null>>();
  const calibrationOf = (model: string, version: number) => {
    const key = `${model}\u0000${version}`;
    let found = calibrations.get(key);
    if (found === undefined && query.calibration !== undefined) {
      found = query.calibration(model, version);
      calibrations.set(key, found);
    }
    return found ?? Promise.resolve(null);
  };
  const segment = query.segment;
  const keys = segment === undefined ? null : (segment.keys ?? new SegmentKeys(segment.maxValues));
  const problems = new Set<string>();
  const versions = new Map<string, Promise<ModelVersion>>();
  /** The segment of each row of a logged request (null without a segment). */
  const segmentsOf = async (p: PredictionRecord, count: number): Promise<string[] | null> => {
    if (segment === undefined || keys === null) return null;
    const key = `${p.model}\u0000${p.modelVersion}`;
    let pending = versions.get(key);
    if (pending === undefined) {
      pending = segment.versions(p.model, p.modelVersion);
      versions.set(key, pending);
    }
    const version = await pending;
    const features = version.signature?.features;
    if (features !== undefined && !features.includes(segment.feature)) {
      problems.add(
        `segment feature '${segment.feature}' is not a feature of ${p.model} version ${p.modelVersion} (features: ${features.join(", ")}); its rows are in __missing__`,
      );
      return Array<string>(count).fill(MISSING_SEGMENT);
    }
    const rows = loggedRows(p.inputs, version);
    if (rows === null || rows.length !== count) {
      problems.add(
        `some logged requests of ${p.model} version ${p.modelVersion} could not be read as named features; their rows are in __missing__`,
      );
      return Array<string>(count).fill(MISSING_SEGMENT);
    }
    return rows.map((row) => keys.keyOf(row[segment.feature]));
  };
  const bucketOf = (variant: string, seg: string | undefined, start: number): BucketAccumulators => {
    const key = `${variant}\u0000${seg === undefined ? "" : `=${seg}`}\u0000${start}`;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = {
        variant,
        segment: seg,
        start,
        cls: new ClassificationAccumulator(),
        events: new EventRateAccumulator(),
        reg: new RegressionAccumulator(),
        cbpe: new Map(),
        uncalibrated: 0,
      };
      buckets.set(key, bucket);
    }
    return bucket;
  };
  for await (const page of log.scan(query.deployment, query.since, query.until)) {
    const feedback = await log.feedbackFor(page.map((p) => p.requestId));
    for (const p of page) {
      if (query.variant !== undefined && p.variant !== query.variant) continue;
      const values =
        query.regression === true ? finiteValuesOf(p.outputs, query.score) : scoresOf(p.outputs, query.score);
      if (values === null) continue;
      const start = Math.floor(p.createdAt / query.bucketMs) * query.bucketMs;
      const overall = bucketOf(p.variant, undefined, start);
      const segments = await segmentsOf(p, values.length);
      const calibration =
        query.calibration === undefined ? null : await calibrationOf(p.model, p.modelVersion);
      const outcomes = feedback.get(p.requestId) ?? [];
      const addRow = (b: BucketAccumulators, value: number, row: number): void => {
        const mine = outcomes.filter((f) => f.row === row);
        const label = mine.find((f) => f.kind === "label")?.label;
        if (query.regression === true) {
          b.reg.add(value, typeof label === "number" && Number.isFinite(label) ? label : null);
        } else {
          const y = binaryLabel(label, query.positive);
          b.cls.add(value, y);
          if (calibration !== null) {
            const versionKey = `${p.model}@${p.modelVersion}`;
            let cbpe = b.cbpe.get(versionKey);
            if (cbpe === undefined) {
              cbpe = new CbpeAccumulator(calibration);
              b.cbpe.set(versionKey, cbpe);
            }
            cbpe.add(value, y);
          } else {
            b.uncalibrated += 1;
          }
        }
        const events: Record<string, number | null> = {};
        for (const f of mine) if (f.kind !== "label") events[f.kind] = f.value;
        b.events.add(events);
      };
      values.forEach((value, row) => {
        const seg = segments?.[row];
        for (const b of seg === undefined ? [overall] : [overall, bucketOf(p.variant, seg, start)])
          addRow(b, value, row);
      });
    }
  }
  const result = [...buckets.values()]
    .sort(
      (a, b) =>
        a.start - b.start ||
        a.variant.localeCompare(b.variant) ||
        (a.segment ?? "").localeCompare(b.segment ?? ""),
    )
    .map((b) => ({
      variant: b.variant,
      ...(b.segment === undefined ? {} : { segment: b.segment }),
      start: b.start,
      end: b.start + query.bucketMs,
      classification: b.cls.metrics(query.threshold),
      events: b.events.rates(),
      ...(query.regression === true ? { regression: b.reg.metrics() } : {}),
      ...(query.calibration === undefined || query.regression === true ? {} : estimateOf(b, query.threshold)),
    }));
  if (segment === undefined || keys === null) return { buckets: result };
  return {
    buckets: result,
    segment: {
      feature: segment.feature,
      maxValues: segment.maxValues,
      values: keys.values(),
      problems: [...problems],
    },
  };
}

/** The bucket's CBPE estimate; rows of several versions add their expected confusion matrices. */
function estimateOf(
  b: BucketAccumulators,
  threshold: number,
): { estimate: CbpeEstimate | null; estimateProblem?: string } {
  const parts = [...b.cbpe.values()].map((c) => c.estimate(threshold));
  if (parts.length === 0) {
    return {
      estimate: null,
      estimateProblem:
        b.uncalibrated > 0
          ? "the model version has no calibration in its reference profile"
          : "no predictions in this bucket",
    };
  }
  const problem =
    b.uncalibrated > 0
      ? { estimateProblem: `${b.uncalibrated} rows of versions without a calibration are left out` }
      : {};
  if (parts.length === 1) return { estimate: parts[0] as CbpeEstimate, ...problem };
  const sum = (pick: (e: CbpeEstimate) => number) => parts.reduce((s, e) => s + pick(e), 0);
  const tp = sum((e) => e.tp);
  const fp = sum((e) => e.fp);
  const fn = sum((e) => e.fn);
  const tn = sum((e) => e.tn);
  const confusion = confusionMetrics({ tp, fp, fn, tn });
  return {
    estimate: {
      count: sum((e) => e.count),
      labelled: sum((e) => e.labelled),
      threshold,
      tp,
      fp,
      fn,
      tn,
      accuracy: confusion.accuracy,
      precision: confusion.precision,
      recall: confusion.recall,
      f1: confusion.f1,
      rocAuc: null,
      rocAucErrorBound: null,
      reasons: {
        ...confusion.reasons,
        rocAuc:
          "predictions of several model versions in one bucket: their calibrated scores do not rank together",
      },
    },
    ...problem,
  };
}

/** A feedback label as 0/1: equal to `positive` when one is named, else 0/1 or a boolean. */
export function binaryLabel(label: unknown, positive: unknown): 0 | 1 | null {
  if (label === undefined || label === null) return null;
  if (positive !== undefined) return label === positive ? 1 : 0;
  return label === 0 || label === 1 ? label : label === true ? 1 : label === false ? 0 : null;
}

/** The per-row scores of one logged response, or null when it has no such output. */
function scoresOf(outputs: unknown, name: string): number[] | null {
  if (!Array.isArray(outputs)) return null;
  const output = outputs.find((o) => isPlainObject(o) && o.name === name) as { data?: unknown } | undefined;
  if (output === undefined || !Array.isArray(output.data)) return null;
  const scores = output.data.filter((v): v is number => typeof v === "number" && v >= 0 && v <= 1);
  return scores.length === output.data.length ? scores : null;
}

/** The per-row numbers of one logged response (regression), or null when it has no such output. */
function finiteValuesOf(outputs: unknown, name: string): number[] | null {
  if (!Array.isArray(outputs)) return null;
  const output = outputs.find((o) => isPlainObject(o) && o.name === name) as { data?: unknown } | undefined;
  if (output === undefined || !Array.isArray(output.data)) return null;
  const values = output.data.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  return values.length === output.data.length ? values : null;
}
