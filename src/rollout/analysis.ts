/**
 * Canary analysis: each gate compares the canary with the stable variant on what they served
 * since the rollout began, and says pass, fail or not yet. Rates (errors, clicks) go through the
 * sequential gate (stats/canary-gate.ts), which may decide after any look without inflating its
 * error; latency and drift are thresholds that must fail `failureLimit + 1` evaluations in a row.
 * Outcomes follow Argo Rollouts: Successful, Failed, Inconclusive.
 */
import {
  CANARY_GATE_START,
  mixingVarianceFromMde,
  updateCanaryGate,
  type CanaryGateState,
} from "../math/experiments/index.js";
import type { AnalysisSpec, Gate } from "./strategy.js";

/** What one variant served since the rollout began. */
export interface VariantMeasurement {
  readonly requests: number;
  readonly errors: number;
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null };
  /** Predictions logged (the exposures business events are counted against). */
  readonly exposures: number;
  /** Feedback events per kind (click: 120) on those predictions. */
  readonly events: Readonly<Record<string, number>>;
  /** Dataset drift share of the variant's latest closed window, per monitor. */
  readonly driftShare: Readonly<Record<string, number | null>>;
  /** Predictions with a label so far, and how many of them were wrong (accuracy gates). */
  readonly labelled?: { readonly count: number; readonly wrong: number };
}

export type GateDecision = "pass" | "fail" | "continue";
export type AnalysisVerdict = "Successful" | "Failed" | "Inconclusive";

export interface GateState {
  readonly decision: GateDecision;
  /** Consecutive failed evaluations (threshold gates). */
  readonly failures: number;
  /** The sequential test's state (rate gates), JSON-safe. */
  readonly sequential?: StoredGateState;
  /** The numbers behind the decision, for events and the API. */
  readonly observed: Readonly<Record<string, number | null>>;
  readonly detail: string;
}

export interface Analysis {
  readonly verdict: AnalysisVerdict;
  readonly gates: readonly GateState[];
  /** The gate that decided a failure, or what is still awaited. */
  readonly reason: string;
}

export function startGates(spec: AnalysisSpec): GateState[] {
  return spec.gates.map(() => ({ decision: "continue", failures: 0, observed: {}, detail: "no data yet" }));
}

export function analyse(
  spec: AnalysisSpec,
  previous: readonly GateState[],
  stable: VariantMeasurement,
  canary: VariantMeasurement,
): Analysis {
  const gates = spec.gates.map((gate, i) =>
    evaluateGate(gate, spec, previous[i] ?? startGates(spec)[0]!, stable, canary),
  );
  const failed = gates.findIndex((g) => g.decision === "fail");
  if (failed >= 0) {
    return { verdict: "Failed", gates, reason: `${label(spec.gates[failed]!)}: ${gates[failed]!.detail}` };
  }
  const waiting = gates.findIndex((g) => g.decision !== "pass");
  if (waiting >= 0) {
    return {
      verdict: "Inconclusive",
      gates,
      reason: `${label(spec.gates[waiting]!)}: ${gates[waiting]!.detail}`,
    };
  }
  return { verdict: "Successful", gates, reason: "every gate passed" };
}

export function label(gate: Gate): string {
  return gate.metric === "event_rate" ? `event_rate(${gate.event ?? ""})` : gate.metric;
}

function evaluateGate(
  gate: Gate,
  spec: AnalysisSpec,
  previous: GateState,
  stable: VariantMeasurement,
  canary: VariantMeasurement,
): GateState {
  switch (gate.metric) {
    case "error_rate":
      return rateGate(
        previous,
        spec,
        gate,
        "higher",
        { trials: stable.requests, successes: stable.errors },
        { trials: canary.requests, successes: canary.errors },
      );
    case "event_rate": {
      const event = gate.event ?? "";
      // Each exposure counts once: more events than exposures (double clicks) are capped.
      const arm = (m: VariantMeasurement) => ({
        trials: m.exposures,
        successes: Math.min(m.exposures, m.events[event] ?? 0),
      });
      return rateGate(previous, spec, gate, "lower", arm(stable), arm(canary));
    }
    case "latency_p50":
    case "latency_p99": {
      const key = gate.metric === "latency_p50" ? "p50" : "p99";
      return thresholdGate(
        previous,
        spec,
        gate,
        canary.requests,
        canary.latencyMs[key],
        stable.latencyMs[key],
        "ms",
      );
    }
    case "accuracy": {
      // Misclassification as a rate that must not grow: the same sequential gate as errors.
      const arm = (m: VariantMeasurement) => ({
        trials: m.labelled?.count ?? 0,
        successes: m.labelled?.wrong ?? 0,
      });
      return rateGate(previous, spec, gate, "higher", arm(stable), arm(canary), "misclassified");
    }
    case "drift_share": {
      const monitor = gate.monitor ?? "";
      return thresholdGate(
        previous,
        spec,
        gate,
        canary.requests,
        canary.driftShare[monitor] ?? null,
        stable.driftShare[monitor] ?? null,
        "share",
      );
    }
  }
}

