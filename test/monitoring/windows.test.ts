import { test } from "node:test";
import assert from "node:assert/strict";
import { Windower, windowShape, type SketchOps } from "../../src/monitoring/windows.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";

/** A sketch simple enough to check by hand: the values seen. */
const values: SketchOps<number[]> = { create: () => [], mergeInto: (into, from) => void into.push(...from) };

test("tumbling by count: a window closes as soon as its last row arrives", () => {
  const w = new Windower({ kind: "tumbling", by: "count", size: 3 }, values);
  for (let i = 1; i <= 7; i++) w.add(0, (s) => s.push(i));
  assert.deepEqual(
    w.drain().map((c) => [c.start, c.end, c.rows, c.sketch]),
    [
      [0, 3, 3, [1, 2, 3]],
      [3, 6, 3, [4, 5, 6]],
    ],
  );
  assert.deepEqual(w.current()?.sketch, [7]);
  assert.deepEqual(w.drain(), []);
});

test("tumbling by time: windows align to the epoch and close on the first row (or tick) past them", () => {
  const hour = 3_600_000;
  const w = new Windower({ kind: "tumbling", by: "time", durationMs: hour }, values);
  w.add(10 * hour + 5, (s) => s.push(1));
  w.add(10 * hour + hour - 1, (s) => s.push(2));
  assert.deepEqual(w.drain(), []);
  w.add(11 * hour, (s) => s.push(3));
  assert.deepEqual(
    w.drain().map((c) => [c.start / hour, c.end / hour, c.sketch]),
    [[10, 11, [1, 2]]],
  );
  // No traffic for three hours: the open window still closes when the timer ticks.
  w.tick(14 * hour + 1);
  assert.deepEqual(
    w.drain().map((c) => [c.start / hour, c.rows]),
    [[11, 1]],
  );
  assert.equal(w.current(), null);
});

test("sliding by count: each step closes a window over the last size rows", () => {
  const w = new Windower({ kind: "sliding", by: "count", size: 4, step: 2 }, values);
  for (let i = 1; i <= 8; i++) w.add(0, (s) => s.push(i));
  assert.deepEqual(
    w.drain().map((c) => [c.start, c.end, c.sketch]),
    [
      [-2, 2, [1, 2]],
      [0, 4, [1, 2, 3, 4]],
      [2, 6, [3, 4, 5, 6]],
      [4, 8, [5, 6, 7, 8]],
    ],
  );
});

test("sliding by time over a gap: the window slides over empty time, then stops emitting", () => {
  const w = new Windower({ kind: "sliding", by: "time", durationMs: 30, stepMs: 10 }, values);
  w.add(1, (s) => s.push(1));
  w.add(12, (s) => s.push(2));
  w.add(95, (s) => s.push(3)); // 80 ms of silence
  assert.deepEqual(
    w.drain().map((c) => [c.start, c.end, c.sketch]),
    [
      [-20, 10, [1]],
      [-10, 20, [1, 2]],
      [0, 30, [1, 2]],
      [10, 40, [2]],
    ],
  );
  assert.deepEqual(w.current()?.sketch, [3]);
});

test("windows of real sketches merge to the same counts as one sketch over the same rows", () => {
  const builder = new ProfileBuilder();
  builder.add(Array.from({ length: 500 }, (_, i) => ({ x: i % 97, c: `k${i % 5}` })));
  const profile = builder.finish();
  const ops: SketchOps<WindowSketch> = {
    create: () => new WindowSketch(profile),
    mergeInto: (into, from) => void into.merge(from),
  };
  const w = new Windower({ kind: "sliding", by: "count", size: 300, step: 100 }, ops);
  const direct = new WindowSketch(profile);
  for (let i = 0; i < 1000; i++) {
    const row = { x: (i * 7) % 131, c: `k${i % 7}` };
    w.add(0, (s) => s.updateRow(row));
    if (i >= 700) direct.updateRow(row);
  }
  const last = w.drain().at(-1);
  assert.equal(last?.rows, 300);
  for (const name of ["x", "c"]) {
    assert.deepEqual(
      Array.from(last?.sketch.feature(name)?.binnedCounts() ?? []),
      Array.from(direct.feature(name)?.binnedCounts() ?? []),
      name,
    );
  }
});

test("bad window specs name the field", () => {
  assert.throws(
    () => windowShape({ kind: "tumbling", by: "count", size: 0 }),
    /window\.size must be a positive integer/,
  );
  assert.throws(
    () => windowShape({ kind: "sliding", by: "time", durationMs: 25, stepMs: 10 }),
    /must be a multiple of the step/,
  );
  assert.throws(() => windowShape({ kind: "sliding", by: "count", size: 10, step: 1.5 }), /window\.step/);
});
