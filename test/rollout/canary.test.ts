import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { advanceCanary, startCanary } from "../../src/rollout/kinds/canary.js";
import type { RolloutState } from "../../src/rollout/rollout-state.js";
import { manual } from "../../src/rollout/transitions.js";
import { parseStrategy, type CanaryStrategy } from "../../src/rollout/strategy.js";
import type { VariantMeasurement } from "../../src/rollout/analysis.js";

const strategy = parseStrategy({
  canary: {
    steps: [
      { setWeight: 5 },
      { pause: { duration: "1m" } },
      { analysis: { duration: "10m" } },
      { setWeight: 50 },
      { pause: {} },
    ],
    analysis: {
      interval: "30s",
      gates: [
        { metric: "error_rate", minSamples: 200 },
        { metric: "latency_p99", max: 100, minSamples: 50 },
      ],
    },
  },
}) as CanaryStrategy;

const measurement = (requests: number, errors: number, p99 = 20): VariantMeasurement => ({
  requests,
  errors,
  latencyMs: { p50: 5, p99 },
  exposures: requests,
  events: {},
  driftShare: {},
});

const T0 = 1_000_000;
const start = () =>
  startCanary("r1", "shop", { model: "m", version: 1 }, { model: "m", version: 2 }, strategy, T0);

