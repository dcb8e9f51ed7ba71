/**
 * Transitions every kind makes the same way: the first state, a rollback, and a person's
 * pause, resume, abort or promote. Pure, like the kinds that use them.
 */
import type { GateState } from "./analysis.js";
import { RolloutReason } from "./reasons.js";
import {
  isFinished,
  type ManualAction,
  type RolloutState,
  type Transition,
  type VersionPin,
} from "./rollout-state.js";

export function firstState(
  rollout: { readonly id: string; readonly deployment: string },
  stable: VersionPin,
  canary: VersionPin,
  gates: readonly GateState[],
  message: string,
  now: number,
): RolloutState {
  return {
    id: rollout.id,
    deployment: rollout.deployment,
    stable,
    canary,
    phase: "Progressing",
    pauseReason: null,
    step: 0,
    stepStartedAt: now,
    weight: 0,
    gates,
    lastAnalysisAt: null,
    startedAt: now,
    updatedAt: now,
    finishedAt: null,
    message,
  };
}

export function rollback(
  s: RolloutState,
  now: number,
  reason: string,
  gates: readonly GateState[] | null,
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
        reason: by === "analysis" ? RolloutReason.RolledBack : RolloutReason.Aborted,
        warning: true,
        message: `${s.canary.model} v${s.canary.version} rolled back at ${s.weight}%: ${reason}; all traffic on v${s.stable.version}`,
        details: { gates: gates ?? s.gates },
      },
    ],
  };
}

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
        notes: [{ reason: RolloutReason.Paused, message: "paused by a person" }],
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
            reason: RolloutReason.Resumed,
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
            reason: RolloutReason.Promoted,
            message: `${state.canary.model} v${state.canary.version} promoted by a person, skipping the remaining steps`,
          },
        ],
      };
  }
}
