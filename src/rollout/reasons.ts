/**
 * Why a rollout changed, as named constants: every event a rollout records carries one of these
 * as its reason, and conditions reuse them. The strings are what clients, alerts and the event
 * log match on; a new reason is a new name here, never an inline string.
 */
export const RolloutReason = {
  RolloutStarted: "RolloutStarted",
  RolloutResumed: "RolloutResumed",
  /** A canary step set the new version's weight. */
  StepWeight: "StepWeight",
  Paused: "Paused",
  Resumed: "Resumed",
  AnalysisSuccessful: "AnalysisSuccessful",
  /** A blocking analysis ran out of time undecided: a person decides. */
  AnalysisInconclusive: "AnalysisInconclusive",
  Promoted: "Promoted",
  /** An automatic rollback (failed analysis, or an A/B test the current version won). */
  RolledBack: "RolledBack",
  /** A person's abort. */
  Aborted: "Aborted",
  ExperimentStarted: "ExperimentStarted",
  /** An A/B test named a winner and waits for a person (no autoPromote). */
  ExperimentDecided: "ExperimentDecided",
  /** A challenger beat the champion and is rolled out through the canary. */
  ChallengerBetter: "ChallengerBetter",
  /** A promotion undone: the version stable before it is stable again. */
  Undone: "Undone",
  /** Conditions only: the analysis failed (the event says RolledBack). */
  AnalysisFailed: "AnalysisFailed",
  /** Conditions only: the rollout steps on. */
  Progressing: "Progressing",
  /** Conditions only: no analysis has run yet. */
  AwaitingAnalysis: "AwaitingAnalysis",
  /** Conditions only: the analyses so far found no harm. */
  AnalysisPassing: "AnalysisPassing",
} as const;

export type RolloutReason = (typeof RolloutReason)[keyof typeof RolloutReason];
