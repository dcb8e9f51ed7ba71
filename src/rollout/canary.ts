/**
 * The canary as a pure state machine: given the rollout's state, its strategy, the time and the
 * latest analysis, it returns the next state and what must be done (set a weight, promote,
 * roll back). The controller carries the actions out and persists the state, so a restart
 * resumes from the last state written.
 */
import { analyse, startGates, type Analysis, type GateState, type VariantMeasurement } from "./analysis.js";
import type { CanaryStrategy } from "./strategy.js";
import type { ExperimentState } from "./ab-test.js";

export type RolloutPhase = "Progressing" | "Paused" | "Succeeded" | "Aborted";

/**
 * Who ended an Aborted rollout: its analysis (an automatic rollback), a person (`rollout abort`
 * or `undo`), or an A/B test that found the current version better. The phase stays "Aborted"
 * for all three so clients matching on it keep working; this field tells them apart.
 */
export type AbortedBy = "analysis" | "person" | "experiment";

export interface VersionPin {
  readonly model: string;
  readonly version: number;
}

export interface RolloutState {
  readonly id: string;
  readonly deployment: string;
  readonly stable: VersionPin;
  readonly canary: VersionPin;
  readonly phase: RolloutPhase;
  /** Why a Paused rollout waits: a pause step without a duration, an inconclusive analysis, a person. */
  readonly pauseReason: "step" | "inconclusive" | "manual" | null;
  /** Index of the step being run; equal to the number of steps once all have run. */
  readonly step: number;
  readonly stepStartedAt: number;
  /** The canary's share of live traffic now, percent. */
  readonly weight: number;
  readonly gates: readonly GateState[];
  readonly lastAnalysisAt: number | null;
  /**
   * Canary requests counted at the first analysis of the current step: a blocking analysis
   * passes only on evidence gathered at the step's weight, not on decisions made before it.
   */
  readonly stepBaseline?: { readonly step: number; readonly canaryRequests: number };
  /** An A/B test's always-valid verdict so far (A/B rollouts only). */
  readonly experiment?: ExperimentState;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
  readonly message: string;
  /** Set when the phase is Aborted; absent in states saved before it existed. */
  readonly abortedBy?: AbortedBy;
}

export type RolloutAction =
  | { readonly type: "setWeight"; readonly weight: number }
  | { readonly type: "promote" }
  | { readonly type: "rollback"; readonly reason: string };

export interface Transition {
  readonly state: RolloutState;
  readonly actions: readonly RolloutAction[];
  /** What happened, in words, with the reason: each one becomes an event. */
  readonly notes: ReadonlyArray<{
    reason: string;
    message: string;
    warning?: boolean;
    details?: Record<string, unknown>;
    /**
     * The rollout as this note left it, when a tick walks several steps: each event carries its
     * own step and weight, not the state at the end of the tick. Absent: the transition's state.
     */
    at?: NoteState;
  }>;
}

/** Where a note leaves the rollout: the step index, canary weight and phase after it. */
export type NoteState = Pick<RolloutState, "step" | "weight" | "phase">;

function stateOf(s: RolloutState): NoteState {
  return { step: s.step, weight: s.weight, phase: s.phase };
}

export function startCanary(
  id: string,
  deployment: string,
  stable: VersionPin,
  canary: VersionPin,
  strategy: CanaryStrategy | { readonly event: string },
  now: number,
): RolloutState {
  const ab = "event" in strategy;
  return {
    id,
    deployment,
    stable,
    canary,
    phase: "Progressing",
    pauseReason: null,
    step: 0,
    stepStartedAt: now,
    weight: 0,
    gates: ab ? [] : startGates(strategy.analysis),
    lastAnalysisAt: null,
    startedAt: now,
    updatedAt: now,
    finishedAt: null,
    message: ab
      ? `A/B test of ${canary.model} v${canary.version} against v${stable.version} started`
      : `canary of ${canary.model} v${canary.version} against v${stable.version} started`,
  };
}

