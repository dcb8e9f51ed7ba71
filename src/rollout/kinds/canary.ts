/**
 * The canary as a pure state machine: given the rollout's state, its strategy, the time and the
 * latest analysis, it returns the next state and what must be done (set a weight, promote,
 * roll back). The controller carries the actions out and persists the state, so a restart
 * resumes from the last state written. Blue-green walks its steps with the same machine.
 */
import { analyse, label, startGates, type Analysis } from "../analysis.js";
import type { KindView, RolloutKind, RolloutNeeds } from "../kind.js";
import { RolloutReason } from "../reasons.js";
import {
  isFinished,
  type Measure,
  type NoteState,
  type RolloutAction,
  type RolloutState,
  type Transition,
  type VersionPin,
} from "../rollout-state.js";
import type { BlueGreenStrategy, CanaryStrategy } from "../strategy.js";
import { firstState, manual, rollback } from "../transitions.js";

/** A strategy that walks steps under background analysis. */
export type SteppedStrategy = CanaryStrategy | BlueGreenStrategy;

function stateOf(s: RolloutState): NoteState {
  return { step: s.step, weight: s.weight, phase: s.phase };
}

export function startCanary(
  id: string,
  deployment: string,
  stable: VersionPin,
  canary: VersionPin,
  strategy: SteppedStrategy,
  now: number,
): RolloutState {
  return firstState(
    { id, deployment },
    stable,
    canary,
    startGates(strategy.analysis),
    `canary of ${canary.model} v${canary.version} against v${stable.version} started`,
    now,
  );
}

/** Whether the next tick measures: the canary has traffic and an interval has passed. */
export function analysisDue(state: RolloutState, strategy: SteppedStrategy, now: number): boolean {
  return (
    !isFinished(state) &&
    // Blue-green analyses its preview traffic before the new version has any weight.
    (state.weight > 0 || strategy.kind === "blueGreen") &&
    (state.lastAnalysisAt === null || now - state.lastAnalysisAt >= strategy.analysis.intervalMs)
  );
}

/**
 * One tick: analyse if an interval has passed (or a blocking analysis step waits on it), then
 * walk the steps as far as time and the analysis allow.
 */
export function advanceCanary(
  state: RolloutState,
  strategy: SteppedStrategy,
  now: number,
  measure: Measure,
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
      return rollback(s, now, `analysis failed: ${analysis.reason}`, analysis.gates, "analysis");
  }
  if (s.phase === "Paused") return { state: s, actions, notes };

  // Walk steps until one has to wait.
  for (;;) {
    const step = strategy.steps[s.step];
    if (step === undefined) {
      actions.push({ type: "promote" });
      const promoted = `${s.canary.model} v${s.canary.version} promoted to stable after ${strategy.steps.length} steps; v${s.stable.version} kept for undo`;
      s = { ...s, phase: "Succeeded", weight: 100, finishedAt: now, updatedAt: now, message: "promoted" };
      notes.push({
        reason: RolloutReason.Promoted,
        message: promoted,
        details: { gates: s.gates },
        at: stateOf(s),
      });
      return { state: s, actions, notes };
    }
    if ("setWeight" in step) {
      actions.push({ type: "setWeight", weight: step.setWeight });
      const message = `step ${s.step + 1}/${strategy.steps.length}: canary weight ${s.weight}% → ${step.setWeight}%`;
      s = { ...s, weight: step.setWeight, step: s.step + 1, stepStartedAt: now, updatedAt: now };
      notes.push({ reason: RolloutReason.StepWeight, message, at: stateOf(s) });
      continue;
    }
    if ("pause" in step) {
      const { durationMs } = step.pause;
      if (durationMs === undefined) {
        notes.push({
          reason: RolloutReason.Paused,
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
      notes.push({
        reason: RolloutReason.AnalysisSuccessful,
        message,
        details: { gates: s.gates },
        at: stateOf(s),
      });
      continue;
    }
    if (now - s.stepStartedAt >= step.analysis.durationMs) {
      const reason = analysis?.reason ?? "gates undecided";
      notes.push({
        reason: RolloutReason.AnalysisInconclusive,
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

/** The feedback events, monitors and labels a stepped rollout's gates read. */
export function gateNeeds(strategy: SteppedStrategy): RolloutNeeds {
  const gates = strategy.analysis.gates;
  const accuracy = gates.find((g) => g.metric === "accuracy");
  return {
    events: gates.flatMap((g) => (g.event === undefined ? [] : [g.event])),
    monitors: gates.flatMap((g) => (g.monitor === undefined ? [] : [g.monitor])),
    labels:
      accuracy === undefined
        ? null
        : { score: accuracy.score ?? "probability", threshold: accuracy.threshold ?? 0.5 },
  };
}

/** Steps and each gate's decision with the numbers behind it. */
export function describeSteps(state: RolloutState, strategy: SteppedStrategy): KindView {
  return {
    steps: strategy.steps.length,
    gates: strategy.analysis.gates.map((g, i) => {
      const gate = state.gates[i];
      return {
        gate: label(g),
        decision: gate?.decision ?? "continue",
        detail: gate?.detail ?? "",
        observed: { ...(gate?.observed ?? {}) },
      };
    }),
  };
}

export const canary: RolloutKind<CanaryStrategy> = {
  start: (rollout, stable, next, strategy, now) =>
    startCanary(rollout.id, rollout.deployment, stable, next, strategy, now),
  due: analysisDue,
  next: advanceCanary,
  act: (state, action, strategy, now) => manual(state, action, now, strategy.steps.length),
  previewHeader: () => undefined,
  promoteAlias: (strategy) => strategy.promoteAlias,
  needs: gateNeeds,
  describe: describeSteps,
};
