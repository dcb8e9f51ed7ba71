import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { updateConditions, withConditions } from "../../src/rollout/conditions.js";
import { advanceCanary, startCanary } from "../../src/rollout/kinds/canary.js";
import type { RolloutCondition, RolloutState } from "../../src/rollout/rollout-state.js";
import { parseStrategy, type CanaryStrategy } from "../../src/rollout/strategy.js";
import { manual } from "../../src/rollout/transitions.js";

const strategy = parseStrategy({
  canary: { steps: [{ setWeight: 10 }, { pause: {} }], analysis: { interval: "30s" } },
}) as CanaryStrategy;
const T0 = 1_000_000;
const start = () =>
  withConditions(
    startCanary("r1", "shop", { model: "m", version: 1 }, { model: "m", version: 2 }, strategy, T0),
    T0,
  );
const byType = (s: RolloutState) =>
  Object.fromEntries((s.conditions ?? []).map((c) => [c.type, c])) as Record<string, RolloutCondition>;

describe("rollout conditions", () => {
  test("a new rollout is Progressing, not Paused, not Completed, not Aborted, health Unknown", () => {
    const c = byType(start());
    assert.deepEqual(Object.fromEntries(Object.entries(c).map(([type, x]) => [type, [x.status, x.reason]])), {
      Progressing: ["True", "Progressing"],
      Paused: ["False", "Progressing"],
      Healthy: ["Unknown", "AwaitingAnalysis"],
      Completed: ["False", "Progressing"],
      Aborted: ["False", "Progressing"],
    });
    for (const x of Object.values(c)) assert.equal(x.lastTransitionTime, T0);
  });

  test("lastTransitionTime moves only with the status; reason and message follow the state", () => {
    let s = start();
    // The first step sets 10% and stops at the indefinite pause: Paused turns True.
    s = withConditions(advanceCanary(s, strategy, T0 + 1000, () => assert.fail()).state, T0 + 1000);
    let c = byType(s);
    assert.deepEqual([c.Paused?.status, c.Paused?.lastTransitionTime], ["True", T0 + 1000]);
    assert.deepEqual([c.Progressing?.status, c.Progressing?.reason], ["Unknown", "Paused"]);
    assert.equal(c.Completed?.lastTransitionTime, T0, "Completed stayed False");
    // Still paused later: nothing transitions.
    const again = updateConditions(s.conditions ?? [], s, T0 + 5000);
    assert.deepEqual(again, s.conditions);
    // Promoted by a person: Completed True, Progressing False, Paused False.
    const promoted = manual(s, "promote", T0 + 9000, strategy.steps.length);
    assert.ok(typeof promoted !== "string");
    s = withConditions(promoted.state, T0 + 9000);
    c = byType(s);
    assert.deepEqual(
      [c.Completed?.status, c.Completed?.reason, c.Completed?.lastTransitionTime],
      ["True", "Promoted", T0 + 9000],
    );
    assert.deepEqual(
      [c.Progressing?.status, c.Paused?.status, c.Aborted?.status],
      ["False", "False", "False"],
    );
  });

  test("an abort says who: the analysis (unhealthy) or a person", () => {
    const aborted = manual(start(), "abort", T0 + 1, 2);
    assert.ok(typeof aborted !== "string");
    const c = byType(withConditions(aborted.state, T0 + 1));
    assert.deepEqual([c.Aborted?.status, c.Aborted?.reason], ["True", "Aborted"]);
    assert.equal(c.Healthy?.status, "Unknown", "a person's abort says nothing of health");
    const rolledBack: RolloutState = { ...aborted.state, abortedBy: "analysis" };
    const d = byType(withConditions(rolledBack, T0 + 1));
    assert.deepEqual(
      [d.Aborted?.reason, d.Healthy?.status, d.Healthy?.reason],
      ["AnalysisFailed", "False", "AnalysisFailed"],
    );
  });
});