export function isFinished(state: RolloutState): boolean {
  return state.phase === "Succeeded" || state.phase === "Aborted";
}

/** Whether the next tick measures: the canary has traffic and an interval has passed. */
export function analysisDue(state: RolloutState, strategy: CanaryStrategy, now: number): boolean {
  return (
    !isFinished(state) &&
    // Blue-green analyses its preview traffic before the new version has any weight.
    (state.weight > 0 || strategy.previewHeader !== undefined) &&
    (state.lastAnalysisAt === null || now - state.lastAnalysisAt >= strategy.analysis.intervalMs)
  );
}

/**
 * One tick: analyse if an interval has passed (or a blocking analysis step waits on it), then
 * walk the steps as far as time and the analysis allow.
 */
export function advanceCanary(
  state: RolloutState,
  strategy: CanaryStrategy,
  now: number,
  measure: () => { stable: VariantMeasurement; canary: VariantMeasurement },
): Transition {
  if (isFinished(state)) return { state, actions: [], notes: [] };
  const notes: Array<Transition["notes"][number]> = [];
  const actions: RolloutAction[] = [];
  let s = state;

  let analysis: Analysis | null = null;
  let freshSamples = 0;
  // The step the analysis above measured; a step reached later in this tick has no evidence yet.
  const measuredStep = s.step;
  if (analysisDue(s, strategy, now)) {
    const m = measure();
    analysis = analyse(strategy.analysis, s.gates, m.stable, m.canary);
    const baseline =
      s.stepBaseline?.step === s.step ? s.stepBaseline : { step: s.step, canaryRequests: m.canary.requests };
    freshSamples = m.canary.requests - baseline.canaryRequests;
    s = { ...s, gates: analysis.gates, lastAnalysisAt: now, stepBaseline: baseline };
    if (analysis.verdict === "Failed")
      return rollback(s, now, `analysis failed: ${analysis.reason}`, analysis, "analysis");
  }
  if (s.phase === "Paused") return { state: s, actions, notes };

  // Walk steps until one has to wait.
  for (;;) {
    const step = strategy.steps[s.step];
    if (step === undefined) {
      actions.push({ type: "promote" });
      const promoted = `${s.canary.model} v${s.canary.version} promoted to stable after ${strategy.steps.length} steps; v${s.stable.version} kept for undo`;
      s = { ...s, phase: "Succeeded", weight: 100, finishedAt: now, updatedAt: now, message: "promoted" };
      notes.push({ reason: "Promoted", message: promoted, details: { gates: s.gates }, at: stateOf(s) });
      return { state: s, actions, notes };
    }
    if ("setWeight" in step) {
      actions.push({ type: "setWeight", weight: step.setWeight });
      const message = `step ${s.step + 1}/${strategy.steps.length}: canary weight ${s.weight}% → ${step.setWeight}%`;
      s = { ...s, weight: step.setWeight, step: s.step + 1, stepStartedAt: now, updatedAt: now };
      notes.push({ reason: "StepWeight", message, at: stateOf(s) });
      continue;
    }
    if ("pause" in step) {
      const { durationMs } = step.pause;
      if (durationMs === undefined) {
        notes.push({
          reason: "Paused",
          message: `step ${s.step + 1}/${strategy.steps.length}: paused until resumed (ballast rollout resume ${s.deployment})`,
        });
        return {
          state: {
            ...s,
            phase: "Paused",
            pauseReason: "step",
            updatedAt: now,
            message: "paused: waiting for resume",
          },
          actions,
          notes,
        };
      }
      if (now - s.stepStartedAt < durationMs) return { state: s, actions, notes };
      s = { ...s, step: s.step + 1, stepStartedAt: now, updatedAt: now };
      continue;
    }
    // A blocking analysis: go on once every gate has passed; pause for a person if time runs out first.
    // Decisions made at an earlier weight stand, but this step needs evidence of its own:
    // as many fresh canary requests as the most demanding gate asks for.
    const needed = Math.max(0, ...strategy.analysis.gates.map((g) => g.minSamples));
    const fresh = s.step === measuredStep ? freshSamples : 0;
    const verdict = analysis !== null && fresh >= needed ? analysis.verdict : "Inconclusive";
    if (verdict === "Successful") {
      const message = `step ${s.step + 1}/${strategy.steps.length}: every gate passed`;
      s = { ...s, step: s.step + 1, stepStartedAt: now, updatedAt: now };
      notes.push({ reason: "AnalysisSuccessful", message, details: { gates: s.gates }, at: stateOf(s) });
      continue;
    }
    if (now - s.stepStartedAt >= step.analysis.durationMs) {
      const reason = analysis?.reason ?? "gates undecided";
      notes.push({
        reason: "AnalysisInconclusive",
        warning: true,
        message: `step ${s.step + 1}/${strategy.steps.length}: inconclusive after ${Math.round(step.analysis.durationMs / 1000)} s (${reason}); paused for a person: resume, promote or abort`,
        details: { gates: s.gates },
      });
      return {
        state: {
          ...s,
          phase: "Paused",
          pauseReason: "inconclusive",
          updatedAt: now,
          message: `inconclusive: ${reason}`,
        },
        actions,
        notes,
      };
    }
    return { state: s, actions, notes };
  }
}

