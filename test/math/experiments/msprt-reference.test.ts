import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AB_TEST_START,
  updateAbTestMeans,
  updateAbTestRates,
  type AbTestState,
} from "../../../src/math/experiments/ab-test.js";
import {
  CANARY_GATE_START,
  updateCanaryGate,
  type CanaryGateState,
} from "../../../src/math/experiments/canary-gate.js";
import { momentsOf } from "../../../src/math/experiments/moments.js";
import { assertClose, reference, type AbLook } from "./reference.js";

function checkAbLook(got: AbTestState, want: AbLook, what: string, rtol = 1e-9): void {
  assertClose(got.effect, want.effect, `${what} effect`, rtol);
  assertClose(got.standardError ** 2, want.variance, `${what} variance`, rtol);
  assertClose(got.pValue, want.p_value, `${what} always-valid p`, rtol);
  assert.ok(got.interval !== null, `${what}: interval emptied`);
  assertClose(got.interval.lower, want.lower, `${what} lower`, rtol);
  assertClose(got.interval.upper, want.upper, `${what} upper`, rtol);
  assert.equal(got.winner, want.winner, `${what} winner`);
  assert.equal(got.decidedAtLook, want.decided_at_look, `${what} decided at`);
}

// Values near 1e6 with a spread of 0.5 (mean/sd = 2e6) leave any implementation, numpy's
// two-pass or our one-pass Welford, about 9 good digits in the difference of means; that case is
// there to show the running moments do not collapse (Σx² - n·x̄² would keep about 4), so its
// tolerance is 1e-7.
const CONDITIONING_RTOL: Readonly<Record<string, number>> = { "large offset 1e6, effect 0.1": 1e-7 };

describe("always-valid A/B test on means against the quadrature of the mixture (numpy/scipy)", () => {
  for (const c of reference.ab_means) {
    test(c.name, () => {
      const rtol = CONDITIONING_RTOL[c.name] ?? 1e-9;
      const options = { alpha: c.alpha, mixingVariance: c.tau2, better: c.better };
      let state = AB_TEST_START;
      c.looks.forEach((want, i) => {
        const a = momentsOf(c.a.slice(0, c.looks_a[i]));
        const b = momentsOf(c.b.slice(0, c.looks_b[i]));
        const next = updateAbTestMeans(state, a, b, options);
        if (want === null) assert.equal(next, state, `look ${i}: no variance yet, so no evidence`);
        else checkAbLook(next, want, `look ${i}`, rtol);
        state = next;
      });
    });
  }
});

describe("always-valid A/B test on rates against the quadrature of the mixture (numpy/scipy)", () => {
  for (const c of reference.ab_rates) {
    test(c.name, () => {
      const options = { alpha: c.alpha, mixingVariance: c.tau2, better: c.better };
      let state = AB_TEST_START;
      c.looks.forEach((want, i) => {
        const a = { trials: c.a.trials[i] as number, successes: c.a.successes[i] as number };
        const b = { trials: c.b.trials[i] as number, successes: c.b.successes[i] as number };
        const next = updateAbTestRates(state, a, b, options);
        if (want === null) assert.equal(next, state, `look ${i}: no variance yet, so no evidence`);
        else checkAbLook(next, want, `look ${i}`);
        state = next;
      });
    });
  }
});

describe("canary gate against the quadrature of the half-normal mixture (numpy/scipy)", () => {
  for (const c of reference.canary) {
    test(c.name, () => {
      const options = { alpha: c.alpha, mixingVariance: c.tau2, margin: c.margin, worse: c.worse };
      let state: CanaryGateState = CANARY_GATE_START;
      c.looks.forEach((want, i) => {
        const stable = { trials: c.stable.trials[i] as number, successes: c.stable.successes[i] as number };
        const canary = { trials: c.canary.trials[i] as number, successes: c.canary.successes[i] as number };
        state = updateCanaryGate(state, stable, canary, options);
        assert.ok(want !== null);
        assertClose(state.harm, want.harm, `look ${i} harm`);
        assertClose(state.pValue, want.p_value, `look ${i} one-sided always-valid p`);
        assertClose(state.harmUpperBound, want.harm_upper_bound, `look ${i} upper bound`);
        assert.equal(state.decision, want.decision, `look ${i} decision`);
        assert.equal(state.decidedAtLook, want.decided_at_look, `look ${i} decided at`);
      });
    });
  }
});
