/**
 * Validation gates, with MLflow's MetricThreshold semantics, pure:
 *
 * - threshold: the candidate's value must be >= threshold (<= when lower is better);
 * - minAbsoluteChange: it must beat the champion's by at least that much:
 *   candidate >= champion + change (<= champion − change when lower is better);
 * - minRelativeChange: by at least that fraction of |champion| (MLflow multiplies by the
 *   baseline itself, which turns the comparison round for negative metrics such as
 *   log-likelihoods; taking |baseline| keeps "better by 1%" meaning better);
 *   a champion of exactly 0 must be strictly beaten, as in MLflow;
 * - a change gate with no champion value fails ("missing baseline"), as in MLflow.
 *
 * Boundaries pass (MLflow compares exact decimals: 0.77 against 0.7 × 1.1 passes), so the
 * comparisons forgive float rounding of the required value. Every failing gate is listed.
 */
import { invalidField, shown } from "../registry/field.js";
import { isPlainObject } from "../domain/json-value.js";

export interface Gate {
  readonly metric: string;
  readonly threshold?: number;
  readonly minAbsoluteChange?: number;
  readonly minRelativeChange?: number;
  readonly greaterIsBetter: boolean;
}

export interface GateFailure {
  readonly metric: string;
  readonly check:
    "threshold" | "minAbsoluteChange" | "minRelativeChange" | "missingMetric" | "missingBaseline";
  readonly candidate: number | null;
  readonly baseline: number | null;
  readonly required: number | null;
  readonly message: string;
}

/** Metrics everyone knows the direction of; other metrics must say greaterIsBetter. */
const LOWER_IS_BETTER = new Set([
  "logloss",
  "rmse",
  "mae",
  "latencyMs",
  // Volatility forecasts (volatility-validation.ts): losses, candidate/champion loss ratios,
  // the DM statistic (negative: the candidate's loss is lower) and its one-sided p-value.
  "qlike",
  "mse",
  "qlike_ratio",
  "mse_ratio",
  "dm_statistic",
  "dm_p_value",
]);
const HIGHER_IS_BETTER = new Set([
  "auc",
  "accuracy",
  "precision",
  "recall",
  "f1",
  "r2",
  // Small: the candidate is significantly worse than the champion.
  "dm_p_value_worse",
]);

export function parseGates(raw: unknown, field: string): Gate[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalidField(field, `expected a list of gates, got ${shown(raw)}`);
  return raw.map((g, i) => parseGate(g, `${field}[${i}]`));
}

function parseGate(raw: unknown, field: string): Gate {
  if (!isPlainObject(raw))
    throw invalidField(
      field,
      `expected {metric, threshold?, minAbsoluteChange?, minRelativeChange?, greaterIsBetter?}`,
    );
  const keys = ["metric", "threshold", "minAbsoluteChange", "minRelativeChange", "greaterIsBetter"];
  const extra = Object.keys(raw).find((k) => !keys.includes(k));
  if (extra !== undefined)
    throw invalidField(`${field}.${extra}`, `unknown field; expected ${keys.join(", ")}`);
  const metric = raw.metric;
  if (typeof metric !== "string" || metric === "")
    throw invalidField(`${field}.metric`, "expected a metric name");
  const num = (key: string, positive: boolean): number | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && v <= 0))
      throw invalidField(
        `${field}.${key}`,
        `expected a ${positive ? "positive " : ""}number, got ${shown(v)}`,
      );
    return v;
  };
  const threshold = num("threshold", false);
  const minAbsoluteChange = num("minAbsoluteChange", true);
  const minRelativeChange = num("minRelativeChange", true);
  if (threshold === undefined && minAbsoluteChange === undefined && minRelativeChange === undefined)
    throw invalidField(field, "a gate needs at least one of threshold, minAbsoluteChange, minRelativeChange");
  let greaterIsBetter = raw.greaterIsBetter;
  if (greaterIsBetter === undefined) {
    if (HIGHER_IS_BETTER.has(metric)) greaterIsBetter = true;
    else if (LOWER_IS_BETTER.has(metric)) greaterIsBetter = false;
    else
      throw invalidField(
        `${field}.greaterIsBetter`,
        `say whether a higher ${metric} is better (true or false)`,
      );
  }
  if (typeof greaterIsBetter !== "boolean")
    throw invalidField(`${field}.greaterIsBetter`, "expected true or false");
  return {
    metric,
    ...(threshold === undefined ? {} : { threshold }),
    ...(minAbsoluteChange === undefined ? {} : { minAbsoluteChange }),
    ...(minRelativeChange === undefined ? {} : { minRelativeChange }),
    greaterIsBetter,
  };
}

