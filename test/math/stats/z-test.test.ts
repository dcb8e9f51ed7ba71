import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { normalSf } from "../../../src/math/stats/normal.js";
import { twoProportionZTest, zTest } from "../../../src/math/stats/z-test.js";
import { assertClose, reference } from "./reference.js";

describe("normal tail against scipy.stats.norm.sf", () => {
  test("to 1e-12 relative for |z| up to 30", () => {
    for (const c of reference.norm_sf) assertClose(normalSf(c.z), c.sf, `norm.sf(${c.z})`, 1e-12, 0);
  });
});

describe("two-proportion z-test", () => {
  for (const c of reference.z_test) {
    test(`${JSON.stringify(c.reference)} vs ${JSON.stringify(c.current)}`, () => {
      const got = twoProportionZTest(c.reference, c.current);
      assertClose(got.z, c.z, "z");
      assertClose(got.pValue, c.pvalue, "p-value");
    });
  }

  test("same rate does not drift; a doubled rate does", () => {
    assert.equal(zTest.run({ reference: [900, 100], current: [450, 50] }).drifted, false);
    assert.equal(zTest.run({ reference: [900, 100], current: [800, 200] }).drifted, true);
  });

  test("all one value on both sides: p = 1, not NaN", () => {
    assert.deepEqual(twoProportionZTest([10, 0], [4, 0]), { z: 0, pValue: 1 });
  });

  test("needs exactly two bins", () => {
    assert.throws(() => zTest.run({ reference: [1, 2, 3], current: [1, 2, 3] }), /exactly two bins/);
    assert.throws(() => zTest.run({ reference: [0, 0], current: [1, 2] }), /reference histogram is empty/);
  });
});
