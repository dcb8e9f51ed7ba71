/**
 * Live performance monitoring with delayed labels. Off the request path: on the ticker, each
 * monitor that is due recomputes its recent buckets of prediction time from the prediction log
 * and the feedback joined to it (labels that arrived since the last evaluation land in their
 * prediction's bucket), judges the newest bucket that can be judged, and publishes the verdict
 * to the alerting service. A bucket is judged on its labels when it has `minSamples` of them;
 * otherwise, with `estimate: cbpe`, on the confidence-based estimate (labelled rows count with
 * their labels), and the result says it is estimated.
 *
 * Recomputing from the log rather than keeping live accumulators keeps one source of truth
 * (late and replaced labels are always reflected, a restart loses nothing); the cost is a scan
 * of `window.buckets × window.bucket` of the log every `evaluateEvery`.
 */
import type { AlertSink, AlertSource, AlertSummary } from "../alerts/alerting.js";
import type { DispatcherStats } from "../alerts/dispatcher.js";
import type { AlertPhase } from "../alerts/lifecycle.js";
import { notFound } from "../domain/errors.js";
import {
  performanceBySegment,
  type PerformanceBucket,
  type PerformanceLog,
  type SegmentedPerformance,
} from "./log-performance.js";
import type { VersionSource } from "./log-drift.js";
import { SegmentKeys, segmentLabel } from "./segments.js";
import { monitorLink, publishMonitorAlert } from "./monitor-alerts.js";
import type { IsotonicCalibration } from "./performance/isotonic.js";
import type { CbpeEstimate } from "./performance/cbpe.js";
import {
  judge,
  performanceTiming,
  REGRESSION_METRICS,
  type PerformanceMetric,
  type PerformanceMonitorSpec,
} from "./performance-monitor-spec.js";

export interface PerformanceSource extends PerformanceLog {
  /** Writes buffered predictions, so an evaluation sees every request served before it. */
  flush(): Promise<void>;
}

/** One bucket of prediction time, as the monitor sees it. */
export interface JudgedBucket {
  readonly start: number;
  readonly end: number;
  readonly predictions: number;
  /** Rows whose label has arrived (for event_rate: the predictions). */
  readonly labelled: number;
  readonly coverage: number | null;
  /** The metric on the labels so far; null with `reason` when it is undefined. */
  readonly value: number | null;
  /** The CBPE estimate (estimate: cbpe only). */
  readonly estimated: number | null;
  /** What the bucket is judged on; null when it is not judged (see `reason`). */
  readonly basis: "labels" | "estimate" | null;
  readonly reason?: string;
}

export interface VariantPerformance {
  readonly variant: string;
  /** A segment's verdict (the feature's value, __other__ or __missing__); absent for all rows. */
  readonly segment?: string;
  readonly buckets: JudgedBucket[];
  /** The newest judged bucket: what the alert saw. */
  readonly judged: JudgedBucket | null;
  readonly breached: boolean | null;
  readonly threshold: number | null;
  /** Labelled rows over predictions across the window. */
  readonly coverage: number | null;
}

export interface PerformanceEvaluation {
  readonly monitor: string;
  readonly deployment: string;
  readonly metric: PerformanceMetric;
  /** Epoch ms of the evaluation (the clock's). */
  readonly at: number;
  readonly since: number;
  readonly until: number;
  readonly variants: VariantPerformance[];
  /** With a segment: each variant's segments, judged like the variants (minSamples per segment). */
  readonly segments?: VariantPerformance[];
  /** With a segment: its feature, the values with their own segment, and rows that could not be read. */
  readonly segment?: SegmentedPerformance;
}

export interface PerformanceObserver {
  performanceEvaluated(evaluation: PerformanceEvaluation): void;
  alertChanged(monitor: string, identity: string, phase: AlertPhase): void;
}

export interface PerformanceMonitorStatus {
  readonly spec: PerformanceMonitorSpec;
  readonly evaluations: number;
  readonly errors: number;
  readonly lastError: string | null;
  readonly latest: PerformanceEvaluation | null;
  readonly alerts: AlertSummary[];
  /** The counters of the notifiers this monitor names (shared with other sources naming them). */
  readonly delivery: DispatcherStats;
}

