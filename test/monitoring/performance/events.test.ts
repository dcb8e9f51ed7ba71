import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BallastError } from "../../../src/domain/errors.js";
import { EventRateAccumulator } from "../../../src/monitoring/performance/events.js";
import { createRandom } from "../../../src/sim/random.js";

describe("EventRateAccumulator", () => {
  test("counts predictions with each event, the rate and the value sum", () => {
    const acc = new EventRateAccumulator();
    acc.add({ click: null });
    acc.add({ click: null, conversion: 25 });
    acc.add();
    acc.add();
    const r = acc.rates();
    assert.equal(r.predictions, 4);
    assert.deepEqual(r.events.click, { count: 2, rate: 0.5, valueSum: 0, valued: 0 });
    assert.deepEqual(r.events.conversion, { count: 1, rate: 0.25, valueSum: 25, valued: 1 });
  });

  test("late and replaced events", () => {
    const acc = new EventRateAccumulator();
    acc.add();
    acc.add();
    assert.deepEqual(acc.rates().events, {});
    acc.event("conversion", 10);
    acc.event("conversion", 5);
    assert.throws(() => acc.event("conversion", 1), /more predictions \(3\) than the window holds \(2\)/);
    acc.revalue("conversion", 5, 7.5);
    assert.deepEqual(acc.rates().events.conversion, { count: 2, rate: 1, valueSum: 17.5, valued: 2 });
    assert.throws(
      () => acc.revalue("click", null, 1),
      (e: unknown) => e instanceof BallastError && e.code === "conflict",
    );
  });

  test("merge over random splits equals one accumulator, and survives JSON", () => {
    const rng = createRandom(9);
    const rows = Array.from({ length: 300 }, () => {
      const e: Record<string, number | null> = {};
      if (rng.bernoulli(0.3)) e.click = null;
      if (rng.bernoulli(0.05)) e.conversion = rng.int(1, 100);
      return e;
    });
    const whole = new EventRateAccumulator();
    rows.forEach((r) => whole.add(r));
    const parts = [
      new EventRateAccumulator(),
      new EventRateAccumulator(),
      new EventRateAccumulator(),
    ] as const;
    rows.forEach((r) => parts[rng.int(0, 2)]?.add(r));
    assert.deepEqual(parts[0].merge(parts[1]).merge(parts[2]).rates(), whole.rates());
    assert.deepEqual(parts[0].merge(parts[1].merge(parts[2])).rates(), whole.rates());
    assert.deepEqual(
      EventRateAccumulator.fromJSON(JSON.parse(JSON.stringify(whole.toJSON()))).rates(),
      whole.rates(),
    );
    assert.equal(new EventRateAccumulator().rates().predictions, 0);
  });

  test("bad input: names, values and the cap on distinct names", () => {
    const acc = new EventRateAccumulator(2);
    assert.throws(() => acc.add({ "": 1 }), /non-empty string/);
    assert.throws(() => acc.add({ label: null }), /"label" is the ground truth/);
    assert.throws(
      () => acc.add({ click: Number.NaN }),
      /value of event "click" must be a finite number or null; got NaN/,
    );
    acc.add({ a: null, b: null });
    assert.throws(() => acc.add({ a: null, c: null }), /more than 2 distinct event names/);
    assert.equal(acc.rates().predictions, 1, "a rejected prediction is not counted");
    assert.equal(acc.rates().events.a?.count, 1);
  });
});
