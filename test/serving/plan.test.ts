import { test } from "node:test";
import assert from "node:assert/strict";
import { plan } from "../../src/serving/plan.js";
import { seeded, served, servedVariant } from "./plan-fixtures.js";

const stable = servedVariant({ name: "stable", model: "m", version: 1, weight: 90 });
const canary = servedVariant({ name: "canary", model: "m", version: 2, weight: 10 });
const shadow = servedVariant({ name: "shadow", model: "m", version: 3, weight: 25, shadow: true });

test("the split follows the injected random source: the same seed gives the same primaries", () => {
  const d = served([stable, canary]);
  const run = (seed: number) => {
    const random = seeded(seed);
    return Array.from({ length: 1000 }, () => plan(d, { headers: {} }, random).primary.variant.name);
  };
  const first = run(7);
  assert.deepEqual(run(7), first);
  const canaries = first.filter((n) => n === "canary").length;
  assert.ok(canaries > 60 && canaries < 140, `about 10% canary, got ${canaries}/1000`);
});

test("a draw below the canary's share picks it; a shadow is never the primary", () => {
  const d = served([stable, canary, shadow]);
  assert.equal(plan(d, { headers: {} }, () => 0.05).primary.variant.name, "stable");
  assert.equal(plan(d, { headers: {} }, () => 0.95).primary.variant.name, "canary");
  const random = seeded(3);
  for (let i = 0; i < 200; i++) assert.notEqual(plan(d, { headers: {} }, random).primary, shadow);
});

test("a shadow gets its weight's share of copies, drawn with the plan", () => {
  const d = served([stable, shadow]);
  const random = seeded(11);
  let mirrored = 0;
  for (let i = 0; i < 2000; i++) mirrored += plan(d, { headers: {} }, random).shadows.length;
  assert.ok(mirrored > 400 && mirrored < 600, `about 25% mirrored, got ${mirrored}/2000`);
  // With one live variant the pick draws nothing: the only draw is the shadow's.
  const draws = [0.1];
  assert.deepEqual(plan(d, { headers: {} }, () => draws.shift() ?? 0.99).shadows, [shadow]);
});

test("header rules and sticky keys route without a draw deciding", () => {
  const d = served([stable, canary], {
    routing: {
      sticky: { header: "x-user" },
      rules: [{ header: "x-cohort", value: "beta", variant: "canary" }],
    },
  });
  assert.equal(plan(d, { headers: { "x-cohort": "beta" } }, () => 0).primary, canary);
  const a = plan(d, { headers: { "x-user": "user-42" } }, seeded(1)).primary;
  for (let seed = 2; seed < 20; seed++)
    assert.equal(plan(d, { headers: { "x-user": "user-42" } }, seeded(seed)).primary, a, "sticky");
});

test("the fallback chain: the deployment's fallback, never the primary itself", () => {
  const d = served([stable, canary], {
    resilience: { fallback: { variant: "stable" } },
    fallback: { kind: "model", target: stable },
  });
  assert.deepEqual(plan(d, { headers: {} }, () => 0.95).fallbacks, [{ kind: "model", target: stable }]);
  assert.deepEqual(plan(d, { headers: {} }, () => 0.05).fallbacks, [], "stable cannot stand in for itself");
});

test("a version named in the path: only it answers, no fallback, no shadows, no draw", () => {
  const d = served([stable, canary, shadow], {
    resilience: { fallback: { variant: "stable" } },
    fallback: { kind: "model", target: stable },
  });
  const random = () => assert.fail("no draw for a pinned version");
  const p = plan(d, { headers: {}, version: "2" }, random);
  assert.equal(p.primary, canary);
  assert.deepEqual([p.fallbacks, p.shadows], [[], []]);
  assert.throws(() => plan(d, { headers: {}, version: "9" }, random), { code: "not_found" });
  assert.throws(() => plan(d, { headers: {}, version: "x" }, random), { code: "invalid_argument" });
});
