/**
 * A rollout's conditions, computed from its state after every transition (pure). As with
 * Kubernetes conditions, `lastTransitionTime` moves only when a condition's status changes;
 * its reason and message follow the latest state.
 */
import { RolloutReason } from "./reasons.js";
import {
  isFinished,
  RolloutConditionType,
  type AbortedBy,
  type RolloutCondition,
  type RolloutState,
} from "./rollout-state.js";

type Observed = Omit<RolloutCondition, "lastTransitionTime">;

const ABORT_REASON: Record<AbortedBy, RolloutReason> = {
  analysis: RolloutReason.AnalysisFailed,
  person: RolloutReason.Aborted,
  experiment: RolloutReason.RolledBack,
};

const PAUSE_REASON: Record<NonNullable<RolloutState["pauseReason"]>, RolloutReason> = {
  step: RolloutReason.Paused,
  manual: RolloutReason.Paused,
  inconclusive: RolloutReason.AnalysisInconclusive,
};

/** The state's conditions now, keeping each one's transition time while its status holds. */
export function updateConditions(
  previous: readonly RolloutCondition[],
  state: RolloutState,
  now: number,
): RolloutCondition[] {
  return observe(state).map((c) => {
    const before = previous.find((p) => p.type === c.type);
    return {
      ...c,
      lastTransitionTime:
        before !== undefined && before.status === c.status ? before.lastTransitionTime : now,
    };
  });
}

/** The state with its conditions brought up to date. */
export function withConditions(state: RolloutState, now: number): RolloutState {
  return { ...state, conditions: updateConditions(state.conditions ?? [], state, now) };
}

function observe(s: RolloutState): Observed[] {
  const aborted = s.phase === "Aborted" ? ABORT_REASON[s.abortedBy ?? "analysis"] : null;
  const ended = aborted ?? RolloutReason.Promoted;
  return [
    {
      type: RolloutConditionType.Progressing,
      status: s.phase === "Progressing" ? "True" : s.phase === "Paused" ? "Unknown" : "False",
      reason:
        s.phase === "Progressing"
          ? RolloutReason.Progressing
          : s.phase === "Paused"
            ? RolloutReason.Paused
            : ended,
      message: s.message,
    },
    {
      type: RolloutConditionType.Paused,
      status: s.phase === "Paused" ? "True" : "False",
      reason:
        s.pauseReason === null
          ? isFinished(s)
            ? ended
            : RolloutReason.Progressing
          : PAUSE_REASON[s.pauseReason],
      message: s.phase === "Paused" ? s.message : "not paused",
    },
    healthy(s),
    {
      type: RolloutConditionType.Completed,
      status: s.phase === "Succeeded" ? "True" : "False",
      reason: s.phase === "Succeeded" ? RolloutReason.Promoted : (aborted ?? RolloutReason.Progressing),
      message: s.phase === "Succeeded" ? s.message : "not promoted",
    },
    {
      type: RolloutConditionType.Aborted,
      status: aborted === null ? "False" : "True",
      reason: aborted ?? RolloutReason.Progressing,
      message: aborted === null ? "not aborted" : s.message,
    },
  ];
}

/** Whether the analysis found harm: a rollback by the analysis, or a gate failing now. */
function healthy(s: RolloutState): Observed {
  const type = RolloutConditionType.Healthy;
  if (s.phase === "Aborted" && (s.abortedBy ?? "analysis") === "analysis")
    return { type, status: "False", reason: RolloutReason.AnalysisFailed, message: s.message };
  const failing = s.gates.filter((g) => g.decision === "fail");
  if (failing.length > 0)
    return {
      type,
      status: "False",
      reason: RolloutReason.AnalysisFailed,
      message: failing.map((g) => g.detail).join("; "),
    };
  if (s.lastAnalysisAt === null)
    return { type, status: "Unknown", reason: RolloutReason.AwaitingAnalysis, message: "no analysis yet" };
  return { type, status: "True", reason: RolloutReason.AnalysisPassing, message: "no gate has failed" };
}
