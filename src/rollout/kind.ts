/**
 * What the controller needs from a rollout kind (canary, blue-green, A/B test): a first state,
 * a pure step from state, time and measurements to the next state and its actions, a person's
 * actions, and the kind's part of the view. One implementation per file in kinds/, one line
 * each in kinds/index.ts, as Argo Rollouts keeps canary, blue-green and experiment side by side.
 */
import type {
  ExperimentState,
  ManualAction,
  Measure,
  RolloutState,
  Transition,
  VersionPin,
} from "./rollout-state.js";
import type { RolloutStrategy } from "./strategy.js";

export interface RolloutKind<S extends RolloutStrategy> {
  /** The state a new rollout starts in, before its first tick. */
  start(
    rollout: { readonly id: string; readonly deployment: string },
    stable: VersionPin,
    canary: VersionPin,
    strategy: S,
    now: number,
  ): RolloutState;
  /** Whether the next tick measures (measuring reads the store). */
  due(state: RolloutState, strategy: S, now: number): boolean;
  /** One tick; `measure` may be called only when `due` said so. Pure. */
  next(state: RolloutState, strategy: S, now: number, measure: Measure): Transition;
  /** A person's action; a string says why it is refused in this state. Pure. */
  act(state: RolloutState, action: ManualAction, strategy: S, now: number): Transition | string;
  /** Requests carrying this header reach the new version whatever its weight. */
  previewHeader(strategy: S): string | undefined;
  /** The alias that follows a promoted version. */
  promoteAlias(strategy: S): string | undefined;
  /** The feedback events, monitors and labels the analysis reads. */
  needs(strategy: S): RolloutNeeds;
  /** The kind's part of the rollout view: steps, gates, an experiment's verdict. */
  describe(state: RolloutState, strategy: S): KindView;
}

export interface RolloutNeeds {
  readonly events: string[];
  readonly monitors: string[];
  readonly labels: { score: string; threshold: number } | null;
}

export interface KindView {
  readonly steps: number;
  /** For an A/B test: the always-valid verdict, effect and confidence interval. */
  readonly experiment?: ExperimentState & { event: string; alpha: number; verdict: string };
  /** Per gate: its metric, decision and the numbers behind it. */
  readonly gates: Array<{
    gate: string;
    decision: string;
    detail: string;
    observed: Record<string, number | null>;
  }>;
}