function rollback(
  s: RolloutState,
  now: number,
  reason: string,
  analysis: Analysis | null,
  by: "analysis" | "person",
): Transition {
  return {
    state: {
      ...s,
      phase: "Aborted",
      abortedBy: by,
      weight: 0,
      finishedAt: now,
      updatedAt: now,
      pauseReason: null,
      message: reason,
    },
    actions: [{ type: "rollback", reason }],
    notes: [
      {
        // A person's abort is recorded as such: only an automatic rollback alerts (RolledBack).
        reason: by === "analysis" ? "RolledBack" : "Aborted",
        warning: true,
        message: `${s.canary.model} v${s.canary.version} rolled back at ${s.weight}%: ${reason}; all traffic on v${s.stable.version}`,
        details: { gates: analysis?.gates ?? s.gates },
      },
    ],
  };
}

/** A person's action on a running rollout; refused (null) when it makes no sense in this state. */
export type ManualAction = "pause" | "resume" | "abort" | "promote";

export function manual(
  state: RolloutState,
  action: ManualAction,
  now: number,
  /** How many steps the strategy has (0 for an A/B test). */
  steps: number,
): Transition | string {
  if (isFinished(state)) return `the rollout has ended (${state.phase}); nothing to ${action}`;
  switch (action) {
    case "pause":
      if (state.phase === "Paused") return "the rollout is already paused";
      return {
        state: {
          ...state,
          phase: "Paused",
          pauseReason: "manual",
          updatedAt: now,
          message: "paused by a person",
        },
        actions: [],
        notes: [{ reason: "Paused", message: "paused by a person" }],
      };
    case "resume": {
      if (state.phase !== "Paused") return "the rollout is not paused";
      // Resuming a pause step or an inconclusive analysis moves past it.
      const past = state.pauseReason === "manual" ? state.step : state.step + 1;
      return {
        state: {
          ...state,
          phase: "Progressing",
          pauseReason: null,
          step: past,
          stepStartedAt: now,
          updatedAt: now,
          message: "resumed",
        },
        actions: [],
        notes: [
          {
            reason: "Resumed",
            message: `resumed by a person at step ${Math.min(past, steps) + 1}/${steps}`,
          },
        ],
      };
    }
    case "abort":
      return rollback(state, now, "aborted by a person", null, "person");
    case "promote":
      return {
        state: {
          ...state,
          phase: "Succeeded",
          weight: 100,
          finishedAt: now,
          updatedAt: now,
          message: "promoted by a person",
        },
        actions: [{ type: "promote" }],
        notes: [
          {
            reason: "Promoted",
            message: `${state.canary.model} v${state.canary.version} promoted by a person, skipping the remaining steps`,
          },
        ],
      };
  }
}
