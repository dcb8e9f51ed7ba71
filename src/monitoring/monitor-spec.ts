/**
 * A Monitor: what to watch on a deployment and whom to tell. The same shape arrives from the
 * HTTP API and (later) from `kind: Monitor` YAML; validation names the field that is wrong.
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import type { AlertRule } from "../alerts/lifecycle.js";
import type { NotifierConfig } from "../alerts/notifiers/index.js";
import { STAT_TESTS } from "../math/stats/index.js";
import { MISSING_POLICIES, type MissingPolicy } from "./drift.js";
import type { Correction } from "../math/stats/dataset-drift.js";
import { windowShape, type WindowSpec } from "./windows.js";
import { parsePerformanceMonitorSpec, type PerformanceMonitorSpec } from "./performance-monitor-spec.js";
import { parseSegmentSpec, type SegmentSpec } from "./segments.js";

import { parseAlerting, parseMonitorTarget, type Severity } from "./monitor-common-spec.js";

export { SEVERITIES, parseAlerting, parseMonitorTarget, type Severity } from "./monitor-common-spec.js";

/** A drift monitor (`type: drift`, the default, left out of the parsed spec). */
export interface MonitorSpec {
  readonly type?: "drift";
  readonly name: string;
  readonly deployment: string;
  /** Features to test; absent means every input feature of the version's reference profile. */
  readonly features?: readonly string[];
  /** A test for every feature ("auto": the default rule per feature kind and sample size). */
  readonly test: string;
  /** Overrides the test's default threshold. */
  readonly threshold?: number;
  readonly window: WindowSpec;
  /** Windows with fewer rows are not evaluated (their drift would be noise). */
  readonly minSamples: number;
  readonly severity: Severity;
  readonly correction: Correction;
  /** Share of drifted features at which the dataset-level alert fires. */
  readonly share: number;
  readonly alert: AlertRule;
  readonly notifiers: readonly NotifierConfig[];
  /** Also watch each value of this feature in windows of its own (drift per segment). */
  readonly segment?: SegmentSpec;
  /**
   * "ignore" (default): rows without a feature are left out of its test and reported as its
   * missing share; "drift": a changed missing rate counts as drift.
   */
  readonly missing: MissingPolicy;
}

const CORRECTIONS: readonly Correction[] = ["none", "bonferroni", "benjamini-hochberg"];
const FIELDS = [
  "type",
  "name",
  "deployment",
  "features",
  "test",
  "threshold",
  "window",
  "minSamples",
  "severity",
  "correction",
  "share",
  "alert",
  "notifiers",
  "segment",
  "missing",
];

export const DEFAULT_WINDOW: WindowSpec = { kind: "tumbling", by: "count", size: 1000 };

export const MONITOR_TYPES = ["drift", "performance"] as const;

/** Every kind of monitor, told apart by `type`. */
export type AnyMonitorSpec = MonitorSpec | PerformanceMonitorSpec;

/** Parses a monitor of any type (`type` absent means drift). */
export function parseAnyMonitorSpec(raw: unknown, name?: string): AnyMonitorSpec {
  if (isPlainObject(raw) && raw.type === "performance") return parsePerformanceMonitorSpec(raw, name);
  return parseMonitorSpec(raw, name);
}

export function parseMonitorSpec(raw: unknown, name?: string): MonitorSpec {
  if (!isPlainObject(raw)) throw invalid("monitor must be an object");
  if (raw.type !== undefined && raw.type !== "drift") {
    throw invalid(
      raw.type === "performance"
        ? "a performance monitor is not a drift monitor; parse it with parseAnyMonitorSpec"
        : `type must be one of ${MONITOR_TYPES.join(", ")}`,
    );
  }
  const unknown = Object.keys(raw).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0)
    throw invalid(`monitor has unknown field '${unknown[0]}'; expected ${FIELDS.join(", ")}`);
  const { name: monitorName, deployment } = parseMonitorTarget(raw, name);
  const features = raw.features;
  if (
    features !== undefined &&
    (!Array.isArray(features) || features.length === 0 || features.some((f) => typeof f !== "string"))
  ) {
    throw invalid("features must be a non-empty list of feature names");
  }
  const test = raw.test ?? "auto";
  if (typeof test !== "string" || (test !== "auto" && !Object.hasOwn(STAT_TESTS, test))) {
    throw invalid(`test must be auto or one of ${Object.keys(STAT_TESTS).join(", ")}`);
  }
  const threshold = raw.threshold;
  if (
    threshold !== undefined &&
    (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold < 0)
  ) {
    throw invalid("threshold must be a number ≥ 0");
  }
  if (threshold !== undefined && test === "auto") {
    throw invalid("threshold needs a named test: thresholds differ between p-value tests and distances");
  }
  const correction = raw.correction ?? "none";
  if (!(CORRECTIONS as readonly unknown[]).includes(correction))
    throw invalid(`correction must be one of ${CORRECTIONS.join(", ")}`);
  const share = raw.share ?? 0.5;
  if (typeof share !== "number" || !(share >= 0 && share <= 1))
    throw invalid("share must be a fraction in [0, 1]");
  const minSamples = raw.minSamples ?? 100;
  if (typeof minSamples !== "number" || !Number.isSafeInteger(minSamples) || minSamples < 1) {
    throw invalid("minSamples must be a positive integer");
  }
  const window = parseWindow(raw.window ?? DEFAULT_WINDOW);
  const { severity, alert, notifiers } = parseAlerting(raw);
  const segment = raw.segment === undefined ? undefined : parseSegmentSpec(raw.segment);
  const missing = raw.missing ?? "ignore";
  if (!(MISSING_POLICIES as readonly unknown[]).includes(missing))
    throw invalid(`missing must be one of ${MISSING_POLICIES.join(", ")}`);
  return {
    name: monitorName,
    deployment,
    ...(features === undefined ? {} : { features: features as string[] }),
    test,
    ...(threshold === undefined ? {} : { threshold: threshold as number }),
    window,
    minSamples,
    severity,
    correction: correction as Correction,
    share,
    alert,
    notifiers,
    ...(segment === undefined ? {} : { segment }),
    missing: missing as MissingPolicy,
  };
}

function parseWindow(raw: unknown): WindowSpec {
  if (!isPlainObject(raw))
    throw invalid("window must be an object like {kind: tumbling, by: count, size: 1000}");
  const { kind, by } = raw;
  if (kind !== "tumbling" && kind !== "sliding") throw invalid("window.kind must be tumbling or sliding");
  if (by !== "count" && by !== "time") throw invalid("window.by must be count or time");
  const spec = { ...raw } as unknown as WindowSpec;
  windowShape(spec);
  return spec;
}
