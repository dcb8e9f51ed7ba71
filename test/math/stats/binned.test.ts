// PSI, chi-square, Jensen–Shannon and Hellinger on the same scipy/numpy histogram fixtures.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chiSquareHomogeneity, chiSquareTest } from "../../../src/math/stats/chi-square.js";
import { upperRegularizedGamma, logGamma } from "../../../src/math/stats/gamma.js";
import { hellingerDistance, hellingerTest } from "../../../src/math/stats/hellinger.js";
import { jensenShannonDistance, jensenShannonTest } from "../../../src/math/stats/jensen-shannon.js";
import { populationStabilityIndex, psiTest } from "../../../src/math/stats/psi.js";
import { assertClose, reference } from "./reference.js";

describe("binned tests against the fixtures", () => {
  for (const c of reference.binned) {
    test(c.name, () => {
      assertClose(populationStabilityIndex(c.reference, c.current), c.psi, "psi");
      const chi = chiSquareHomogeneity(c.reference, c.current);
      assertClose(chi.statistic, c.chi2, "chi-square statistic");
      assert.equal(chi.degreesOfFreedom, c.chi2_dof);
      assertClose(chi.pValue, c.chi2_pvalue, "chi-square p-value");
      assertClose(jensenShannonDistance(c.reference, c.current), c.jensenshannon_base2, "jensen-shannon");
      assertClose(hellingerDistance(c.reference, c.current), c.hellinger, "hellinger", 1e-9, 1e-9);
    });
  }
});

describe("incomplete gamma against scipy.special.gammaincc", () => {
  test("Q(a, x) to 1e-12 relative", () => {
    for (const c of reference.gammaincc) {
      assertClose(upperRegularizedGamma(c.a, c.x), c.q, `gammaincc(${c.a}, ${c.x})`, 1e-12, 0);
    }
  });

  test("log Γ against CPython's math.lgamma", () => {
    assertClose(logGamma(1), 0, "lgamma(1)", 0, 1e-14);
    const known: [number, number][] = [
      [0.5, 0.5723649429247004],
      [3.7, 1.4280723266653883],
      [1e-5, 11.512919692895824],
      [171, 706.5730622457874],
    ];
    for (const [x, expected] of known) assertClose(logGamma(x), expected, `lgamma(${x})`, 1e-14);
  });
});

describe("binned test behaviour", () => {
  const base = [120, 340, 80, 60, 400];
  const moved = [400, 60, 80, 340, 120];
  const tests = [psiTest, chiSquareTest, jensenShannonTest, hellingerTest];

  for (const t of tests) {
    test(`${t.name}: the same distribution (scaled) does not drift; a reshuffled one does`, () => {
      const same = t.run({ reference: base, current: base.map((c) => c * 3) });
      assert.equal(same.drifted, false);
      assert.equal(same.score, t.kind === "p_value" ? 1 : 0);
      const drifted = t.run({ reference: base, current: moved });
      assert.equal(drifted.drifted, true, `${t.name} score ${drifted.score}`);
      assert.equal(drifted.test, t.name);
    });

    test(`${t.name}: bad histograms are refused`, () => {
      assert.throws(
        () => t.run({ reference: [1, 2], current: [1, 2, 3] }),
        /reference has 2 bins but the current has 3/,
      );
      assert.throws(() => t.run({ reference: [0, 0], current: [1, 2] }), /reference histogram is empty/);
      assert.throws(() => t.run({ reference: [1, 2], current: [1, -2] }), /current count in bin 1 is -2/);
      assert.throws(() => t.run({ reference: [1, NaN], current: [1, 2] }), /reference count in bin 1 is NaN/);
      assert.throws(() => t.run({ reference: [], current: [] }), /no bins/);
    });
  }

  test("psi: an empty bin is smoothed to 0.0001, not Infinity", () => {
    // By hand: r = (1, 0) -> (1, 0.0001); c = (0.5, 0.5).
    const expected = (0.5 - 1) * Math.log(0.5 / 1) + (0.5 - 0.0001) * Math.log(0.5 / 0.0001);
    assertClose(populationStabilityIndex([10, 0], [5, 5]), expected, "psi");
  });

  test("jensen-shannon says its log base; disjoint supports give exactly 1", () => {
    const r = jensenShannonTest.run({ reference: [1, 0], current: [0, 1] });
    assert.equal(r.detail?.logBase, 2);
    assert.equal(r.score, 1);
  });

  test("chi-square: a single non-empty bin gives p = 1 with 0 degrees of freedom", () => {
    assert.deepEqual(chiSquareHomogeneity([0, 5, 0], [0, 9, 0]), {
      statistic: 0,
      degreesOfFreedom: 0,
      pValue: 1,
    });
  });
});