describe("canary state machine", () => {
  test("walks setWeight, a timed pause, a blocking analysis, and stops at an indefinite pause", () => {
    let s: RolloutState = start();
    let t = advanceCanary(s, strategy, T0, () => assert.fail("no analysis before canary traffic"));
    assert.deepEqual(t.actions, [{ type: "setWeight", weight: 5 }]);
    s = t.state;
    assert.equal(s.step, 1);
    t = advanceCanary(s, strategy, T0 + 30_000, () => ({
      stable: measurement(1000, 5),
      canary: measurement(50, 0),
    }));
    assert.equal(t.state.step, 1, "still in the minute's pause");
    s = t.state;
    // After the pause: the analysis step waits for the gates (too few samples so far).
    t = advanceCanary(s, strategy, T0 + 61_000, () => ({
      stable: measurement(2000, 10),
      canary: measurement(100, 0),
    }));
    assert.equal(t.state.step, 2);
    assert.equal(t.state.phase, "Progressing");
    s = t.state;
    // Plenty of good data: every gate passes; the step's first analysis sets its baseline...
    t = advanceCanary(s, strategy, T0 + 200_000, () => ({
      stable: measurement(400_000, 2000),
      canary: measurement(21_000, 100),
    }));
    assert.equal(t.state.gates[0]?.decision, "pass", t.state.gates[0]?.detail);
    assert.equal(t.state.step, 2, "no evidence gathered in this step yet");
    // ...and the next, with fresh canary requests, lets it go on: weight 50, then an indefinite pause.
    t = advanceCanary(t.state, strategy, T0 + 230_000, () => ({
      stable: measurement(420_000, 2100),
      canary: measurement(22_000, 105),
    }));
    assert.deepEqual(t.actions, [{ type: "setWeight", weight: 50 }]);
    assert.equal(t.state.phase, "Paused");
    assert.equal(t.state.pauseReason, "step");
    s = t.state;
    const resumed = manual(s, "resume", T0 + 300_000, strategy.steps.length);
    assert.ok(typeof resumed !== "string");
    t = advanceCanary(resumed.state, strategy, T0 + 300_000, () => ({
      stable: measurement(400_000, 2000),
      canary: measurement(21_000, 100),
    }));
    assert.deepEqual(t.actions, [{ type: "promote" }]);
    assert.equal(t.state.phase, "Succeeded");
  });

  test("a canary with 10% errors against 0.5% is rolled back by the background analysis", () => {
    let s = advanceCanary(start(), strategy, T0, () => assert.fail()).state;
    const t = advanceCanary(s, strategy, T0 + 30_000, () => ({
      stable: measurement(6000, 30),
      canary: measurement(300, 30),
    }));
    assert.equal(t.state.phase, "Aborted");
    assert.equal(t.state.abortedBy, "analysis");
    assert.equal(t.notes[0]?.reason, "RolledBack");
    assert.equal(t.state.weight, 0);
    assert.equal(t.actions[0]?.type, "rollback");
    assert.match(
      t.notes[0]!.message,
      /rolled back at 5%: analysis failed: error_rate: canary 10\.00% vs stable 0\.50%/,
    );
    s = t.state;
    assert.deepEqual(
      advanceCanary(s, strategy, T0 + 60_000, () => assert.fail()).actions,
      [],
      "an ended rollout does nothing",
    );
  });

  test("a latency gate fails only after failureLimit + 1 bad evaluations in a row", () => {
    let s = advanceCanary(start(), strategy, T0, () => assert.fail()).state;
    const slow = () => ({ stable: measurement(6000, 30, 20), canary: measurement(300, 1, 250) });
    for (let i = 1; i <= 2; i++) {
      s = advanceCanary(s, strategy, T0 + i * 30_000, slow).state;
      assert.equal(s.phase, "Progressing", `evaluation ${i}`);
    }
    s = advanceCanary(s, strategy, T0 + 3 * 30_000, slow).state;
    assert.equal(s.phase, "Aborted");
    assert.match(s.message, /latency_p99: canary 250\.0 ms > 100\.0 ms/);
  });

  test("an analysis step that cannot decide in time pauses for a person", () => {
    let s = advanceCanary(start(), strategy, T0, () => assert.fail()).state;
    const few = () => ({ stable: measurement(1000, 5), canary: measurement(40, 0) });
    s = advanceCanary(s, strategy, T0 + 61_000, few).state;
    s = advanceCanary(s, strategy, T0 + 61_000 + 10 * 60_000, few).state;
    assert.equal(s.phase, "Paused");
    assert.equal(s.pauseReason, "inconclusive");
    assert.match(s.message, /inconclusive: error_rate: .* waiting for 200 samples/);
  });

  test("manual actions that make no sense are refused with the reason", () => {
    const s = advanceCanary(start(), strategy, T0, () => assert.fail()).state;
    assert.equal(manual(s, "resume", T0, 3), "the rollout is not paused");
    const aborted = manual(s, "abort", T0, 3);
    assert.ok(typeof aborted !== "string");
    assert.deepEqual(aborted.actions, [{ type: "rollback", reason: "aborted by a person" }]);
    assert.equal(aborted.state.abortedBy, "person", "a person's abort is not an automatic rollback");
    assert.equal(aborted.notes[0]?.reason, "Aborted");
    assert.match(manual(aborted.state, "promote", T0, 3) as string, /the rollout has ended \(Aborted\)/);
  });

  test("strategies out of order or malformed are refused naming the field", () => {
    const bad: Array<[unknown, RegExp]> = [
      [
        { canary: { steps: [{ setWeight: 50 }, { setWeight: 20 }] } },
        /strategy\.canary\.steps\[1\]\.setWeight: steps out of order: 20 after 50/,
      ],
      [
        { canary: { steps: [{ analysis: { duration: "5m" } }, { setWeight: 20 }] } },
        /steps\[0\]\.analysis: steps out of order/,
      ],
      [{ canary: { steps: [{ pause: {} }] } }, /expected at least one setWeight step/],
      [{ canary: { steps: [{ setWeight: 5, pause: {} }] } }, /steps\[0\]: expected one of/],
      [
        { canary: { steps: [{ setWeight: 5 }], analysis: { gates: [{ metric: "ctr" }] } } },
        /gates\[0\]\.metric: expected one of error_rate/,
      ],
      [
        { canary: { steps: [{ setWeight: 5 }], analysis: { gates: [{ metric: "event_rate" }] } } },
        /gates\[0\]\.event: expected the feedback event/,
      ],
      [
        { canary: { steps: [{ setWeight: 5 }] }, abTest: { event: "click" } },
        /declare exactly one of canary, blueGreen, abTest/,
      ],
    ];
    for (const [raw, message] of bad) assert.throws(() => parseStrategy(raw), message);
  });
});
