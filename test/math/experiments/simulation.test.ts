// Seeded simulations of what the sequential tests promise: error rates under continuous
// monitoring, the sign of a detected effect, coverage of the confidence sequence, and how fast
// canary gates act. Same seeds, same numbers on every run.
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
  type CanaryGateOptions,
} from "../../../src/math/experiments/canary-gate.js";
import { addObservation, EMPTY_MOMENTS } from "../../../src/math/experiments/moments.js";
import { mixingVarianceFromMde } from "../../../src/math/experiments/msprt.js";
import { twoProportionTest } from "../../../src/math/experiments/two-proportion.js";
import { createRandom, deriveSeed } from "../../../src/sim/random.js";
import { binomial, median } from "./simulate.js";

const EXPERIMENTS = 1000;

interface RateRun {
  readonly state: AbTestState;
  /** Did a fixed-horizon z-test at alpha, peeked at after every batch, ever reject? */
  readonly naiveEverRejected: boolean;
  /** Did the confidence sequence contain the true effect at every look? */
  readonly covered: boolean;
}

function runRateExperiment(
  seed: number,
  pA: number,
  pB: number,
  batch: number,
  looks: number,
  alpha: number,
  mde: number,
): RateRun {
  const random = createRandom(seed);
  const options = { alpha, mixingVariance: mixingVarianceFromMde(mde) };
  const a = { trials: 0, successes: 0 };
  const b = { trials: 0, successes: 0 };
  let state = AB_TEST_START;
  let naiveEverRejected = false;
  let covered = true;
  for (let look = 0; look < looks; look++) {
    a.trials += batch;
    a.successes += binomial(random, batch, pA);
    b.trials += batch;
    b.successes += binomial(random, batch, pB);
    state = updateAbTestRates(state, { ...a }, { ...b }, options);
    if (twoProportionTest(a, b).pValue < alpha) naiveEverRejected = true;
    const cs = state.interval;
    if (cs === null || cs.lower > pB - pA || cs.upper < pB - pA) covered = false;
  }
  return { state, naiveEverRejected, covered };
}

describe("always-valid A/B test under continuous monitoring (seeded simulation)", () => {
  test("A = B: false winners stay ≤ alpha over 1000 experiments; peeking at a z-test does not", (t) => {
    const alpha = 0.05;
    let falseWinners = 0;
    let naive = 0;
    for (let i = 0; i < EXPERIMENTS; i++) {
      const run = runRateExperiment(deriveSeed(101, i), 0.1, 0.1, 100, 50, alpha, 0.02);
      if (run.state.winner !== null) falseWinners++;
      if (run.naiveEverRejected) naive++;
    }
    t.diagnostic(
      `rates 10% vs 10%, 50 looks of 100/arm: mSPRT false winners ${falseWinners}/1000, naive peeking ${naive}/1000`,
    );
    assert.ok(falseWinners <= alpha * EXPERIMENTS, `mSPRT: ${falseWinners} false winners`);
    // Fifty peeks at a 5% test: the chance of ever crossing is several times alpha.
    assert.ok(naive > 3 * alpha * EXPERIMENTS, `naive peeking: only ${naive} false positives`);
  });

  test("A = B on a continuous metric with unequal variances: false winners ≤ alpha", (t) => {
    const alpha = 0.05;
    let falseWinners = 0;
    for (let i = 0; i < EXPERIMENTS; i++) {
      const random = createRandom(deriveSeed(202, i));
      let a = EMPTY_MOMENTS;
      let b = EMPTY_MOMENTS;
      let state = AB_TEST_START;
      for (let look = 0; look < 30; look++) {
        for (let j = 0; j < 20; j++) {
          a = addObservation(a, random.normal(5, 1));
          b = addObservation(b, random.normal(5, 2));
        }
        state = updateAbTestMeans(state, a, b, { alpha, mixingVariance: mixingVarianceFromMde(0.25) });
      }
      if (state.winner !== null) falseWinners++;
    }
    t.diagnostic(`means, 30 looks of 20/arm: false winners ${falseWinners}/1000`);
    assert.ok(falseWinners <= alpha * EXPERIMENTS, `${falseWinners} false winners`);
  });

  test("a real effect: winners have the right sign; the sequence covers the effect in ≥ 1 - alpha of runs", (t) => {
    const alpha = 0.05;
    let rightWinner = 0;
    let wrongWinner = 0;
    let covered = 0;
    const decidedAt: number[] = [];
    for (let i = 0; i < EXPERIMENTS; i++) {
      const run = runRateExperiment(deriveSeed(303, i), 0.1, 0.12, 200, 40, alpha, 0.02);
      if (run.state.winner === "B") rightWinner++;
      if (run.state.winner === "A") wrongWinner++;
      if (run.covered) covered++;
      if (run.state.decidedAtLook !== null) decidedAt.push(run.state.decidedAtLook * 200);
    }
    t.diagnostic(
      `rates 10% → 12%: B wins ${rightWinner}/1000, A wins ${wrongWinner}, covered at every look ${covered}/1000, ` +
        `median decision at ${median(decidedAt)} per arm`,
    );
    assert.equal(wrongWinner, 0);
    assert.ok(rightWinner > 0.8 * EXPERIMENTS, `power: ${rightWinner}`);
    assert.ok(covered >= (1 - alpha) * EXPERIMENTS, `coverage: ${covered}`);
  });
});

