/**
 * Simulated canary traffic on an injected clock, one second at a time: requests split by the
 * canary's current weight, each failing or clicking with its variant's probability. The same
 * seeded traffic is judged by Ballast's rollout controller and by a fixed-interval threshold
 * policy configured like Flagger's (check every 60 s, roll back after 5 failed checks).
 */
import { createRandom, type Random } from "../../src/sim/random.js";
import type { VariantMeasurement } from "../../src/rollout/analysis.js";
import { RolloutController, type RolloutRecords, CANARY, STABLE } from "../../src/rollout/controller.js";
import type { RolloutState } from "../../src/rollout/rollout-state.js";
import type { StoredRollout } from "../../src/rollout/rollout-store.js";
import type { CanaryStrategy } from "../../src/rollout/strategy.js";

export interface Scenario {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly stable: { readonly errorRate: number; readonly clickRate: number };
  readonly canary: { readonly errorRate: number; readonly clickRate: number };
  /** Which outcome counts as a bad response served: an error, or a click lost against stable. */
  readonly bad: "errors" | "lostClicks";
  readonly horizonSeconds: number;
}

export interface Outcome {
  readonly rolledBack: boolean;
  readonly promoted: boolean;
  /** Requests the canary served before it was rolled back (or by the horizon). */
  readonly canaryRequests: number;
  readonly badResponses: number;
  readonly seconds: number;
  /** Ballast only: every gate had passed (the canary shown no worse) by the end. */
  readonly gatesPassed?: boolean;
}

/** Binomial draw: exact for small n, Poisson or normal approximations beyond (simulation only). */
export function binomial(rng: Random, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (n < 64) {
    let k = 0;
    for (let i = 0; i < n; i++) k += rng.bernoulli(p);
    return k;
  }
  const mean = n * p;
  if (mean < 20) return Math.min(n, rng.poisson(mean));
  if (n * (1 - p) < 20) return n - Math.min(n, rng.poisson(n * (1 - p)));
  return Math.max(0, Math.min(n, Math.round(rng.normal(mean, Math.sqrt(mean * (1 - p))))));
}

interface Tally {
  requests: number;
  errors: number;
  clicks: number;
}

const empty = (): Tally => ({ requests: 0, errors: 0, clicks: 0 });

function measurement(t: Tally): VariantMeasurement {
  return {
    requests: t.requests,
    errors: t.errors,
    latencyMs: { p50: 5, p99: 20 },
    exposures: t.requests,
    events: { click: t.clicks },
    driftShare: {},
  };
}

/** One second of traffic at `weight` percent on the canary. */
function second(
  rng: Random,
  s: Scenario,
  weight: number,
  stable: Tally,
  canary: Tally,
): { canaryRequests: number; bad: number } {
  const canaryN = binomial(rng, s.requestsPerSecond, weight / 100);
  const stableN = s.requestsPerSecond - canaryN;
  const serve = (t: Tally, n: number, rates: Scenario["stable"]) => {
    t.requests += n;
    const errors = binomial(rng, n, rates.errorRate);
    t.errors += errors;
    t.clicks += binomial(rng, n - errors, rates.clickRate);
    return errors;
  };
  serve(stable, stableN, s.stable);
  const errors = serve(canary, canaryN, s.canary);
  const bad = s.bad === "errors" ? errors : canaryN * Math.max(0, s.stable.clickRate - s.canary.clickRate);
  return { canaryRequests: canaryN, bad };
}

class MemoryRecords implements RolloutRecords {
  readonly all = new Map<string, StoredRollout>();
  async save(state: RolloutState, strategy: CanaryStrategy): Promise<void> {
    this.all.set(state.id, { state, strategy });
  }
  async active(): Promise<StoredRollout[]> {
    return [...this.all.values()].filter((r) => r.state.phase !== "Succeeded" && r.state.phase !== "Aborted");
  }
  async history(deployment: string): Promise<StoredRollout[]> {
    return [...this.all.values()].filter((r) => r.state.deployment === deployment).reverse();
  }
}

/** Ballast's controller on the simulated traffic, ticking every simulated second. */
export async function runBallast(s: Scenario, strategy: CanaryStrategy, seed: number): Promise<Outcome> {
  const rng = createRandom(seed);
  const clock = {
    t: 0,
    now(): number {
      return this.t;
    },
  };
  const tallies = { [STABLE]: empty(), [CANARY]: empty() } as Record<string, Tally>;
  let weight = 0;
  let ended: "rolledBack" | "promoted" | null = null;
  const controller = new RolloutController(
    new MemoryRecords(),
    {
      split: async (_d, _s, _c, w) => void (weight = w),
      promote: async () => void (ended = "promoted"),
      rollback: async () => {
        weight = 0;
        ended = "rolledBack";
      },
    },
    { measure: async (_d, variant) => measurement(tallies[variant] ?? empty()) },
    {
      record: async (e) => ({
        ...e,
        id: "",
        at: clock.t,
        type: e.type ?? "Normal",
        details: e.details ?? {},
      }),
    },
    clock,
  );
  await controller.start("sim", { model: "m", version: 1 }, { model: "m", version: 2 }, strategy);
  let canaryRequests = 0;
  let bad = 0;
  for (let t = 1; t <= s.horizonSeconds && ended === null; t++) {
    const served = second(rng, s, weight, tallies[STABLE] as Tally, tallies[CANARY] as Tally);
    canaryRequests += served.canaryRequests;
    bad += served.bad;
    clock.t = t * 1000;
    await controller.tick();
  }
  const final = await controller.status("sim");
  return {
    rolledBack: ended === "rolledBack",
    promoted: ended === "promoted",
    canaryRequests,
    badResponses: bad,
    seconds: clock.t / 1000,
    gatesPassed: final?.state.gates.every((g) => g.decision === "pass") ?? false,
  };
}

/**
 * Flagger's analysis: every `intervalSeconds` the canary's metric over the last interval is
 * checked against a threshold; `threshold` failed checks roll it back.
 */
export function runThresholdPolicy(
  s: Scenario,
  seed: number,
  policy: { intervalSeconds: number; threshold: number; maxErrorRate: number; minClickRate: number },
  weight: number,
): Outcome {
  const rng = createRandom(seed);
  const stable = empty();
  const canary = empty();
  let window = empty();
  let failed = 0;
  let canaryRequests = 0;
  let bad = 0;
  for (let t = 1; t <= s.horizonSeconds; t++) {
    const before = { ...canary };
    const served = second(rng, s, weight, stable, canary);
    canaryRequests += served.canaryRequests;
    bad += served.bad;
    window = {
      requests: window.requests + canary.requests - before.requests,
      errors: window.errors + canary.errors - before.errors,
      clicks: window.clicks + canary.clicks - before.clicks,
    };
    if (t % policy.intervalSeconds === 0) {
      const errorRate = window.requests === 0 ? 0 : window.errors / window.requests;
      const clickRate = window.requests === 0 ? 1 : window.clicks / window.requests;
      if (errorRate > policy.maxErrorRate || clickRate < policy.minClickRate) failed++;
      window = empty();
      if (failed >= policy.threshold)
        return { rolledBack: true, promoted: false, canaryRequests, badResponses: bad, seconds: t };
    }
  }
  return { rolledBack: false, promoted: false, canaryRequests, badResponses: bad, seconds: s.horizonSeconds };
}
