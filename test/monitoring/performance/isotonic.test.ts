import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  calibrate,
  fitIsotonicCalibration,
  parseIsotonicCalibration,
} from "../../../src/monitoring/performance/isotonic.js";
import { close, reference } from "./reference.js";

describe("isotonic calibration against sklearn.isotonic.IsotonicRegression", () => {
  for (const c of reference.isotonic) {
    test(`case ${c.name}`, () => {
      const cal = fitIsotonicCalibration(c.scores, c.labels);
      assert.equal(cal.x.length, c.knotsX.length, "knot count");
      cal.x.forEach((x, i) => close(x, c.knotsX[i] ?? null, 0, `knot x[${i}]`));
      cal.y.forEach((y, i) => close(y, c.knotsY[i] ?? null, 1e-9, `knot y[${i}]`));
      c.probes.forEach((p, i) => close(calibrate(cal, p), c.calibrated[i] ?? null, 1e-9, `calibrate(${p})`));
      // Stored and read back, it is the same function.
      const back = parseIsotonicCalibration(JSON.parse(JSON.stringify(cal)));
      c.probes.forEach((p) => assert.equal(calibrate(back, p), calibrate(cal, p)));
    });
  }

  test("bad references and stored calibrators are rejected clearly", () => {
    assert.throws(() => fitIsotonicCalibration([], []), /empty reference/);
    assert.throws(() => fitIsotonicCalibration([0.1, 0.2], [1]), /2 scores and 1 labels/);
    assert.throws(() => fitIsotonicCalibration([Number.NaN], [1]), /got NaN/);
    assert.throws(() => fitIsotonicCalibration([0.5], [3 as 1]), /label must be 0 or 1; got 3/);
    assert.throws(() => parseIsotonicCalibration({ kind: "bins" }), /kind must be "isotonic"/);
    assert.throws(
      () => parseIsotonicCalibration({ kind: "isotonic", x: [0.5, 0.4], y: [0, 1], rows: 2 }),
      /strictly increasing/,
    );
    assert.throws(
      () => parseIsotonicCalibration({ kind: "isotonic", x: [0.4, 0.5], y: [1, 0], rows: 2 }),
      /non-decreasing/,
    );
    assert.throws(() => calibrate(fitIsotonicCalibration([0.5], [1]), 7), /got 7/);
  });
});
