import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { STAT_TESTS, statTest } from "../../../src/math/stats/index.js";
import { chooseStatTest, DEFAULT_RULE_TEXT, describeRule } from "../../../src/math/stats/default-rule.js";
import { isBallastError } from "../../../src/domain/errors.js";

describe("the table of drift tests", () => {
  test("every test is registered under its own name with its kind and default threshold", () => {
    const expected: Record<string, [string, number, string]> = {
      psi: ["distance", 0.1, "binned"],
      ks: ["p_value", 0.05, "samples"],
      "chi-square": ["p_value", 0.05, "binned"],
      "jensen-shannon": ["distance", 0.1, "binned"],
      wasserstein: ["distance", 0.1, "samples"],
      hellinger: ["distance", 0.1, "binned"],
      "z-test": ["p_value", 0.05, "binned"],
    };
    assert.deepEqual(Object.keys(STAT_TESTS).sort(), Object.keys(expected).sort());
    for (const [name, [kind, threshold, input]] of Object.entries(expected)) {
      const t = statTest(name);
      assert.equal(t.name, name);
      assert.deepEqual([t.kind, t.defaultThreshold, t.input], [kind, threshold, input]);
    }
  });

  test("an unknown name lists the known ones", () => {
    assert.throws(
      () => statTest("kolmogorov"),
      (e: unknown) =>
        isBallastError(e) &&
        e.code === "invalid_argument" &&
        /known tests: psi, ks, chi-square/.test(e.message),
    );
    assert.throws(() => statTest("toString"), /unknown drift test/);
  });

  test("a caller's threshold is used and checked", () => {
    const ks = statTest("ks");
    assert.equal(ks.input, "samples");
    if (ks.input !== "samples") return;
    const r = ks.run({ reference: [1, 2, 3, 4], current: [5, 6, 7, 8] }, 0.01);
    assert.equal(r.threshold, 0.01);
    assert.ok(Math.abs(r.score - 2 / 70) < 1e-15, `p=${r.score}`); // all 4 below all 4: 2/C(8,4)
    assert.equal(r.drifted, false);
    assert.equal(ks.run({ reference: [1, 2, 3, 4], current: [5, 6, 7, 8] }).drifted, true);
    assert.throws(() => ks.run({ reference: [1], current: [2] }, -0.1), /out of range/);
    const psi = statTest("psi");
    if (psi.input !== "binned") return;
    assert.throws(() => psi.run({ reference: [1], current: [2] }, Number.NaN), /out of range/);
    assert.equal(psi.run({ reference: [1, 1], current: [1, 1] }, 0).drifted, true); // distance >= threshold
  });
});

describe("the default rule", () => {
  test("picks by feature kind and reference size, switching above 1000", () => {
    const cases: [Parameters<typeof chooseStatTest>[0], string][] = [
      [{ kind: "numerical", referenceSize: 1 }, "ks"],
      [{ kind: "numerical", referenceSize: 1000 }, "ks"],
      [{ kind: "numerical", referenceSize: 1001 }, "wasserstein"],
      [{ kind: "binary", referenceSize: 1000 }, "z-test"],
      [{ kind: "binary", referenceSize: 1001 }, "jensen-shannon"],
      [{ kind: "categorical", referenceSize: 0 }, "chi-square"],
      [{ kind: "categorical", referenceSize: 5_000_000 }, "jensen-shannon"],
    ];
    for (const [feature, name] of cases) {
      assert.equal(chooseStatTest(feature), name, JSON.stringify(feature));
      assert.ok(statTest(name).appliesTo.includes(feature.kind), `${name} applies to ${feature.kind}`);
    }
  });

  test("is readable as text and refuses nonsense sizes", () => {
    assert.equal(
      DEFAULT_RULE_TEXT,
      "numerical with reference size <= 1000: ks; numerical: wasserstein; binary with reference size <= 1000: z-test; " +
        "categorical with reference size <= 1000: chi-square; categorical or binary: jensen-shannon",
    );
    assert.equal(
      describeRule([{ kinds: ["numerical"], maxReferenceSize: Infinity, test: "psi" }]),
      "numerical: psi",
    );
    assert.throws(() => chooseStatTest({ kind: "numerical", referenceSize: -1 }), /non-negative integer/);
    assert.throws(
      () => chooseStatTest({ kind: "binary", referenceSize: 5 }, []),
      /no drift test rule covers a binary/,
    );
  });
});
