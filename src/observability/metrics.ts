/**
 * Prometheus instruments, on a registry of our own (never prom-client's global one) so that two
 * apps in one process — as in tests — do not share counters. Names follow Prometheus
 * conventions: base units (seconds), `_total` on counters, labels for the dimensions.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { ErrorCode } from "../domain/errors.js";
import type { InferenceObserver, InferenceOutcome } from "../serving/inference.js";
import type { ModelState, PoolEvents } from "../serving/model-pool.js";
import type { BreakerPhase } from "../serving/circuit-breaker.js";
import type { FallbackReason, ResilienceEvents } from "../serving/resilience.js";
import type { PredictionLogStats } from "../serving/prediction-log.js";
import { REJECT_REASONS } from "../domain/prediction.js";
import { MODEL_FAILURES } from "../domain/model.js";
import type { EvaluatedWindow, MonitorObserver } from "../monitoring/monitors.js";
import type { PerformanceEvaluation, PerformanceObserver } from "../monitoring/performance-monitors.js";
import type { AlertPhase } from "../alerts/lifecycle.js";
import { segmentLabel } from "../monitoring/segments.js";
import { statusFor } from "../domain/http-status.js";
import { InferenceSeries } from "./inference-series.js";
import type { ShadowReport } from "../monitoring/shadow-book.js";
import type { AlertServiceStats } from "../alerts/alerting.js";

const MODEL_STATES: ReadonlyArray<ModelState> = ["loading", "ready", "failed"];
const CIRCUIT_PHASES: Record<BreakerPhase, number> = { closed: 0, "half-open": 1, open: 2 };

export interface Metrics
  extends InferenceObserver, ResilienceEvents, PoolEvents, MonitorObserver, PerformanceObserver {
  readonly registry: Registry;
  feedbackReceived(kind: "label" | "event", count: number): void;
  /** Feedback items accepted whose request id no logged prediction carries (yet). */
  feedbackUnmatched(count: number): void;
  monitorPersistFailed(): void;
  /** A rollout state machine step that could not complete (retried on the next tick). */
  rolloutTickFailed(): void;
  /** A rollout's canary weight and phase after a transition. */
  rolloutChanged(deployment: string, weight: number, phase: string): void;
  render(): Promise<string>;
}

/**
 * A scrape-time pass over the deployments served: `each` for every one (to start its series at
 * 0), `gone` for each served at an earlier pass and no longer. One per metric: it remembers.
 */
function servedSeries(served: () => readonly string[]) {
  let seen = new Set<string>();
  return (each: (deployment: string) => void, gone: (deployment: string) => void): void => {
    const now = new Set(served());
    for (const d of now) each(d);
    for (const d of seen) if (!now.has(d)) gone(d);
    seen = now;
  };
}

/** Why a fallback answered (resilience.ts's FallbackReason): each starts at 0 per deployment. */
const FALLBACK_REASONS = [...MODEL_FAILURES, "circuit_open"] as const satisfies readonly FallbackReason[];