interface CanaryScenario {
  readonly stableRate: number;
  readonly canaryRate: number;
  readonly weight: number;
  readonly requestsPerLook: number;
  readonly maxRequests: number;
  readonly options: CanaryGateOptions;
}

/** Total requests (both arms) when the gate decided, or null if it never did. */
function runCanary(seed: number, s: CanaryScenario): { decision: string; requests: number } {
  const random = createRandom(seed);
  const canaryPerLook = Math.round(s.requestsPerLook * s.weight);
  const stablePerLook = s.requestsPerLook - canaryPerLook;
  const stable = { trials: 0, successes: 0 };
  const canary = { trials: 0, successes: 0 };
  let state = CANARY_GATE_START;
  for (let requests = s.requestsPerLook; requests <= s.maxRequests; requests += s.requestsPerLook) {
    stable.trials += stablePerLook;
    stable.successes += binomial(random, stablePerLook, s.stableRate);
    canary.trials += canaryPerLook;
    canary.successes += binomial(random, canaryPerLook, s.canaryRate);
    state = updateCanaryGate(state, { ...stable }, { ...canary }, s.options);
    if (state.decision !== "continue") return { decision: state.decision, requests };
  }
  return { decision: "continue", requests: s.maxRequests };
}

const ERROR_GATE: CanaryGateOptions = {
  alpha: 0.01,
  margin: 0,
  worse: "higher",
  mixingVariance: mixingVarianceFromMde(0.02),
};

describe("canary gate (seeded simulation)", () => {
  for (const margin of [0, 0.005]) {
    test(`1000 good canaries (0.5% errors like stable), alpha 0.01, margin ${margin}: no false rollback`, (t) => {
      const scenario: CanaryScenario = {
        stableRate: 0.005,
        canaryRate: 0.005,
        weight: 0.05,
        requestsPerLook: 200,
        maxRequests: 200_000,
        options: { ...ERROR_GATE, margin },
      };
      let rollbacks = 0;
      let promotions = 0;
      for (let i = 0; i < EXPERIMENTS; i++) {
        const { decision } = runCanary(deriveSeed(404, i), scenario);
        if (decision === "rollback") rollbacks++;
        if (decision === "promote") promotions++;
      }
      t.diagnostic(
        `margin ${margin}: false rollbacks ${rollbacks}/1000, promoted ${promotions}/1000 within 200k requests`,
      );
      assert.ok(rollbacks <= ERROR_GATE.alpha * EXPERIMENTS, `${rollbacks} false rollbacks`);
      if (margin > 0) assert.ok(rollbacks <= 1, `${rollbacks} false rollbacks with a margin`);
      // At margin 0 a promotion claims the canary is better than stable, which it is not.
      if (margin === 0)
        assert.ok(promotions <= ERROR_GATE.alpha * EXPERIMENTS, `${promotions} false promotions`);
      else assert.ok(promotions > 0.9 * EXPERIMENTS, `only ${promotions} promotions`);
    });
  }

  const speed: { name: string; scenario: CanaryScenario }[] = [
    {
      name: "errors 10% vs 0.5% stable",
      scenario: {
        stableRate: 0.005,
        canaryRate: 0.1,
        weight: 0.05,
        requestsPerLook: 100,
        maxRequests: 200_000,
        options: ERROR_GATE,
      },
    },
    {
      name: "errors 1% vs 0.5% stable",
      scenario: {
        stableRate: 0.005,
        canaryRate: 0.01,
        weight: 0.05,
        requestsPerLook: 500,
        maxRequests: 2_000_000,
        options: ERROR_GATE,
      },
    },
    {
      name: "click-through 20% → 15%",
      scenario: {
        stableRate: 0.2,
        canaryRate: 0.15,
        weight: 0.05,
        requestsPerLook: 200,
        maxRequests: 1_000_000,
        options: { alpha: 0.01, margin: 0, worse: "lower", mixingVariance: mixingVarianceFromMde(0.05) },
      },
    },
  ];
  for (const { name, scenario } of speed) {
    test(`detection speed at 5% canary weight: ${name}`, (t) => {
      const requests: number[] = [];
      let missed = 0;
      const other: string[] = [];
      for (let i = 0; i < 200; i++) {
        const run = runCanary(deriveSeed(505, i), scenario);
        if (run.decision === "rollback") requests.push(run.requests);
        else {
          missed++;
          other.push(`${run.decision}@${run.requests}`);
        }
      }
      t.diagnostic(
        `${name}: rolled back ${requests.length}/200, median ${median(requests)} requests in total`,
      );
      assert.equal(missed, 0);
    });
  }
});