function rateGate(
  previous: GateState,
  spec: AnalysisSpec,
  gate: Gate,
  worse: "higher" | "lower",
  stable: { trials: number; successes: number },
  canary: { trials: number; successes: number },
  /** What the rate counts, when the gate's name does not say it (accuracy: the misclassified). */
  measure?: string,
): GateState {
  const observed = {
    stableRate: stable.trials === 0 ? null : stable.successes / stable.trials,
    canaryRate: canary.trials === 0 ? null : canary.successes / canary.trials,
    stableSamples: stable.trials,
    canarySamples: canary.trials,
  };
  const before = fromStored(previous.sequential);
  // A sequential decision is a stopping rule: once made it stands.
  if (before.decision !== "continue" || previous.decision !== "continue") {
    return { ...previous, observed: { ...previous.observed, ...observed } };
  }
  const state =
    Math.min(stable.trials, canary.trials) < gate.minSamples
      ? before
      : updateCanaryGate(before, stable, canary, {
          alpha: spec.alpha,
          margin: gate.margin ?? 0,
          worse,
          mixingVariance: mixingVarianceFromMde(spec.minimumDetectableHarm),
        });
  const numbers = {
    ...observed,
    harm: finite(state.harm),
    pValue: state.pValue,
    harmUpperBound: finite(state.harmUpperBound),
  };
  const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(2)}%`);
  const rates = `${measure === undefined ? "" : `${measure} `}canary ${pct(observed.canaryRate)} vs stable ${pct(observed.stableRate)} over ${canary.trials}/${stable.trials}`;
  if (state.decision === "rollback") {
    return {
      decision: "fail",
      failures: previous.failures + 1,
      sequential: toStored(state),
      observed: numbers,
      detail: `${rates}: worse by more than ${pct(gate.margin ?? 0)} (always-valid p = ${state.pValue.toPrecision(3)} ≤ ${spec.alpha})`,
    };
  }
  if (state.decision === "promote") {
    return {
      decision: "pass",
      failures: 0,
      sequential: toStored(state),
      observed: numbers,
      detail: `${rates}: no worse than ${pct(gate.margin ?? 0)} (harm ≤ ${pct(state.harmUpperBound)} at ${1 - spec.alpha} confidence)`,
    };
  }
  const short = Math.min(stable.trials, canary.trials) < gate.minSamples;
  return {
    decision: "continue",
    failures: 0,
    sequential: toStored(state),
    observed: numbers,
    detail: short
      ? `${rates}: waiting for ${gate.minSamples} samples per variant`
      : `${rates}: not decided yet`,
  };
}

function thresholdGate(
  previous: GateState,
  spec: AnalysisSpec,
  gate: Gate,
  samples: number,
  value: number | null,
  stableValue: number | null,
  unit: "ms" | "share",
): GateState {
  const max = gate.max ?? Infinity;
  const observed = { canary: value, stable: stableValue, max, samples };
  const shown = (x: number | null) =>
    x === null ? "–" : unit === "ms" ? `${x.toFixed(1)} ms` : x.toFixed(3);
  if (samples < gate.minSamples || value === null) {
    return {
      decision: "continue",
      failures: previous.failures,
      observed,
      detail: `waiting for ${gate.minSamples} canary samples (${samples} so far)`,
    };
  }
  if (value <= max) {
    return {
      decision: "pass",
      failures: 0,
      observed,
      detail: `canary ${shown(value)} ≤ ${shown(max)} (stable ${shown(stableValue)})`,
    };
  }
  const failures = previous.failures + 1;
  return {
    decision: failures > spec.failureLimit ? "fail" : "continue",
    failures,
    observed,
    detail: `canary ${shown(value)} > ${shown(max)} (stable ${shown(stableValue)}), ${failures} time(s) in a row, limit ${spec.failureLimit}`,
  };
}

/** CanaryGateState with NaN and ±Infinity spelled as null, so it survives JSON. */
export interface StoredGateState {
  readonly looks: number;
  readonly harm: number | null;
  readonly pValue: number;
  readonly harmUpperBound: number | null;
  readonly decision: CanaryGateState["decision"];
  readonly decidedAtLook: number | null;
}

function toStored(s: CanaryGateState): StoredGateState {
  return { ...s, harm: finite(s.harm), harmUpperBound: finite(s.harmUpperBound) };
}

function fromStored(s: StoredGateState | undefined): CanaryGateState {
  if (s === undefined) return CANARY_GATE_START;
  return { ...s, harm: s.harm ?? Number.NaN, harmUpperBound: s.harmUpperBound ?? Infinity };
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
