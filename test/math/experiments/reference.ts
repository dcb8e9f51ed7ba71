// The numpy/scipy reference values (test/fixtures/rollout-stats/README.md says where they come from).
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

export type Better = "higher" | "lower";

interface Counts {
  trials: number[];
  successes: number[];
}

export interface AbLook {
  effect: number;
  variance: number;
  p_value: number;
  lower: number;
  upper: number;
  winner: "A" | "B" | null;
  decided_at_look: number | null;
}

export interface CanaryLook {
  harm: number;
  variance: number;
  p_value: number;
  harm_upper_bound: number;
  decision: "rollback" | "promote" | "continue";
  decided_at_look: number | null;
}

export interface McNemarCase {
  both_right: number;
  champion_only: number;
  challenger_only: number;
  both_wrong: number;
  method: "exact" | "chi-square";
  statistic: number;
  p_value: number;
}

interface Settings {
  name: string;
  tau2: number;
  alpha: number;
}

export interface RolloutReference {
  provenance: { scipy: string; numpy: string };
  ab_means: (Settings & {
    a: number[];
    b: number[];
    looks_a: number[];
    looks_b: number[];
    better: Better;
    looks: (AbLook | null)[];
  })[];
  ab_rates: (Settings & { a: Counts; b: Counts; better: Better; looks: (AbLook | null)[] })[];
  canary: (Settings & {
    stable: Counts;
    canary: Counts;
    margin: number;
    worse: Better;
    looks: (CanaryLook | null)[];
  })[];
  mcnemar: McNemarCase[];
  mcnemar_forced: McNemarCase[];
  paired_t: { name: string; champion: number[]; challenger: number[]; statistic: number; p_value: number }[];
  t_tail: { t: number; df: number; p_two_sided: number }[];
  betainc: { a: number; b: number; x: number; value: number }[];
}

export const reference: RolloutReference = JSON.parse(
  readFileSync(new URL("../../fixtures/rollout-stats/reference.json", import.meta.url), "utf8"),
) as RolloutReference;

/** |actual - expected| <= rtol·|expected| + atol. */
export function assertClose(actual: number, expected: number, what: string, rtol = 1e-9, atol = 0): void {
  const ok = actual === expected || Math.abs(actual - expected) <= rtol * Math.abs(expected) + atol;
  assert.ok(ok, `${what}: got ${actual}, reference says ${expected} (diff ${Math.abs(actual - expected)})`);
}
