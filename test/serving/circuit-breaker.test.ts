import { test } from "node:test";
import assert from "node:assert/strict";
import {
  admit,
  settle,
  CLOSED,
  type BreakerPolicy,
  type BreakerState,
  type CallResult,
} from "../../src/serving/circuit-breaker.js";

const policy: BreakerPolicy = { failures: 3, openMs: 10_000, halfOpenProbes: 2 };

/** One admitted call that ends with `result` at `now`; fails the test if it was not admitted. */
function call(state: BreakerState, now: number, result: CallResult): BreakerState {
  const admission = admit(state, policy, now);
  assert.ok(admission.admitted, `expected a call to be admitted in ${JSON.stringify(state)}`);
  return settle(admission.state, policy, now, result, admission.probe);
}

test("consecutive failures open the circuit; a success in between resets the count", () => {
  let s = CLOSED;
  s = call(s, 0, "failure");
  s = call(s, 1, "failure");
  s = call(s, 2, "success");
  assert.deepEqual(s, CLOSED, "a success resets the run of failures");
  s = call(s, 3, "failure");
  s = call(s, 4, "failure");
  assert.deepEqual(s, { phase: "closed", failures: 2 });
  s = call(s, 5, "failure");
  assert.deepEqual(s, { phase: "open", since: 5 });
});

test("the caller's own mistakes neither count as failures nor reset the run", () => {
  let s = call(CLOSED, 0, "failure");
  s = call(s, 1, "ignored");
  s = call(s, 2, "failure");
  assert.deepEqual(s, { phase: "closed", failures: 2 });
});

test("an open circuit refuses until openMs have passed, saying how long is left", () => {
  const open: BreakerState = { phase: "open", since: 1000 };
  const refused = admit(open, policy, 4000);
  assert.deepEqual(refused, { admitted: false, retryAfterMs: 7000, state: open });
  const probe = admit(open, policy, 11_000);
  assert.deepEqual(probe, {
    admitted: true,
    probe: true,
    state: { phase: "half-open", probing: 1, passed: 0 },
  });
});

test("half-open lets halfOpenProbes calls through and closes when all of them succeed", () => {
  const first = admit({ phase: "open", since: 0 }, policy, 10_000);
  assert.ok(first.admitted && first.probe);
  const second = admit(first.state, policy, 10_001);
  assert.ok(second.admitted && second.probe);
  const third = admit(second.state, policy, 10_002);
  assert.equal(third.admitted, false, "no more than halfOpenProbes probes at once");

  let s = settle(second.state, policy, 10_003, "success", true);
  assert.deepEqual(s, { phase: "half-open", probing: 1, passed: 1 });
  assert.equal(admit(s, policy, 10_004).admitted, false, "one probe passed, one still out: no third");
  s = settle(s, policy, 10_005, "success", true);
  assert.deepEqual(s, CLOSED);
});

test("a failing probe opens the circuit again for another openMs", () => {
  const probe = admit({ phase: "open", since: 0 }, policy, 10_000);
  assert.ok(probe.admitted);
  const s = settle(probe.state, policy, 10_500, "failure", true);
  assert.deepEqual(s, { phase: "open", since: 10_500 });
  assert.equal(admit(s, policy, 20_000).admitted, false);
  assert.equal(admit(s, policy, 20_500).admitted, true);
});

test("a probe that fails by the caller's fault frees its slot without deciding anything", () => {
  const probe = admit({ phase: "open", since: 0 }, policy, 10_000);
  assert.ok(probe.admitted);
  const s = settle(probe.state, policy, 10_001, "ignored", true);
  assert.deepEqual(s, { phase: "half-open", probing: 0, passed: 0 });
});

test("late results of calls admitted before the circuit opened change nothing", () => {
  const open: BreakerState = { phase: "open", since: 5 };
  assert.equal(settle(open, policy, 6, "success", false), open);
  assert.equal(settle(open, policy, 6, "failure", false), open);
  const halfOpen: BreakerState = { phase: "half-open", probing: 1, passed: 0 };
  assert.equal(settle(halfOpen, policy, 6, "success", false), halfOpen);
  assert.equal(settle(halfOpen, policy, 6, "failure", false), halfOpen);
});
