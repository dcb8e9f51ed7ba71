import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BallastError } from "../../../src/domain/errors.js";
import { RegressionAccumulator } from "../../../src/monitoring/performance/regression.js";
import { createRandom } from "../../../src/sim/random.js";
import { close, reference } from "./reference.js";

function fill(predictions: readonly number[], actuals: readonly (number | null)[]): RegressionAccumulator {
  const acc = new RegressionAccumulator();
  predictions.forEach((p, i) => acc.add(p, actuals[i] ?? null));
  return acc;
}

describe("RegressionAccumulator against sklearn", () => {
  for (const c of reference.regression) {
    test(`case ${c.name}`, () => {
      const m = fill(c.predictions, c.actuals).metrics();
      assert.equal(m.count, c.count);
      assert.equal(m.labelled, c.labelled);
      close(m.coverage, c.labelled / c.count, 0, "coverage");
      close(m.mae, c.mae, 1e-9, `${c.name} mae`);
      close(m.rmse, c.rmse, 1e-9, `${c.name} rmse`);
      if (c.mae === null) assert.match(m.reasons.mae ?? "", /no labelled rows/);
    });
  }
});

describe("merging and late labels", () => {
  test("random splits merged in any grouping equal one accumulator", () => {
    const c = reference.regression.find((x) => x.name === "partial-labels");
    assert.ok(c);
    const whole = fill(c.predictions, c.actuals).metrics();
    const rng = createRandom(3);
    for (let trial = 0; trial < 20; trial++) {
      const parts = [
        new RegressionAccumulator(),
        new RegressionAccumulator(),
        new RegressionAccumulator(),
      ] as const;
      c.predictions.forEach((p, i) => parts[rng.int(0, 2)]?.add(p, c.actuals[i] ?? null));
      for (const merged of [
        parts[0].merge(parts[1]).merge(parts[2]),
        parts[0].merge(parts[1].merge(parts[2])),
      ]) {
        const m = merged.metrics();
        assert.equal(m.count, whole.count);
        assert.equal(m.labelled, whole.labelled);
        close(m.mae, whole.mae, 1e-12, "mae");
        close(m.rmse, whole.rmse, 1e-12, "rmse");
      }
    }
  });

  test("late and replaced actuals move coverage and errors; JSON round trip keeps them", () => {
    const acc = fill([10, 20], [null, null]);
    assert.equal(acc.metrics().coverage, 0);
    assert.equal(acc.metrics().rmse, null);
    acc.label(10, 13);
    assert.equal(acc.metrics().coverage, 0.5);
    assert.equal(acc.metrics().mae, 3);
    acc.label(20, 16);
    assert.deepEqual(
      [acc.metrics().mae, acc.metrics().rmse, acc.metrics().meanError],
      [3.5, Math.sqrt(12.5), 0.5],
    );
    acc.relabel(20, 16, 20);
    assert.deepEqual(
      [acc.metrics().mae, acc.metrics().rmse, acc.metrics().labelled],
      [1.5, Math.sqrt(4.5), 2],
    );
    assert.throws(
      () => acc.label(10, 1),
      (e: unknown) => e instanceof BallastError && e.code === "conflict",
    );
    const back = RegressionAccumulator.fromJSON(JSON.parse(JSON.stringify(acc.toJSON())));
    assert.deepEqual(back.metrics(), acc.metrics());
  });

  test("bad input names the value", () => {
    const acc = new RegressionAccumulator();
    assert.throws(() => acc.add(Number.NaN, 1), /prediction must be a finite number; got NaN/);
    assert.throws(() => acc.add(1, Number.POSITIVE_INFINITY), /actual must be a finite number; got Infinity/);
    assert.throws(() => acc.add("3" as unknown as number), /got 3/);
    assert.equal(acc.metrics().count, 0);
    assert.equal(acc.metrics().coverage, null);
    assert.throws(() => new RegressionAccumulator().relabel(1, 2, 3), /no labelled prediction/);
  });
});