export function createMetrics(options: {
  predictionLog: () => PredictionLogStats;
  /** Shadow variants' comparisons, read at scrape time. */
  shadows?: () => readonly ShadowReport[];
  /** The alerting service's own counters, read at scrape time. */
  alerts?: () => AlertServiceStats;
  /** The deployments served, read at scrape time: their resilience counters start at 0. */
  deployments?: () => readonly string[];
  defaultMetrics?: boolean;
}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
    // flags them); the per-type gauges without the suffix carry the same numbers.
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      registry.removeSingleMetric(name);
    }
  }

  const inferenceSeries = new InferenceSeries(registry);
  const modelState = new Gauge({
    name: "ballast_model_state",
    help: "1 for the state a model version is in (loading, ready, failed); unloaded versions have no series.",
    labelNames: ["model", "version", "state"] as const,
    registers: [registry],
  });
  const feedback = new Counter({
    name: "ballast_feedback_received_total",
    help: "Feedback items accepted, by kind (label or event).",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const feedbackUnmatched = new Counter({
    name: "ballast_feedback_unmatched_total",
    help: "Feedback items accepted whose request id matched no logged prediction when they arrived (kept; joined if it is logged later).",
    registers: [registry],
  });
  // Read from the log's own counters at scrape time, so the request path never touches them.
  const stat = (pick: (s: PredictionLogStats) => number) =>
    function (this: Gauge | Counter) {
      const value = pick(options.predictionLog());
      if (this instanceof Gauge) {
        this.set(value);
      } else {
        this.reset();
        this.inc(value);
      }
    };
  new Gauge({
    name: "ballast_prediction_log_buffer_rows",
    help: "Prediction-log rows waiting in memory to be written.",
    registers: [registry],
    collect: stat((s) => s.buffered),
  });
  new Gauge({
    name: "ballast_prediction_log_buffer_capacity_rows",
    help: "Rows the prediction-log buffer holds at most before it drops.",
    registers: [registry],
    collect: stat((s) => s.capacity),
  });
  new Counter({
    name: "ballast_prediction_log_written_rows_total",
    help: "Prediction-log rows written to the store.",
    registers: [registry],
    collect: stat((s) => s.written),
  });
  new Counter({
    name: "ballast_prediction_log_dropped_rows_total",
    help: "Prediction-log rows dropped because the buffer was full.",
    registers: [registry],
    collect: stat((s) => s.dropped),
  });
  new Gauge({
    name: "ballast_prediction_log_buffer_bytes",
    help: "Estimated bytes of the prediction-log rows waiting in memory.",
    registers: [registry],
    collect: stat((s) => s.bufferedBytes),
  });
  new Gauge({
    name: "ballast_prediction_log_buffer_capacity_bytes",
    help: "Estimated bytes the prediction-log buffer holds at most before it drops.",
    registers: [registry],
    collect: stat((s) => s.capacityBytes),
  });
  new Counter({
    name: "ballast_prediction_log_rejected_rows_total",
    help: "Prediction-log rows set aside because the store refused them (the rest of their batch is written).",
    labelNames: ["reason"],
    registers: [registry],
    collect(this: Counter<"reason">) {
      const rejected = options.predictionLog().rejected;
      this.reset();
      for (const reason of REJECT_REASONS) this.inc({ reason }, rejected[reason]);
    },
  });
  const alertStat = (pick: (s: AlertServiceStats) => number) =>
    function (this: Counter) {
      const stats = options.alerts?.();
      this.reset();
      if (stats !== undefined) this.inc(pick(stats));
    };
  new Counter({
    name: "ballast_alert_subscriber_errors_total",
    help: "Calls to in-process alert subscribers (triggers) that threw or rejected; the others and the notifiers were still told.",
    registers: [registry],
    collect: alertStat((s) => s.subscriberErrors),
  });
  new Counter({
    name: "ballast_alert_notifier_errors_total",
    help: "Alert notifications not sent because their notifier could not be built from its configuration.",
    registers: [registry],
    collect: alertStat((s) => s.notifierErrors),
  });
  new Counter({
    name: "ballast_prediction_log_unflushed_rows_total",
    help: "Prediction-log rows still buffered when the log stopped, because the store would not take them.",
    registers: [registry],
    collect: stat((s) => s.unflushed),
  });
  new Counter({
    name: "ballast_prediction_log_write_failures_total",
    help: "Failed batch writes of the prediction log (their rows are retried).",
    registers: [registry],
    collect: stat((s) => s.writeFailures),
  });

  const driftScore = new Gauge({
    name: "ballast_feature_drift_score",
    help: "Drift score of a feature in the last evaluated window: the p-value for p-value tests, the distance for distances. segment is \"\" for the variant's overall window, feature=value for a segment's (at most maxValues + 2 per monitor).",
    labelNames: ["monitor", "deployment", "variant", "segment", "feature", "test"] as const,
    registers: [registry],
  });
  const drifted = new Gauge({
    name: "ballast_feature_drifted",
    help: "1 when the feature drifted in the last evaluated window (after any multiple-testing correction), else 0.",
    labelNames: ["monitor", "deployment", "variant", "segment", "feature", "test"] as const,
    registers: [registry],
  });
  const missingShare = new Gauge({
    name: "ballast_feature_missing_share",
    help: "Share of the last evaluated window's rows without a value for the feature (reported apart from drift unless the monitor sets missing: drift).",
    labelNames: ["monitor", "deployment", "variant", "segment", "feature"] as const,
    registers: [registry],
  });
  const driftShare = new Gauge({
    name: "ballast_dataset_drift_share",
    help: "Share of a monitor's features that drifted in the last evaluated window.",
    labelNames: ["monitor", "deployment", "variant", "segment"] as const,
    registers: [registry],
  });
  const windows = new Counter({
    name: "ballast_monitor_windows_total",
    help: "Windows closed by monitors, by whether they were evaluated or had too few rows.",
    labelNames: ["monitor", "deployment", "variant", "segment", "outcome"] as const,
    registers: [registry],
  });
  const alerts = new Gauge({
    name: "ballast_monitor_alerts",
    help: "Alerts of a monitor by phase (inactive, pending, firing, resolved).",
    labelNames: ["monitor", "phase"] as const,
    registers: [registry],
  });
  const alertPhases = new Map<string, Map<string, AlertPhase>>();
  const performance = new Gauge({
    name: "ballast_model_performance",
    help: "A performance monitor's metric: on labels (estimated=false, the newest bucket with enough labels) and by CBPE (estimated=true, the newest bucket with enough predictions).",
    labelNames: ["monitor", "deployment", "variant", "segment", "metric", "estimated"] as const,
    registers: [registry],
  });
  const labelCoverage = new Gauge({
    name: "ballast_model_label_coverage",
    help: "Share of a performance monitor's predictions whose label has arrived, over its window.",
    labelNames: ["monitor", "deployment", "variant", "segment"] as const,
    registers: [registry],
  });
  // Every served deployment's series exist from the first scrape, at 0: rate() over a series
  // that appears only at the first fallback or shed misses that first one (and a rule reads
  // "absent" as "fine"). A deployment no longer served has its series removed.
  const served = () => options.deployments?.() ?? [];
  const fallbackSeries = servedSeries(served);
  const shedSeries = servedSeries(served);
  const fallbacks = new Counter({
    name: "ballast_fallback_total",
    help: "Requests answered by a deployment's fallback, by reason (error, timeout, nan, circuit_open).",
    labelNames: ["deployment", "reason"] as const,
    registers: [registry],
    collect(this: Counter<"deployment" | "reason">) {
      fallbackSeries(
        (deployment) => {
          for (const reason of FALLBACK_REASONS) this.inc({ deployment, reason }, 0);
        },
        (deployment) => {
          for (const reason of FALLBACK_REASONS) this.remove({ deployment, reason });
        },
      );
    },
  });
  const circuitState = new Gauge({
    name: "ballast_circuit_state",
    help: "Circuit breaker state of a variant: 0 closed, 1 half-open, 2 open.",
    labelNames: ["deployment", "variant"] as const,
    registers: [registry],
  });
  const shed = new Counter({
    name: "ballast_requests_shed_total",
    help: "Requests refused with 503 because the deployment was at its concurrency limit.",
    labelNames: ["deployment"] as const,
    registers: [registry],
    collect(this: Counter<"deployment">) {
      shedSeries(
        (deployment) => this.inc({ deployment }, 0),
        (deployment) => this.remove({ deployment }),
      );
    },
  });
  const shadowReports = () => options.shadows?.() ?? [];
  new Counter({
    name: "ballast_shadow_requests_total",
    help: "Requests mirrored to a shadow variant, by outcome: compared, error, or skipped (too many mirrors in flight).",
    labelNames: ["deployment", "variant", "outcome"] as const,
    registers: [registry],
    collect(this: Counter<"deployment" | "variant" | "outcome">) {
      this.reset();
      for (const r of shadowReports()) {
        const base = { deployment: r.deployment, variant: r.variant };
        this.inc({ ...base, outcome: "compared" }, r.comparison.compared);
        this.inc({ ...base, outcome: "error" }, r.comparison.errors);
        this.inc({ ...base, outcome: "skipped" }, r.comparison.skipped);
      }
    },
  });
  new Gauge({
    name: "ballast_shadow_agreement",
    help: "Share of rows on which a shadow variant agrees with the live answer (same class, or same side of 0.5).",
    labelNames: ["deployment", "variant"] as const,
    registers: [registry],
    collect(this: Gauge<"deployment" | "variant">) {
      this.reset();
      for (const r of shadowReports()) {
        if (r.comparison.agreement !== null)
          this.set({ deployment: r.deployment, variant: r.variant }, r.comparison.agreement);
      }
    },
  });
  new Gauge({
    name: "ballast_shadow_score_difference",
    help: "Quantiles of the shadow's score minus the live score, per row.",
    labelNames: ["deployment", "variant", "quantile"] as const,
    registers: [registry],
    collect(this: Gauge<"deployment" | "variant" | "quantile">) {
      this.reset();
      for (const r of shadowReports()) {
        const d = r.comparison.scoreDifference;
        for (const [q, v] of [
          ["0.01", d.p01],
          ["0.5", d.p50],
          ["0.99", d.p99],
        ] as const) {
          if (v !== null) this.set({ deployment: r.deployment, variant: r.variant, quantile: q }, v);
        }
      }
    },
  });
  const persistFailures = new Counter({
    name: "ballast_monitor_persist_failures_total",
    help: "Monitor windows or checkpoints that could not be written to the store.",
    registers: [registry],
  });
  const rolloutTickFailures = new Counter({
    name: "ballast_rollout_tick_failures_total",
    help: "Rollout steps that failed to complete (the store or a deployment update failed); retried on the next tick.",
    registers: [registry],
  });
  const rolloutWeight = new Gauge({
    name: "ballast_rollout_canary_weight",
    help: "Share of live traffic, in percent, on the canary of a deployment's latest rollout.",
    labelNames: ["deployment"] as const,
    registers: [registry],
  });
  const rolloutPhase = new Gauge({
    name: "ballast_rollout_phase",
    help: "1 for the phase the deployment's latest rollout is in (Progressing, Paused, Succeeded, Aborted), 0 for the others.",
    labelNames: ["deployment", "phase"] as const,
    registers: [registry],
  });

  return {
    registry,
    windowEvaluated(w: EvaluatedWindow): void {
      const base = {
        monitor: w.monitor,
        deployment: w.deployment,
        variant: w.variant,
        segment: w.segment === undefined ? "" : segmentLabel(w.segment),
      };
      windows.inc({ ...base, outcome: w.drift === null ? "too_few_rows" : "evaluated" });
      if (w.drift === null) return;
      const verdicts = new Map(w.drift.dataset?.features.map((f) => [f.feature, f.drifted]) ?? []);
      for (const f of w.drift.features) {
        missingShare.set({ ...base, feature: f.feature }, f.missingShare);
        if (f.skipped !== undefined) continue;
        const labels = { ...base, feature: f.feature, test: f.test };
        driftScore.set(labels, f.score);
        drifted.set(labels, (verdicts.get(f.feature) ?? f.drifted) ? 1 : 0);
      }
      if (w.drift.dataset !== null) driftShare.set(base, w.drift.dataset.share);
    },
    performanceEvaluated(e: PerformanceEvaluation): void {
      for (const v of [...e.variants, ...(e.segments ?? [])]) {
        const base = {
          monitor: e.monitor,
          deployment: e.deployment,
          variant: v.variant,
          segment:
            v.segment === undefined || e.segment === undefined
              ? ""
              : segmentLabel({ feature: e.segment.feature, value: v.segment }),
        };
        const newest = (pick: (b: (typeof v.buckets)[number]) => number | null) =>
          [...v.buckets].reverse().find((b) => pick(b) !== null);
        const onLabels = newest((b) => (b.basis === "labels" ? b.value : null));
        const estimated = newest((b) => (b.basis !== null ? b.estimated : null));
        for (const [flag, value] of [
          ["false", onLabels?.value ?? null],
          ["true", estimated?.estimated ?? null],
        ] as const) {
          const labels = { ...base, metric: e.metric, estimated: flag };
          if (value === null) performance.remove(labels);
          else performance.set(labels, value);
        }
        if (v.coverage === null) labelCoverage.remove(base);
        else labelCoverage.set(base, v.coverage);
      }
    },
    alertChanged(monitor: string, identity: string, phase: AlertPhase): void {
      const phases = alertPhases.get(monitor) ?? new Map<string, AlertPhase>();
      phases.set(identity, phase);
      alertPhases.set(monitor, phases);
      for (const p of ["inactive", "pending", "firing", "resolved"] as const) {
        alerts.set({ monitor, phase: p }, [...phases.values()].filter((x) => x === p).length);
      }
    },
    observe(o: InferenceOutcome): void {
      const status = o.code === "ok" ? 200 : statusFor(o.code as ErrorCode);
      inferenceSeries.observe(o.deployment, o.model, o.version, o.variant, status, o.seconds);
    },
    fallbackAnswered(deployment, reason): void {
      fallbacks.inc({ deployment, reason });
    },
    requestShed(deployment): void {
      shed.inc({ deployment });
    },
    circuitChanged(deployment, variant, phase): void {
      circuitState.set({ deployment, variant }, CIRCUIT_PHASES[phase]);
    },
    stateChanged(model: string, version: number, state: ModelState | "unloaded"): void {
      for (const s of MODEL_STATES) {
        if (state === "unloaded") modelState.remove({ model, version: String(version), state: s });
        else modelState.set({ model, version: String(version), state: s }, s === state ? 1 : 0);
      }
    },
    monitorPersistFailed(): void {
      persistFailures.inc();
    },
    rolloutTickFailed(): void {
      rolloutTickFailures.inc();
    },
    rolloutChanged(deployment, weight, phase): void {
      rolloutWeight.set({ deployment }, weight);
      for (const p of ["Progressing", "Paused", "Succeeded", "Aborted"])
        rolloutPhase.set({ deployment, phase: p }, p === phase ? 1 : 0);
    },
    feedbackReceived(kind, count): void {
      feedback.inc({ kind }, count);
    },
    feedbackUnmatched(count): void {
      feedbackUnmatched.inc(count);
    },
    render: () => registry.metrics(),
  };
}
