/**
 * `npm run bench:rollout` (issue 4's benchmark): a bad canary (10% errors against 0.5%, and
 * separately a 5-point click-through drop) introduced at 5% weight, judged by Ballast's
 * sequential analysis and by a fixed-interval threshold policy configured like Flagger's (60 s
 * interval, threshold 5) on the same simulated traffic; then 1,000 good canaries to count false
 * rollbacks; then the routing cost per request of a 3-variant split plus shadow against a
 * single version, in the same process.
 *
 * Environment: BENCH_ROLLOUT_RPS (200), BENCH_ROLLOUT_GOOD_RUNS (1000), BENCH_ROLLOUT_SEEDS (20).
 */
import { parseStrategy, type CanaryStrategy } from "../src/rollout/strategy.js";
import { fixed, passFail, positiveInt, table } from "./report.js";
import { runBallast, runThresholdPolicy, type Outcome, type Scenario } from "./rollout/simulation.js";
import { measureRouting } from "./rollout/routing-cost.js";

const RPS = positiveInt("BENCH_ROLLOUT_RPS", 200);
const GOOD_RUNS = positiveInt("BENCH_ROLLOUT_GOOD_RUNS", 1000);
const SEEDS = positiveInt("BENCH_ROLLOUT_SEEDS", 20);
const ALPHA = 0.01;

const strategy = (gate: Record<string, unknown>): CanaryStrategy =>
  parseStrategy({
    canary: {
      steps: [{ setWeight: 5 }, { pause: { duration: "1h" } }, { setWeight: 50 }],
      analysis: { interval: "10s", alpha: ALPHA, minimumDetectableHarm: 0.02, gates: [gate] },
    },
  }) as CanaryStrategy;

const ERRORS = strategy({ metric: "error_rate", margin: 0.005, minSamples: 50 });
const CLICKS = strategy({ metric: "event_rate", event: "click", margin: 0.01, minSamples: 100 });
const FLAGGER = { intervalSeconds: 60, threshold: 5, maxErrorRate: 0.01, minClickRate: 0.08 };

const base = { requestsPerSecond: RPS, horizonSeconds: 3600 };
const scenarios: Array<{ scenario: Scenario; strategy: CanaryStrategy }> = [
  {
    scenario: {
      ...base,
      name: "10% errors (stable 0.5%)",
      stable: { errorRate: 0.005, clickRate: 0.1 },
      canary: { errorRate: 0.1, clickRate: 0.1 },
      bad: "errors",
    },
    strategy: ERRORS,
  },
  {
    scenario: {
      ...base,
      name: "click-through 10% -> 5%",
      stable: { errorRate: 0.005, clickRate: 0.1 },
      canary: { errorRate: 0.005, clickRate: 0.05 },
      bad: "lostClicks",
    },
    strategy: CLICKS,
  },
];

function mean(outcomes: readonly Outcome[], pick: (o: Outcome) => number): number {
  return outcomes.reduce((s, o) => s + pick(o), 0) / outcomes.length;
}

async function badCanaries(): Promise<boolean> {
  console.log(
    `\n(1) Bad canary at 5% weight, ${RPS} requests/s, mean over ${SEEDS} seeded runs (same traffic for both policies)`,
  );
  const rows: string[][] = [
    ["scenario", "policy", "rolled back", "canary requests", "bad responses", "seconds to rollback"],
  ];
  let pass = true;
  for (const { scenario, strategy: s } of scenarios) {
    const ballast: Outcome[] = [];
    const flagger: Outcome[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      ballast.push(await runBallast(scenario, s, seed));
      flagger.push(runThresholdPolicy(scenario, seed, FLAGGER, 5));
    }
    for (const [name, outcomes] of [
      ["Ballast (sequential, α=0.01)", ballast],
      ["Flagger-like (60 s, threshold 5)", flagger],
    ] as const) {
      rows.push([
        scenario.name,
        name,
        `${outcomes.filter((o) => o.rolledBack).length}/${outcomes.length}`,
        fixed(
          mean(outcomes, (o) => o.canaryRequests),
          0,
        ),
        fixed(
          mean(outcomes, (o) => o.badResponses),
          1,
        ),
        fixed(
          mean(outcomes, (o) => o.seconds),
          0,
        ),
      ]);
    }
    const ratio = mean(ballast, (o) => o.badResponses) / mean(flagger, (o) => o.badResponses);
    const ok = ballast.every((o) => o.rolledBack) && ratio <= 0.25;
    pass &&= ok;
    rows.push([
      scenario.name,
      "ratio Ballast / Flagger-like",
      "",
      "",
      fixed(ratio, 3),
      `target ≤ 0.25: ${passFail(ok)}`,
    ]);
  }
  console.log(table(rows));
  return pass;
}

async function goodCanaries(): Promise<boolean> {
  console.log(
    `\n(2) ${GOOD_RUNS} good canaries per gate (canary = stable), 1 h at 5% weight each, α = ${ALPHA}`,
  );
  const rows: string[][] = [["gate", "false rollbacks", "gate passed within the hour", "result"]];
  let pass = true;
  for (const { scenario, strategy: s } of scenarios) {
    const good: Scenario = { ...scenario, canary: scenario.stable, name: `good (${scenario.bad})` };
    let falseRollbacks = 0;
    let passed = 0;
    for (let seed = 1; seed <= GOOD_RUNS; seed++) {
      const o = await runBallast(good, s, 100_000 + seed);
      if (o.rolledBack) falseRollbacks++;
      if (o.gatesPassed === true) passed++;
    }
    // The bar: no false rollback in 1,000 at the configured confidence.
    const ok = falseRollbacks === 0;
    pass &&= ok;
    rows.push([
      scenario.bad === "errors" ? "error_rate" : "event_rate(click)",
      String(falseRollbacks),
      String(passed),
      passFail(ok),
    ]);
  }
  console.log(table(rows));
  return pass;
}

const a = await badCanaries();
const b = await goodCanaries();
const c = await measureRouting();
console.log(`\nbench:rollout ${a && b && c ? "PASS" : "FAIL"}`);
