/**
 * What every rollout kind shares: the persisted state, the actions a transition asks the
 * controller for, and the notes that become events. Kinds (kinds/*.ts) compute transitions on
 * these; nothing here knows which kind is running.
 */
import type { GateState, VariantMeasurement } from "./analysis.js";
import type { RolloutReason } from "./reasons.js";

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

/** Condition types, as Argo Rollouts' RolloutConditionType. */
export const RolloutConditionType = {
  /** True while stepping; Unknown while paused; False once ended. */
  Progressing: "Progressing",
  Paused: "Paused",
  /** Whether the analyses so far found harm: Unknown before the first one. */
  Healthy: "Healthy",
  /** True once the new version is promoted. */
  Completed: "Completed",
  /** True once rolled back, by the analysis, a person or an A/B test. */
  Aborted: "Aborted",
} as const;
export type RolloutConditionType = (typeof RolloutConditionType)[keyof typeof RolloutConditionType];

/** A Kubernetes-style condition: `lastTransitionTime` changes only when `status` does. */
export interface RolloutCondition {
  readonly type: RolloutConditionType;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: RolloutReason;
  readonly message: string;
  /** Epoch ms, like the state's other times. */
  readonly lastTransitionTime: number;
}

/** An A/B test's always-valid verdict, with NaN and infinities as null so it survives JSON. */
export interface ExperimentState {
  readonly looks: number;
  readonly effect: number | null;
  readonly relativeEffect: number | null;
  readonly standardError: number | null;
  readonly pValue: number;
  readonly interval: { readonly lower: number | null; readonly upper: number | null } | null;
  readonly winner: "A" | "B" | null;
  readonly decidedAtLook: number | null;
  /** Exposures and events per arm at the latest look. */
  readonly arms: { readonly A: ArmCounts; readonly B: ArmCounts };
}

export interface ArmCounts {
  readonly exposures: number;
  readonly events: number;
  readonly rate: number | null;
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
  /**
   * Kept by the controller from each transition (conditions.ts); absent in a kind's first state
   * and in states saved before conditions existed (filled in when loaded).
   */
  readonly conditions?: readonly RolloutCondition[];
}

export type RolloutAction =
  | { readonly type: "setWeight"; readonly weight: number }
  | { readonly type: "promote" }
  | { readonly type: "rollback"; readonly reason: string };

/** Where a note leaves the rollout: the step index, canary weight and phase after it. */
export type NoteState = Pick<RolloutState, "step" | "weight" | "phase">;

export interface RolloutNote {
  readonly reason: RolloutReason;
  readonly message: string;
  readonly warning?: boolean;
  readonly details?: Record<string, unknown>;
  /**
   * The rollout as this note left it, when a tick walks several steps: each event carries its
   * own step and weight, not the state at the end of the tick. Absent: the transition's state.
   */
  readonly at?: NoteState;
}

export interface Transition {
  readonly state: RolloutState;
  readonly actions: readonly RolloutAction[];
  /** What happened, in words, with the reason: each one becomes an event. */
  readonly notes: readonly RolloutNote[];
}

/** The stable and new versions' numbers, read only when a kind says an analysis is due. */
export type Measure = () => { stable: VariantMeasurement; canary: VariantMeasurement };

/** A person's action on a running rollout; refused when it makes no sense in this state. */
export type ManualAction = "pause" | "resume" | "abort" | "promote";

export function isFinished(state: RolloutState): boolean {
  return state.phase === "Succeeded" || state.phase === "Aborted";
}
