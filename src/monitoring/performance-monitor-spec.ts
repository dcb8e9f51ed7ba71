/**
 * A performance monitor (`type: performance`): a model metric over buckets of prediction time,
 * recomputed as labels arrive, judged against a condition. Same resource as a drift monitor;
 * the fields shared with it (name, deployment, severity, alert, notifiers) are parsed by the
 * same code, so errors read alike.
 */
import { invalid } from "../domain/errors.js";
import { parseDuration } from "../domain/duration.js";
import { isPlainObject } from "../domain/json-value.js";
import type { AlertRule } from "../alerts/lifecycle.js";
import type { NotifierConfig } from "../alerts/notifiers/index.js";
import { parseAlerting, parseMonitorTarget, type Severity } from "./monitor-common-spec.js";
import { parseSegmentSpec, type SegmentSpec } from "./segments.js";
import { MAX_SEGMENTED_BUCKETS } from "./log-performance.js";

export const PERFORMANCE_METRICS = [
  "accuracy",
  "precision",
  "recall",
  "f1",
  "roc_auc",
  "log_loss",
  "mae",
  "rmse",
  "event_rate",
] as const;
export type PerformanceMetric = (typeof PERFORMANCE_METRICS)[number];

/** Metrics where a larger value is worse (a "drop" in performance is a rise). */
export const LOWER_IS_BETTER: ReadonlySet<PerformanceMetric> = new Set(["log_loss", "mae", "rmse"]);
export const REGRESSION_METRICS: ReadonlySet<PerformanceMetric> = new Set(["mae", "rmse"]);
/** What CBPE can estimate from calibrated confidence (log loss needs the labels themselves). */
export const ESTIMABLE_METRICS: ReadonlySet<PerformanceMetric> = new Set([
  "accuracy",
  "precision",
  "recall",
  "f1",
  "roc_auc",
]);

/**
 * When the metric is breached: below or above a fixed bound, or worse than a known baseline
 * by more than `maxDrop` (absolute, or a fraction of the baseline when `relative`).
 */
export type PerformanceCondition =
  | { readonly below: number }
  | { readonly above: number }
  | { readonly baseline: number; readonly maxDrop: number; readonly relative: boolean };

export interface PerformanceWindow {
  /** Bucket length as a duration ("1h"); buckets are keyed by prediction time, epoch-aligned. */
  readonly bucket: string;
  /** How many recent buckets are recomputed on each evaluation (labels keep arriving for them). */
  readonly buckets: number;
}

export interface PerformanceMonitorSpec {
  readonly type: "performance";
  readonly name: string;
  readonly deployment: string;
  readonly metric: PerformanceMetric;
  /** For event_rate: the feedback event counted (click, conversion, …). */
  readonly event?: string;
  /** The model output holding P(positive) for classifiers, the prediction for regression. */
  readonly output: string;
  /** Classifiers: scores at or above this are predicted positive. */
  readonly decisionThreshold: number;
  /** Classifiers: the label value meaning positive; absent, labels must be 0/1 or booleans. */
  readonly positive?: string | number | boolean;
  readonly condition: PerformanceCondition;
  readonly window: PerformanceWindow;
  /** Buckets with fewer labelled rows (predictions, for event_rate) are not judged on them. */
  readonly minSamples: number;
  /** `cbpe`: buckets short of labels are judged on the confidence-based estimate instead. */
  readonly estimate: "none" | "cbpe";
  /** How often the recent buckets are recomputed, as a duration. */
  readonly evaluateEvery: string;
  readonly severity: Severity;
  readonly alert: AlertRule;
  readonly notifiers: readonly NotifierConfig[];
  /** Also judge each value of this input feature (read from the logged inputs) on its own. */
  readonly segment?: SegmentSpec;
}

const FIELDS = [
  "type",
  "name",
  "deployment",
  "metric",
  "event",
  "output",
  "decisionThreshold",
  "positive",
  "condition",
  "window",
  "minSamples",
  "estimate",
  "evaluateEvery",
  "severity",
  "alert",
  "notifiers",
  "segment",
];

const MAX_BUCKETS = 1000;
const MIN_BUCKET_MS = 60_000;
const MIN_EVALUATE_MS = 1000;