/** a at least as good as b, forgiving rounding in b (a required value computed in floats). */
function atLeast(a: number, b: number, greaterIsBetter: boolean): boolean {
  const slack = 1e-12 * Math.max(1, Math.abs(b));
  return greaterIsBetter ? a >= b - slack : a <= b + slack;
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ""));

/**
 * Every failing check of every gate. `candidate` and `baseline` (the champion on the same
 * holdout; null when there is none) by metric name; a null value is a metric that could not
 * be computed.
 */
export function evaluateGates(
  gates: readonly Gate[],
  candidate: Readonly<Record<string, number | null>>,
  baseline: Readonly<Record<string, number | null>> | null,
): GateFailure[] {
  const failures: GateFailure[] = [];
  for (const gate of gates) {
    const { metric, greaterIsBetter: up } = gate;
    const value = candidate[metric] ?? null;
    const base = baseline === null ? null : (baseline[metric] ?? null);
    const better = up ? "higher" : "lower";
    if (value === null) {
      failures.push({
        metric,
        check: "missingMetric",
        candidate: null,
        baseline: base,
        required: null,
        message: `${metric}: the candidate's ${metric} could not be computed`,
      });
      continue;
    }
    if (gate.threshold !== undefined && !atLeast(value, gate.threshold, up))
      failures.push({
        metric,
        check: "threshold",
        candidate: value,
        baseline: base,
        required: gate.threshold,
        message: `${metric} ${fmt(value)} is ${up ? "below" : "above"} the threshold ${fmt(gate.threshold)}`,
      });
    const changes = gate.minAbsoluteChange !== undefined || gate.minRelativeChange !== undefined;
    if (changes && base === null) {
      failures.push({
        metric,
        check: "missingBaseline",
        candidate: value,
        baseline: null,
        required: null,
        message: `${metric}: no champion value to compare with`,
      });
      continue;
    }
    if (base === null) continue;
    const sign = up ? 1 : -1;
    if (gate.minAbsoluteChange !== undefined) {
      const required = base + sign * gate.minAbsoluteChange;
      if (!atLeast(value, required, up))
        failures.push({
          metric,
          check: "minAbsoluteChange",
          candidate: value,
          baseline: base,
          required,
          message: `${metric} ${fmt(value)} does not beat the champion's ${fmt(base)} by ${fmt(gate.minAbsoluteChange)} (needs ${better} than or equal to ${fmt(required)})`,
        });
    }
    if (gate.minRelativeChange !== undefined) {
      const required = base + sign * gate.minRelativeChange * Math.abs(base);
      // A champion at exactly 0 has no scale: the candidate must simply be better (MLflow).
      const passes = base === 0 ? (up ? value > 0 : value < 0) : atLeast(value, required, up);
      if (!passes)
        failures.push({
          metric,
          check: "minRelativeChange",
          candidate: value,
          baseline: base,
          required,
          message: `${metric} ${fmt(value)} does not beat the champion's ${fmt(base)} by ${fmt(gate.minRelativeChange * 100)}% (needs ${better} than ${base === 0 ? "" : "or equal to "}${fmt(required)})`,
        });
    }
  }
  return failures;
}
