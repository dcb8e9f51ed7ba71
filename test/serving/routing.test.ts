import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkRouting, route, split, unitHash, type WeightedVariant } from "../../src/serving/routing.js";

const variants = (canary: number): WeightedVariant[] => [
  { name: "stable", weight: 100 - canary, stable: true },
  { name: "canary", weight: canary, stable: false },
];

describe("routing", () => {
  test("a sticky key always gets the same variant", () => {
    const spec = { sticky: { header: "x-user" } };
    for (let u = 0; u < 200; u++) {
      const request = { headers: { "x-user": `user-${u}` } };
      const first = route(variants(30), spec, request, 0.01).variant;
      for (const draw of [0.2, 0.5, 0.99])
        assert.equal(route(variants(30), spec, request, draw).variant, first);
    }
  });

  test("sticky shares follow the weights (100,000 users, within 4 standard errors)", () => {
    const n = 100_000;
    let canary = 0;
    for (let u = 0; u < n; u++) if (split(variants(5), unitHash(`user-${u}`)) === "canary") canary++;
    const se = Math.sqrt(n * 0.05 * 0.95);
    assert.ok(Math.abs(canary - n * 0.05) < 4 * se, `canary got ${canary} of ${n}`);
  });

  test("hashes spread evenly over [0, 1): chi-square over 20 bins below the 0.999 critical value", () => {
    const bins = new Array<number>(20).fill(0);
    const n = 200_000;
    for (let u = 0; u < n; u++) bins[Math.floor(unitHash(`u${u}`) * 20)]!++;
    const expected = n / 20;
    const chi2 = bins.reduce((s, b) => s + (b - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 43.82, `chi-square ${chi2}`); // scipy.stats.chi2.ppf(0.999, 19) = 43.820
  });

  test("a growing canary keeps the users it had: nobody moves back to stable", () => {
    for (let u = 0; u < 20_000; u++) {
      const point = unitHash(`user-${u}`);
      if (split(variants(5), point) === "canary") assert.equal(split(variants(25), point), "canary");
      if (split(variants(25), point) === "canary") assert.equal(split(variants(50), point), "canary");
    }
  });

  test("without a sticky key the draw decides; weight 0 is never chosen by the split", () => {
    assert.equal(route(variants(10), undefined, { headers: {} }, 0.05).variant, "canary");
    assert.equal(route(variants(10), undefined, { headers: {} }, 0.5).variant, "stable");
    assert.equal(route(variants(0), undefined, { headers: {} }, 0).variant, "stable");
    assert.equal(route(variants(100), undefined, { headers: {} }, 0.9999).variant, "canary");
    const spec = { sticky: { header: "x-user" } };
    assert.equal(route(variants(10), spec, { headers: {} }, 0.05).reason, "weight");
  });

  test("header rules send a cohort before any split; a sticky body field works like a header", () => {
    const spec = checkRouting(
      { sticky: { field: "user_id" }, rules: [{ header: "X-Cohort", value: "beta", variant: "canary" }] },
      ["stable", "canary"],
    );
    assert.deepEqual(route(variants(0), spec, { headers: { "x-cohort": "beta" } }, 0.9), {
      variant: "canary",
      reason: "rule",
    });
    assert.equal(route(variants(0), spec, { headers: { "x-cohort": "alpha" } }, 0.9).variant, "stable");
    const a = route(variants(50), spec, { headers: {}, stickyField: "42" }, 0.1);
    assert.equal(a.reason, "sticky");
    assert.equal(route(variants(50), spec, { headers: {}, stickyField: "42" }, 0.9).variant, a.variant);
  });

  test("bad routing is refused naming the field", () => {
    const cases: Array<[unknown, RegExp]> = [
      [
        { sticky: { header: "x", field: "y" } },
        /routing\.sticky: expected \{header: name\} or \{field: name\}/,
      ],
      [{ sticky: { header: "bad header" } }, /routing\.sticky\.header: expected a header name/],
      [
        { rules: [{ header: "x-c", variant: "ghost" }] },
        /routing\.rules\[0\]\.variant: expected one of the variants \(stable, canary\)/,
      ],
      [
        { rules: [{ header: "x-c", variant: "canary", weight: 3 }] },
        /routing\.rules\[0\]\.weight: unknown field/,
      ],
      [{ stick: {} }, /routing\.stick: unknown field/],
    ];
    for (const [raw, message] of cases) assert.throws(() => checkRouting(raw, ["stable", "canary"]), message);
  });
});
