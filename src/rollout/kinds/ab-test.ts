/**
 * An A/B test as a rollout: the new version (B, the `canary` variant) takes a fixed share of
 * traffic next to the stable one (A) until the always-valid test (stats/ab-test.ts, mSPRT) names
 * a winner on a feedback event's rate. Looking at it as often as anyone likes does not inflate
 * the false-winner rate. With `autoPromote`, a winning B is promoted and a winning A ends the
 * test with B's traffic removed; otherwise the verdict waits for a person (promote or abort).
 */
import {
  AB_TEST_START,
  mixingVarianceFromMde,
  updateAbTestRates,
  type AbTestState,
} from "../../math/experiments/index.js";
import type { VariantMeasurement } from "../analysis.js";
import type { RolloutKind } from "../kind.js";
import { RolloutReason } from "../reasons.js";
import {
  isFinished,
  type ExperimentState,
  type Measure,
  type RolloutAction,
  type RolloutState,
  type Transition,
} from "../rollout-state.js";
import type { AbTestStrategy } from "../strategy.js";
import { firstState, manual } from "../transitions.js";

export function startExperiment(): ExperimentState {
  return toStored(AB_TEST_START, { exposures: 0, events: 0 }, { exposures: 0, events: 0 });
}

export function abTestDue(state: RolloutState, strategy: AbTestStrategy, now: number): boolean {
  return (
    !isFinished(state) && (state.lastAnalysisAt === null || now - state.lastAnalysisAt >= strategy.intervalMs)
  );
}

export function advanceAbTest(
  state: RolloutState,
  strategy: AbTestStrategy,
  now: number,
  measure: Measure,
): Transition {
  if (isFinished(state)) return { state, actions: [], notes: [] };
  if (state.weight === 0) {
    // The first step: B gets its share.
    return {
      state: { ...state, weight: strategy.weight, updatedAt: now },
      actions: [{ type: "setWeight", weight: strategy.weight }],
      notes: [
        {
          reason: RolloutReason.ExperimentStarted,
          message: `A/B test on ${strategy.event} rate: v${state.canary.version} (B) at ${strategy.weight}% against v${state.stable.version} (A)`,
        },
      ],
    };
  }
  if (!abTestDue(state, strategy, now) || state.phase === "Paused") return { state, actions: [], notes: [] };
  const { stable, canary } = measure();
  const arm = (m: VariantMeasurement) => ({
    trials: m.exposures,
    successes: Math.min(m.exposures, m.events[strategy.event] ?? 0),
  });
  const a = arm(stable);
  const b = arm(canary);
  const before = fromStored(state.experiment ?? startExperiment());
  const after = updateAbTestRates(before, a, b, {
    alpha: strategy.alpha,
    mixingVariance: mixingVarianceFromMde(strategy.minimumDetectableEffect),
    better: "higher",
    rateVariance: "guarded",
  });
  const experiment = toStored(
    after,
    { exposures: a.trials, events: a.successes },
    { exposures: b.trials, events: b.successes },
  );
  let s: RolloutState = { ...state, experiment, lastAnalysisAt: now };
  if (after.winner === null || before.winner !== null) return { state: s, actions: [], notes: [] };

  const verdict = describeVerdict(experiment, strategy);
  if (!strategy.autoPromote) {
    s = {
      ...s,
      phase: "Paused",
      pauseReason: "inconclusive",
      updatedAt: now,
      message: `${verdict}; promote or abort`,
    };
    return {
      state: s,
      actions: [],
      notes: [{ reason: RolloutReason.ExperimentDecided, message: verdict, details: { experiment } }],
    };
  }
  const actions: RolloutAction[] =
    after.winner === "B" ? [{ type: "promote" }] : [{ type: "rollback", reason: verdict }];
  s = {
    ...s,
    phase: after.winner === "B" ? "Succeeded" : "Aborted",
    ...(after.winner === "B" ? {} : { abortedBy: "experiment" as const }),
    weight: after.winner === "B" ? 100 : 0,
    finishedAt: now,
    updatedAt: now,
    message: verdict,
  };
  return {
    state: s,
    actions,
    notes: [
      {
        reason: after.winner === "B" ? RolloutReason.Promoted : RolloutReason.RolledBack,
        warning: after.winner === "A",
        message: `${verdict}: v${after.winner === "B" ? s.canary.version : s.stable.version} keeps all traffic`,
        details: { experiment },
      },
    ],
  };
}

export function describeVerdict(e: ExperimentState, strategy: AbTestStrategy): string {
  const pct = (x: number | null) => (x === null ? "–" : `${(x * 100).toFixed(2)}%`);
  const ci =
    e.interval === null
      ? ""
      : `, ${((1 - strategy.alpha) * 100).toFixed(0)}% CI [${pct(e.interval.lower)}, ${pct(e.interval.upper)}]`;
  const effect = `B − A = ${pct(e.effect)}${ci}, always-valid p = ${e.pValue.toPrecision(3)}`;
  if (e.winner === null) return `no winner yet (${effect})`;
  return `${e.winner} wins on ${strategy.event} rate: A ${pct(e.arms.A.rate)} vs B ${pct(e.arms.B.rate)} (${effect})`;
}

function toStored(
  s: AbTestState,
  a: { exposures: number; events: number },
  b: { exposures: number; events: number },
): ExperimentState {
  const f = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return {
    looks: s.looks,
    effect: f(s.effect),
    relativeEffect: f(s.relativeEffect),
    standardError: f(s.standardError),
    pValue: s.pValue,
    interval: s.interval === null ? null : { lower: f(s.interval.lower), upper: f(s.interval.upper) },
    winner: s.winner,
    decidedAtLook: s.decidedAtLook,
    arms: {
      A: { ...a, rate: a.exposures === 0 ? null : a.events / a.exposures },
      B: { ...b, rate: b.exposures === 0 ? null : b.events / b.exposures },
    },
  };
}

function fromStored(e: ExperimentState): AbTestState {
  return {
    looks: e.looks,
    effect: e.effect ?? Number.NaN,
    relativeEffect: e.relativeEffect ?? Number.NaN,
    standardError: e.standardError ?? Number.NaN,
    pValue: e.pValue,
    interval:
      e.interval === null
        ? null
        : { lower: e.interval.lower ?? -Infinity, upper: e.interval.upper ?? Infinity },
    winner: e.winner,
    decidedAtLook: e.decidedAtLook,
  };
}

export const abTest: RolloutKind<AbTestStrategy> = {
  start: (rollout, stable, canary, _strategy, now) =>
    firstState(
      rollout,
      stable,
      canary,
      [],
      `A/B test of ${canary.model} v${canary.version} against v${stable.version} started`,
      now,
    ),
  due: abTestDue,
  next: advanceAbTest,
  act: (state, action, _strategy, now) => manual(state, action, now, 0),
  previewHeader: () => undefined,
  // The winner of an A/B test becomes the champion.
  promoteAlias: () => "champion",
  needs: (strategy) => ({ events: [strategy.event], monitors: [], labels: null }),
  describe: (state, strategy) => ({
    steps: 0,
    gates: [],
    ...(state.experiment === undefined
      ? {}
      : {
          experiment: {
            ...state.experiment,
            event: strategy.event,
            alpha: strategy.alpha,
            verdict: describeVerdict(state.experiment, strategy),
          },
        }),
  }),
};