interface ActivePerformanceMonitor {
  readonly spec: PerformanceMonitorSpec;
  readonly bucketMs: number;
  readonly everyMs: number;
  readonly source: AlertSource;
  lastRun: number | null;
  running: Promise<void> | null;
  evaluations: number;
  errors: number;
  lastError: string | null;
  latest: PerformanceEvaluation | null;
  /** Which values own segments, kept across evaluations so a value's alert keeps its identity. */
  readonly keys: SegmentKeys | null;
}

const silent: PerformanceObserver = { performanceEvaluated: () => {}, alertChanged: () => {} };

export class PerformanceMonitors {
  private readonly active = new Map<string, ActivePerformanceMonitor>();

  constructor(
    private readonly source: PerformanceSource,
    private readonly references: VersionSource,
    /** Where alerts are published (the alerting service). */
    private readonly alerts: AlertSink,
    private readonly observer: PerformanceObserver = silent,
    private readonly generatorUrl?: string,
    /**
     * Whether evaluations run in this process now: with replicas, only on the holder of the
     * performance lease (they read the shared log, so one evaluator sees every replica's rows).
     */
    private readonly runsHere: () => boolean = () => true,
  ) {}

  has(name: string): boolean {
    return this.active.has(name);
  }

  specs(): PerformanceMonitorSpec[] {
    return [...this.active.values()].map((m) => m.spec);
  }

  /** Starts (or replaces) a monitor; it is evaluated at the next tick. */
  put(spec: PerformanceMonitorSpec): void {
    this.remove(spec.name);
    const { bucketMs, everyMs } = performanceTiming(spec);
    this.active.set(spec.name, {
      spec,
      bucketMs,
      everyMs,
      source: { kind: "performance", name: spec.name },
      lastRun: null,
      running: null,
      evaluations: 0,
      errors: 0,
      lastError: null,
      latest: null,
      keys: spec.segment === undefined ? null : new SegmentKeys(spec.segment.maxValues),
    });
  }

  delete(name: string): void {
    if (!this.active.has(name)) throw notFound(`monitor '${name}' does not exist`);
    this.remove(name);
  }

  /** Starts the evaluations that are due (an evaluation still running is not started twice). */
  tick(now: number): void {
    if (!this.runsHere()) return;
    for (const monitor of this.active.values()) {
      if (monitor.running !== null) continue;
      if (monitor.lastRun !== null && now - monitor.lastRun < monitor.everyMs) continue;
      monitor.lastRun = now;
      monitor.running = this.evaluate(monitor, now)
        .catch((error: unknown) => {
          monitor.errors++;
          monitor.lastError = error instanceof Error ? error.message : String(error);
        })
        .finally(() => {
          monitor.running = null;
        });
    }
  }