export function parsePerformanceMonitorSpec(raw: unknown, name?: string): PerformanceMonitorSpec {
  if (!isPlainObject(raw)) throw invalid("monitor must be an object");
  if (raw.type !== "performance") throw invalid("type must be performance");
  const unknown = Object.keys(raw).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) {
    throw invalid(`performance monitor has unknown field '${unknown[0]}'; expected ${FIELDS.join(", ")}`);
  }
  const target = parseMonitorTarget(raw, name);
  const metric = raw.metric;
  if (typeof metric !== "string" || !(PERFORMANCE_METRICS as readonly string[]).includes(metric)) {
    throw invalid(`metric must be one of ${PERFORMANCE_METRICS.join(", ")}`);
  }
  const m = metric as PerformanceMetric;
  const event = raw.event;
  if (m === "event_rate") {
    if (typeof event !== "string" || event.length === 0 || event === "label")
      throw invalid("event must name the feedback event counted by event_rate (click, conversion, …)");
  } else if (event !== undefined) {
    throw invalid("event applies only to metric event_rate");
  }
  const output = raw.output ?? (REGRESSION_METRICS.has(m) ? "prediction" : "probability");
  if (typeof output !== "string" || output.length === 0) throw invalid("output must name a model output");
  const decisionThreshold = raw.decisionThreshold ?? 0.5;
  if (typeof decisionThreshold !== "number" || !(decisionThreshold >= 0 && decisionThreshold <= 1))
    throw invalid("decisionThreshold must be a number in [0, 1]");
  const positive = raw.positive;
  if (
    positive !== undefined &&
    typeof positive !== "string" &&
    typeof positive !== "boolean" &&
    !(typeof positive === "number" && Number.isFinite(positive))
  ) {
    throw invalid("positive must be the label value (a string, number or boolean) meaning positive");
  }
  if (positive !== undefined && (REGRESSION_METRICS.has(m) || m === "event_rate"))
    throw invalid("positive applies only to classification metrics");
  const condition = parseCondition(raw.condition);
  const window = parseWindow(raw.window ?? { bucket: "1h", buckets: 24 });
  const minSamples = raw.minSamples ?? 100;
  if (typeof minSamples !== "number" || !Number.isSafeInteger(minSamples) || minSamples < 1)
    throw invalid("minSamples must be a positive integer");
  const estimate = raw.estimate ?? "none";
  if (estimate !== "none" && estimate !== "cbpe") throw invalid("estimate must be none or cbpe");
  if (estimate === "cbpe" && !ESTIMABLE_METRICS.has(m)) {
    throw invalid(
      `estimate cbpe needs a metric it can estimate (${[...ESTIMABLE_METRICS].join(", ")}); ${m} cannot be estimated without labels`,
    );
  }
  const evaluateEvery = raw.evaluateEvery ?? "1m";
  if (typeof evaluateEvery !== "string") throw invalid("evaluateEvery must be a duration like 1m");
  if (parseDuration(evaluateEvery, "evaluateEvery") < MIN_EVALUATE_MS)
    throw invalid("evaluateEvery must be at least 1s");
  const segment = raw.segment === undefined ? undefined : parseSegmentSpec(raw.segment);
  if (segment !== undefined && window.buckets * (segment.maxValues + 2) > MAX_SEGMENTED_BUCKETS) {
    throw invalid(
      `window.buckets × (segment.maxValues + 2) must be at most ${MAX_SEGMENTED_BUCKETS}: every segment value has its own buckets`,
    );
  }
  return {
    type: "performance",
    ...target,
    metric: m,
    ...(m === "event_rate" ? { event: event as string } : {}),
    output,
    decisionThreshold,
    ...(positive === undefined ? {} : { positive }),
    condition,
    window,
    minSamples,
    estimate,
    evaluateEvery,
    ...parseAlerting(raw),
    ...(segment === undefined ? {} : { segment }),
  };
}

function parseCondition(raw: unknown): PerformanceCondition {
  const shape = "condition must be {below: x}, {above: x} or {baseline: x, maxDrop: d, relative: false}";
  if (!isPlainObject(raw)) throw invalid(shape);
  const keys = Object.keys(raw).sort().join(",");
  const number = (field: string): number => {
    const v = raw[field];
    if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`condition.${field} must be a number`);
    return v;
  };
  if (keys === "below") return { below: number("below") };
  if (keys === "above") return { above: number("above") };
  if (keys === "baseline,maxDrop" || keys === "baseline,maxDrop,relative") {
    const maxDrop = number("maxDrop");
    if (maxDrop < 0) throw invalid("condition.maxDrop must be ≥ 0");
    const relative = raw.relative ?? false;
    if (typeof relative !== "boolean") throw invalid("condition.relative must be true or false");
    return { baseline: number("baseline"), maxDrop, relative };
  }
  throw invalid(`${shape}; got fields ${keys || "none"}`);
}

function parseWindow(raw: unknown): PerformanceWindow {
  if (!isPlainObject(raw)) throw invalid("window must be an object like {bucket: 1h, buckets: 24}");
  const extra = Object.keys(raw).find((k) => k !== "bucket" && k !== "buckets");
  if (extra !== undefined) throw invalid(`window has unknown field '${extra}'; expected bucket, buckets`);
  const bucket = raw.bucket ?? "1h";
  if (typeof bucket !== "string") throw invalid("window.bucket must be a duration like 1h");
  if (parseDuration(bucket, "window.bucket") < MIN_BUCKET_MS)
    throw invalid("window.bucket must be at least 1m");
  const buckets = raw.buckets ?? 24;
  if (typeof buckets !== "number" || !Number.isSafeInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS)
    throw invalid(`window.buckets must be an integer in 1…${MAX_BUCKETS}`);
  return { bucket, buckets };
}

/** Bucket length and evaluation period in milliseconds (the spec keeps durations as written). */
export function performanceTiming(spec: PerformanceMonitorSpec): { bucketMs: number; everyMs: number } {
  return {
    bucketMs: parseDuration(spec.window.bucket, "window.bucket"),
    everyMs: parseDuration(spec.evaluateEvery, "evaluateEvery"),
  };
}

/**
 * The bound the metric is compared with, and whether a value breaches it: the direction comes
 * from the condition for fixed bounds, and from the metric for a drop from a baseline.
 */
export function judge(
  spec: Pick<PerformanceMonitorSpec, "metric" | "condition">,
  value: number,
): { breached: boolean; threshold: number } {
  const c = spec.condition;
  if ("below" in c) return { breached: value < c.below, threshold: c.below };
  if ("above" in c) return { breached: value > c.above, threshold: c.above };
  const drop = c.relative ? Math.abs(c.baseline) * c.maxDrop : c.maxDrop;
  if (LOWER_IS_BETTER.has(spec.metric)) {
    const threshold = c.baseline + drop;
    return { breached: value > threshold, threshold };
  }
  const threshold = c.baseline - drop;
  return { breached: value < threshold, threshold };
}
