// Losses and the Diebold–Mariano test (HLN correction) against R's forecast::dm.test
// (test/fixtures/markets/dm-test.json, made by scripts/fixtures/make_dm_reference.R).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  dieboldMariano,
  intervalCoverage,
  lossSeries,
  qlike,
  qlikeLog,
  squaredError,
  absoluteError,
  type DmAlternative,
} from "../../src/markets/evaluation.js";
import { fixture } from "./data.js";

interface DmFixture {
  source: string;
  series: Record<string, number[]>;
  cases: Array<{
    name: string;
    e1: string;
    e2: string;
    alternative: DmAlternative;
    h: number;
    power: number;
    statistic: number;
    p_value: number;
  }>;
}

describe("Diebold–Mariano as forecast::dm.test", () => {
  const ref = fixture<DmFixture>("dm-test.json");
  for (const c of ref.cases) {
    test(`${c.name}: DM ${c.statistic.toPrecision(6)}, p ${c.p_value.toPrecision(6)}`, () => {
      const e1 = ref.series[c.e1] as number[];
      const e2 = ref.series[c.e2] as number[];
      const got = dieboldMariano(e1, e2, { alternative: c.alternative, h: c.h, power: c.power });
      assert.ok(
        Math.abs(got.statistic - c.statistic) < 1e-8,
        `statistic ${got.statistic} vs R ${c.statistic}`,
      );
      assert.ok(Math.abs(got.pValue - c.p_value) < 1e-8, `p-value ${got.pValue} vs R ${c.p_value}`);
      assert.equal(got.degreesOfFreedom, e1.length - 1);
    });
  }

  test("losses given directly are the differential R forms from power 1 on non-negative losses", () => {
    const c = ref.cases.find((x) => x.e1 === "dem_garch_qlike" && x.h === 1);
    assert.ok(c !== undefined);
    const got = dieboldMariano(ref.series[c.e1] as number[], ref.series[c.e2] as number[], { losses: true });
    assert.ok(Math.abs(got.statistic - c.statistic) < 1e-8);
    assert.ok(Math.abs(got.pValue - c.p_value) < 1e-8);
  });

  test("bad input is refused by name", () => {
    assert.throws(() => dieboldMariano([1, 2], [1]), /2 and 1 values/);
    assert.throws(
      () => dieboldMariano([1, 2, 3], [1, 2, 4], { h: 3 }),
      /h must be an integer from 1 to n − 1 = 2/,
    );
    assert.throws(() => dieboldMariano([1, 2, 3], [0, 1, 2], { power: 1 }), /differ by a constant/);
    assert.throws(
      () => dieboldMariano([1, 2, 3], [3, 2, 1], { alternative: "bigger" as DmAlternative }),
      /alternative must be one of/,
    );
  });
});

describe("losses", () => {
  test("QLIKE is Patton's normalised form, zero at a perfect forecast; qlikeLog differs by a forecast-free term", () => {
    assert.equal(qlike(2, 2), 0);
    assert.ok(Math.abs(qlike(1, 2) - (0.5 - Math.log(0.5) - 1)) < 1e-15);
    // Same differential between two forecasts of the same realisation.
    const d1 = qlike(1.3, 0.8) - qlike(1.3, 2.1);
    const d2 = qlikeLog(1.3, 0.8) - qlikeLog(1.3, 2.1);
    assert.ok(Math.abs(d1 - d2) < 1e-14);
    assert.equal(qlikeLog(0, Math.E), 1);
  });

  test("MSE, MAE, coverage; a non-finite loss names its period", () => {
    assert.deepEqual(Array.from(lossSeries([1, 2], [3, 1], squaredError)), [4, 1]);
    assert.deepEqual(Array.from(lossSeries([1, 2], [3, 1], absoluteError)), [2, 1]);
    assert.throws(() => lossSeries([0, 1], [1, 1], qlike), /loss at period 1 is Infinity/);
    assert.deepEqual(intervalCoverage([1, 5, 3, 2], [0, 0, 3, 3], [2, 4, 4, 4]), {
      covered: 2,
      n: 4,
      coverage: 0.5,
    });
  });
});