  /** Resolves once running evaluations and their notifications are done (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.active.values()].map((m) => m.running));
    await this.alerts.idle();
  }

  list(): PerformanceMonitorStatus[] {
    return [...this.active.keys()].map((name) => this.status(name));
  }

  status(name: string): PerformanceMonitorStatus {
    const monitor = this.active.get(name);
    if (monitor === undefined)
      throw notFound(`monitor '${name}' does not exist; list monitors with GET /api/v1/monitors`);
    return {
      spec: monitor.spec,
      evaluations: monitor.evaluations,
      errors: monitor.errors,
      lastError: monitor.lastError,
      latest: monitor.latest,
      alerts: this.alerts.alerts(monitor.source),
      delivery: this.alerts.delivery(monitor.spec.notifiers),
    };
  }

  close(): void {
    for (const name of [...this.active.keys()]) this.remove(name);
  }

  private remove(name: string): void {
    const monitor = this.active.get(name);
    if (monitor === undefined) return;
    this.alerts.forget(monitor.source);
    this.active.delete(name);
  }

  private async evaluate(monitor: ActivePerformanceMonitor, now: number): Promise<void> {
    const spec = monitor.spec;
    const until = now + 1;
    const since =
      Math.floor(now / monitor.bucketMs) * monitor.bucketMs - (spec.window.buckets - 1) * monitor.bucketMs;
    await this.source.flush();
    const { buckets, segment } = await performanceBySegment(this.source, {
      deployment: spec.deployment,
      since,
      until,
      bucketMs: monitor.bucketMs,
      score: spec.output,
      threshold: spec.decisionThreshold,
      ...(REGRESSION_METRICS.has(spec.metric) ? { regression: true } : {}),
      ...(spec.positive === undefined ? {} : { positive: spec.positive }),
      ...(spec.estimate === "cbpe"
        ? { calibration: (model, version) => this.calibration(model, version) }
        : {}),
      ...(spec.segment === undefined || monitor.keys === null
        ? {}
        : {
            segment: {
              ...spec.segment,
              keys: monitor.keys,
              versions: (model: string, version: number) => this.references.getVersion(model, version),
            },
          }),
    });
    if (this.active.get(spec.name) !== monitor) return; // replaced or deleted meanwhile
    const byVariant = new Map<string, PerformanceBucket[]>();
    const bySegment = new Map<string, PerformanceBucket[]>();
    for (const b of buckets) {
      if (b.segment === undefined) byVariant.set(b.variant, [...(byVariant.get(b.variant) ?? []), b]);
      else {
        const key = JSON.stringify([b.variant, b.segment]);
        bySegment.set(key, [...(bySegment.get(key) ?? []), b]);
      }
    }
    const variants = [...byVariant].map(([variant, list]) => judgeVariant(spec, variant, list));
    const segments = [...bySegment.values()].map((list) => {
      const first = list[0] as PerformanceBucket;
      return { ...judgeVariant(spec, first.variant, list), segment: first.segment as string };
    });
    const evaluation: PerformanceEvaluation = {
      monitor: spec.name,
      deployment: spec.deployment,
      metric: spec.metric,
      at: now,
      since,
      until,
      variants,
      ...(segment === undefined ? {} : { segments, segment }),
    };
    monitor.latest = evaluation;
    monitor.evaluations++;
    this.observer.performanceEvaluated(evaluation);
    for (const v of [...variants, ...segments]) this.alert(monitor, v, now);
  }

  private async calibration(model: string, version: number): Promise<IsotonicCalibration | null> {
    const profile = await this.references.getReference(model, version);
    return profile?.calibration?.isotonic ?? null;
  }

  private alert(monitor: ActivePerformanceMonitor, v: VariantPerformance, at: number): void {
    const judged = v.judged;
    if (judged === null || v.breached === null || v.threshold === null) return;
    const spec = monitor.spec;
    const value = (judged.basis === "estimate" ? judged.estimated : judged.value) as number;
    const labels = {
      alertname: "BallastPerformanceDegraded",
      monitor: spec.name,
      deployment: spec.deployment,
      variant: v.variant,
      metric: spec.metric,
      ...(v.segment === undefined || spec.segment === undefined
        ? {}
        : { segment: segmentLabel({ feature: spec.segment.feature, value: v.segment }) }),
    };
    const where = `${spec.deployment}/${v.variant}${labels.segment === undefined ? "" : ` (${labels.segment})`}`;
    const estimated = judged.basis === "estimate";
    const period = `${new Date(judged.start).toISOString()} – ${new Date(judged.end).toISOString()}`;
    const annotations: Record<string, string> = {
      summary: `${spec.metric} ${estimated ? "(estimated) " : ""}${value.toPrecision(4)} on ${where}, threshold ${v.threshold.toPrecision(4)}`,
      description: `${spec.metric} ${value.toPrecision(4)} over predictions made ${period}: ${judged.predictions} predictions, ${judged.labelled} labelled (coverage ${judged.coverage === null ? "n/a" : judged.coverage.toFixed(3)})${estimated ? "; estimated by CBPE from calibrated confidence, labels too few" : ""}`,
      coverage: judged.coverage === null ? "" : String(judged.coverage),
      estimated: String(estimated),
      ...monitorLink(this.generatorUrl, spec.name),
    };
    const to = { alerts: this.alerts, observer: this.observer, generatorUrl: this.generatorUrl };
    publishMonitorAlert(to, spec, monitor.source, {
      labels,
      annotations,
      breached: v.breached,
      value,
      threshold: v.threshold,
      at,
    });
  }
}

/** The variant's buckets as judged, oldest first, and the verdict on the newest judged one. */
export function judgeVariant(
  spec: PerformanceMonitorSpec,
  variant: string,
  buckets: readonly PerformanceBucket[],
): VariantPerformance {
  const judgedBuckets = buckets.map((b) => judgeBucket(spec, b));
  const judged = [...judgedBuckets].reverse().find((b) => b.basis !== null) ?? null;
  const value = judged === null ? null : judged.basis === "estimate" ? judged.estimated : judged.value;
  const verdict = value === null ? null : judge(spec, value);
  const predictions = judgedBuckets.reduce((n, b) => n + b.predictions, 0);
  const labelled = judgedBuckets.reduce((n, b) => n + b.labelled, 0);
  return {
    variant,
    buckets: judgedBuckets,
    judged,
    breached: verdict?.breached ?? null,
    threshold: verdict?.threshold ?? null,
    coverage: predictions === 0 ? null : labelled / predictions,
  };
}

function judgeBucket(spec: PerformanceMonitorSpec, b: PerformanceBucket): JudgedBucket {
  const realised = realisedOf(spec, b);
  const estimated =
    b.estimate === undefined || b.estimate === null ? null : estimateOf(spec.metric, b.estimate);
  const base = {
    start: b.start,
    end: b.end,
    predictions: realised.predictions,
    labelled: realised.labelled,
    coverage: realised.predictions === 0 ? null : realised.labelled / realised.predictions,
    value: realised.value,
    estimated,
  };
  if (realised.labelled >= spec.minSamples && realised.value !== null) return { ...base, basis: "labels" };
  const short =
    spec.metric === "event_rate"
      ? `${realised.predictions} predictions, fewer than minSamples (${spec.minSamples})`
      : realised.labelled >= spec.minSamples
        ? `${spec.metric} is undefined on these labels: ${realised.reason ?? "unknown"}`
        : `${realised.labelled} labelled rows, fewer than minSamples (${spec.minSamples})`;
  if (spec.estimate !== "cbpe") return { ...base, basis: null, reason: short };
  if (estimated !== null && realised.predictions >= spec.minSamples) return { ...base, basis: "estimate" };
  const why =
    b.estimate === null || b.estimate === undefined
      ? (b.estimateProblem ?? "no estimate")
      : estimated === null
        ? `the estimate of ${spec.metric} is undefined here`
        : `${realised.predictions} predictions, too few to estimate (minSamples ${spec.minSamples})`;
  return { ...base, basis: null, reason: `${short}; ${why}` };
}

function realisedOf(
  spec: PerformanceMonitorSpec,
  b: PerformanceBucket,
): { predictions: number; labelled: number; value: number | null; reason?: string } {
  const m = spec.metric;
  if (m === "event_rate") {
    const predictions = b.events.predictions;
    const rate = b.events.events[spec.event as string]?.rate ?? (predictions > 0 ? 0 : null);
    return { predictions, labelled: predictions, value: rate };
  }
  if (m === "mae" || m === "rmse") {
    const r = b.regression;
    if (r === undefined) return { predictions: 0, labelled: 0, value: null };
    return { predictions: r.count, labelled: r.labelled, value: r[m], reason: r.reasons[m] };
  }
  const c = b.classification;
  const key = m === "roc_auc" ? "rocAuc" : m === "log_loss" ? "logLoss" : m;
  return { predictions: c.count, labelled: c.labelled, value: c[key], reason: c.reasons[key] };
}

function estimateOf(metric: PerformanceMetric, e: CbpeEstimate): number | null {
  switch (metric) {
    case "accuracy":
    case "precision":
    case "recall":
    case "f1":
      return e[metric];
    case "roc_auc":
      return e.rocAuc;
    default:
      return null;
  }
}
