import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { benjaminiHochberg, bonferroni, datasetDrift } from "../../../src/math/stats/dataset-drift.js";
import type { StatResult } from "../../../src/math/stats/test.js";
import { assertClose, reference } from "./reference.js";

const pResult = (score: number, threshold = 0.05): StatResult => ({
  test: "ks",
  score,
  threshold,
  kind: "p_value",
  drifted: score < threshold,
});
const distance = (score: number): StatResult => ({
  test: "psi",
  score,
  threshold: 0.1,
  kind: "distance",
  drifted: score >= 0.1,
});

describe("multiple-testing corrections against numpy by hand", () => {
  for (const c of reference.corrections) {
    test(`${c.pvalues.length} p-values`, () => {
      const bon = bonferroni(c.pvalues);
      const bh = benjaminiHochberg(c.pvalues);
      c.bonferroni.forEach((p, i) => assertClose(bon[i] as number, p, `bonferroni[${i}]`, 1e-15));
      c.benjamini_hochberg.forEach((p, i) => assertClose(bh[i] as number, p, `bh[${i}]`, 1e-15));
    });
  }
});

describe("dataset drift", () => {
  const results = [
    { feature: "amount", result: pResult(0.01) },
    { feature: "hour", result: pResult(0.04) },
    { feature: "country", result: pResult(0.03) },
    { feature: "device", result: pResult(0.2) },
    { feature: "merchant", result: distance(0.15) },
  ];

  test("no correction: the share of drifted features against the share threshold", () => {
    const d = datasetDrift(results);
    assert.deepEqual(
      d.features.map((f) => f.drifted),
      [true, true, true, false, true],
    );
    assert.equal(d.driftedCount, 4);
    assert.equal(d.share, 0.8);
    assert.equal(d.drifted, true);
    assert.equal(datasetDrift(results, { share: 0.9 }).drifted, false);
  });

  test("bonferroni multiplies by the number of p-value tests only (4, not 5)", () => {
    const d = datasetDrift(results, { correction: "bonferroni" });
    assert.deepEqual(
      d.features.map((f) => f.adjustedScore),
      [0.04, 0.16, 0.12, 0.8, 0.15],
    );
    assert.deepEqual(
      d.features.map((f) => f.drifted),
      [true, false, false, false, true],
    );
    assert.equal(d.share, 0.4);
    assert.equal(d.drifted, false);
  });

  test("benjamini-hochberg: step-up adjusted p-values", () => {
    const d = datasetDrift(results, { correction: "benjamini-hochberg", share: 0.4 });
    // sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.06, 0.0533.., 0.2 -> running minimum from the top
    const adjusted = d.features.map((f) => f.adjustedScore);
    assertClose(adjusted[0] as number, 0.04, "amount");
    assertClose(adjusted[1] as number, 0.16 / 3, "hour");
    assertClose(adjusted[2] as number, 0.16 / 3, "country");
    assertClose(adjusted[3] as number, 0.2, "device");
    assert.deepEqual(
      d.features.map((f) => f.drifted),
      [true, false, false, false, true],
    );
    assert.equal(d.drifted, true);
    assert.equal(d.features[0]?.score, 0.01);
  });

  test("bad input", () => {
    assert.throws(() => datasetDrift([]), /at least one feature/);
    assert.throws(() => datasetDrift(results, { share: 1.5 }), /share must be in \[0, 1\]/);
    // @ts-expect-error an unknown correction from untyped input (YAML, JSON)
    assert.throws(() => datasetDrift(results, { correction: "holm" }), /unknown correction "holm"/);
    assert.throws(
      () => datasetDrift([{ feature: "x", result: pResult(Number.NaN) }]),
      /feature "x" has score NaN/,
    );
  });
});
