import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  addPairedOutcome,
  mcnemarTest,
  mergePairedOutcomes,
  NO_PAIRED_OUTCOMES,
  type PairedOutcomes,
} from "../../../src/math/experiments/mcnemar.js";
import {
  addObservation,
  EMPTY_MOMENTS,
  mergeMoments,
  momentsOf,
} from "../../../src/math/experiments/moments.js";
import { addLossPair, pairedTTest } from "../../../src/math/experiments/paired-t.js";
import { regularizedIncompleteBeta, studentTTwoSided } from "../../../src/math/experiments/student-t.js";
import { twoProportionTest } from "../../../src/math/experiments/two-proportion.js";
import { twoProportionZTest } from "../../../src/math/stats/z-test.js";
import { assertClose, reference, type McNemarCase } from "./reference.js";

function table(c: McNemarCase): PairedOutcomes {
  return {
    bothRight: c.both_right,
    championOnly: c.champion_only,
    challengerOnly: c.challenger_only,
    bothWrong: c.both_wrong,
  };
}

describe("McNemar against scipy (binomtest exact, chi2.sf with continuity correction)", () => {
  for (const c of reference.mcnemar) {
    test(`b=${c.champion_only} c=${c.challenger_only} → ${c.method}`, () => {
      const got = mcnemarTest(table(c));
      assert.equal(got.method, c.method, "the automatic switch sits at 25 discordant pairs");
      assertClose(got.statistic, c.statistic, "statistic", 1e-12);
      assertClose(got.pValue, c.p_value, "p-value");
    });
  }
  for (const c of reference.mcnemar_forced) {
    test(`forced ${c.method}: b=${c.champion_only} c=${c.challenger_only}`, () => {
      const got = mcnemarTest(table(c), { method: c.method });
      assertClose(got.pValue, c.p_value, "p-value");
    });
  }

  test("names the better model and the accuracy difference over all paired requests", () => {
    const got = mcnemarTest({ bothRight: 80, championOnly: 4, challengerOnly: 14, bothWrong: 2 });
    assert.equal(got.better, "challenger");
    assertClose(got.accuracyDifference, 0.1, "accuracy difference", 1e-15);
    assert.ok(got.pValue < 0.05);
    assert.equal(mcnemarTest({ ...NO_PAIRED_OUTCOMES, championOnly: 3, challengerOnly: 3 }).better, "tie");
  });

  test("counting outcomes one by one equals merging shard tables", () => {
    const outcomes: [boolean, boolean][] = [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
      [false, true],
      [false, true],
    ];
    const whole = outcomes.reduce((t, [a, b]) => addPairedOutcome(t, a, b), NO_PAIRED_OUTCOMES);
    const left = outcomes.slice(0, 2).reduce((t, [a, b]) => addPairedOutcome(t, a, b), NO_PAIRED_OUTCOMES);
    const right = outcomes.slice(2).reduce((t, [a, b]) => addPairedOutcome(t, a, b), NO_PAIRED_OUTCOMES);
    assert.deepEqual(mergePairedOutcomes(left, right), whole);
    assert.deepEqual(whole, { bothRight: 1, championOnly: 1, challengerOnly: 3, bothWrong: 1 });
  });

  test("rejects negative or fractional counts", () => {
    assert.throws(() => mcnemarTest({ ...NO_PAIRED_OUTCOMES, championOnly: -1 }), /championOnly/);
    assert.throws(() => mcnemarTest({ ...NO_PAIRED_OUTCOMES, bothWrong: 1.5 }), /bothWrong/);
  });
});

describe("paired t-test against scipy.stats.ttest_rel", () => {
  for (const c of reference.paired_t) {
    test(c.name, () => {
      let differences = EMPTY_MOMENTS;
      c.champion.forEach(
        (loss, i) => (differences = addLossPair(differences, loss, c.challenger[i] as number)),
      );
      const got = pairedTTest(differences);
      assertClose(got.statistic, c.statistic, "t");
      assertClose(got.pValue, c.p_value, "p-value");
      assert.equal(got.degreesOfFreedom, c.champion.length - 1);
    });
  }

  test("shards merged give the same test as one pass", () => {
    const c = reference.paired_t.find((x) => x.name === "n 200 no difference");
    assert.ok(c !== undefined);
    const diffs = c.champion.map((loss, i) => (c.challenger[i] as number) - loss);
    const merged = [0, 37, 120, 200]
      .slice(1)
      .map((end, k, ends) => momentsOf(diffs.slice(k === 0 ? 0 : (ends[k - 1] as number), end)))
      .reduce(mergeMoments, EMPTY_MOMENTS);
    const got = pairedTTest(merged);
    assertClose(got.statistic, c.statistic, "t");
    assertClose(got.pValue, c.p_value, "p-value");
  });

  test("degenerate differences behave as scipy's: constant non-zero → |t| = ∞, p = 0; all zero → NaN", () => {
    const constant = pairedTTest(momentsOf([0.5, 0.5, 0.5]));
    assert.equal(constant.statistic, Infinity);
    assert.equal(constant.pValue, 0);
    assert.equal(constant.better, "champion");
    const same = pairedTTest(momentsOf([0, 0, 0]));
    assert.ok(Number.isNaN(same.statistic) && Number.isNaN(same.pValue));
    assert.equal(same.better, "tie");
    assert.ok(Number.isNaN(pairedTTest(addObservation(EMPTY_MOMENTS, 1)).pValue));
  });
});

describe("Student t tail and incomplete beta against scipy", () => {
  test("2·t.sf(t, df) to 1e-9 relative over df 1..1e5 and t up to 100", () => {
    for (const c of reference.t_tail) {
      assertClose(studentTTwoSided(c.t, c.df), c.p_two_sided, `t=${c.t} df=${c.df}`);
      assertClose(studentTTwoSided(-c.t, c.df), c.p_two_sided, `t=${-c.t} df=${c.df}`);
    }
  });
  test("betainc(a, b, x) to 1e-9 relative", () => {
    for (const c of reference.betainc) {
      assertClose(
        regularizedIncompleteBeta(c.x, c.a, c.b),
        c.value,
        `I_${c.x}(${c.a}, ${c.b})`,
        1e-9,
        1e-300,
      );
    }
  });
});

describe("running moments", () => {
  test("merging any split equals one pass (to rounding)", () => {
    const values = [3.2, -1, 7.75, 0, 0, 12.5, 4.4, -8, 2.25, 1e-3];
    const whole = momentsOf(values);
    for (let cut = 0; cut <= values.length; cut++) {
      const merged = mergeMoments(momentsOf(values.slice(0, cut)), momentsOf(values.slice(cut)));
      assert.equal(merged.count, whole.count);
      assertClose(merged.mean, whole.mean, `mean, cut ${cut}`, 1e-14, 1e-15);
      assertClose(merged.m2, whole.m2, `m2, cut ${cut}`, 1e-14);
    }
  });
  test("rejects non-finite observations", () => {
    assert.throws(() => addObservation(EMPTY_MOMENTS, Number.NaN), /finite/);
  });
});

describe("two-proportion test for arms", () => {
  test("is the drift monitor's pooled z-test with B as the current side", () => {
    const a = { trials: 1000, successes: 100 };
    const b = { trials: 1000, successes: 150 };
    assert.deepEqual(twoProportionTest(a, b), twoProportionZTest([900, 100], [850, 150]));
    assert.ok(twoProportionTest(a, b).z > 0);
    assert.throws(() => twoProportionTest({ trials: 5, successes: 6 }, b), /exceed/);
  });
});
