import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ksOutcome, ksPValue, ksStatisticFromCdfs, ksTest, ksTwoSample } from "../../../src/math/stats/ks.js";
import { kstwoSf } from "../../../src/math/stats/kolmogorov.js";
import { isBallastError } from "../../../src/domain/errors.js";
import { assertClose, reference } from "./reference.js";

describe("ks against scipy 1.10 ks_2samp(method='auto')", () => {
  test("fixtures were made with scipy 1.10", () => {
    assert.match(reference.provenance.scipy, /^1\.10\./);
  });

  for (const c of reference.ks_samples) {
    test(`samples: ${c.name}`, () => {
      const got = ksTwoSample(c.reference, c.current);
      assertClose(got.statistic, c.statistic, "statistic");
      assertClose(got.pValue, c.pvalue, "p-value");
      assert.equal(
        got.method,
        Math.max(c.reference.length, c.current.length) <= 10000 ? "exact" : "asymptotic",
      );
    });
  }

  test("the p-value from D alone, large samples (asymptotic, incl. n_eff > 10^6)", () => {
    for (const c of reference.ks_large) {
      assertClose(ksPValue(c.statistic, c.n1, c.n2), c.pvalue, `n1=${c.n1} n2=${c.n2} D=${c.statistic}`);
    }
  });

  test("the p-value from D alone, 120 random exact-branch size pairs", () => {
    for (const c of reference.ks_exact_grid) {
      const got = ksOutcome(c.statistic, c.n1, c.n2);
      assertClose(got.pValue, c.pvalue, `n1=${c.n1} n2=${c.n2} D=${c.statistic}`);
      assertClose(got.statistic, c.statistic, "rounded D");
    }
  });

  test("kstwo.sf over all of Simard–L'Ecuyer's branches", () => {
    for (const c of reference.kstwo_sf) assertClose(kstwoSf(c.n, c.x), c.sf, `kstwo.sf(${c.x}, ${c.n})`);
  });
});

describe("ks behaviour", () => {
  test("order of the input does not matter", () => {
    const a = [3, 1, 2, 5, 4];
    const b = [2.5, 0.5, 9, 7];
    assert.deepEqual(ksTwoSample(a, b), ksTwoSample([...a].sort(), [...b].reverse()));
  });

  test("identical samples: D = 0, p = 1, no drift; a shifted sample drifts", () => {
    const base = Array.from(
      { length: 500 },
      (_, i) => Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453),
    );
    const same = ksTest.run({ reference: base, current: [...base].reverse() });
    assert.equal(same.score, 1);
    assert.equal(same.drifted, false);
    assert.equal(same.detail?.statistic, 0);
    const shifted = ksTest.run({ reference: base, current: base.map((x) => x + 0.3) });
    assert.ok(shifted.score < 1e-10, `p=${shifted.score}`);
    assert.equal(shifted.drifted, true);
    assert.equal(shifted.kind, "p_value");
    assert.equal(shifted.threshold, 0.05);
  });

  test("ksStatisticFromCdfs with exact ECDFs equals the exact statistic", () => {
    const c = reference.ks_samples.find((s) => s.name === "poisson ties 200 vs 150");
    assert.ok(c);
    const ecdf = (xs: number[]) => (x: number) => xs.filter((v) => v <= x).length / xs.length;
    const points = [...c.reference, ...c.current];
    assertClose(ksStatisticFromCdfs(points, ecdf(c.reference), ecdf(c.current)), c.statistic, "D from CDFs");
  });

  test("bad input is refused with a clear error, never NaN", () => {
    const cases: [string, () => unknown, RegExp][] = [
      ["empty reference", () => ksTwoSample([], [1]), /reference sample is empty/],
      ["empty current", () => ksTwoSample([1], []), /current sample is empty/],
      ["NaN", () => ksTwoSample([1, NaN], [1]), /non-finite value \(NaN\) at index 1/],
      ["Infinity", () => ksTwoSample([1], [Infinity]), /non-finite/],
      ["D out of range", () => ksPValue(1.5, 3, 4), /statistic must be in \[0, 1\]/],
      ["size zero", () => ksPValue(0.5, 0, 4), /n1 must be a positive integer/],
      [
        "no points",
        () =>
          ksStatisticFromCdfs(
            [],
            () => 0,
            () => 0,
          ),
        /no evaluation points/,
      ],
      ["threshold", () => ksTest.run({ reference: [1], current: [2] }, 2), /threshold 2 is out of range/],
    ];
    for (const [what, run, message] of cases) {
      assert.throws(
        run,
        (e: unknown) => isBallastError(e) && e.code === "invalid_argument" && message.test(e.message),
        what,
      );
    }
  });

  test("single values: one against one", () => {
    assert.deepEqual(ksTwoSample([1], [1]), { statistic: 0, pValue: 1, method: "exact" });
    assert.deepEqual(ksTwoSample([1], [2]), { statistic: 1, pValue: 1, method: "exact" });
  });
});
