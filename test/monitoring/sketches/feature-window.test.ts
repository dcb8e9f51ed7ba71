import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { ProfileBuilder } from "../../../src/monitoring/profile/profile-builder.js";
import type { FeatureProfile, ReferenceProfile } from "../../../src/monitoring/profile/reference-profile.js";
import { FeatureWindow, WindowSketch } from "../../../src/monitoring/sketches/feature-window.js";
import { rankErrorBound } from "../../../src/math/sketches/quantile-sketch.js";
import { createRandom } from "../../../src/sim/random.js";

function profileOf(rows: Record<string, unknown>[], k = 1000): ReferenceProfile {
  const builder = new ProfileBuilder({ clock: { now: () => 0 }, k });
  builder.add(rows);
  return builder.finish();
}

// x: 1..1000 (edges 1, 100, …, 1000); c: a ×3, b ×2, c ×1 (a null in row 0); flag: 0/1.
const reference = profileOf(
  Array.from({ length: 1000 }, (_, i) => ({
    x: i + 1,
    c: i === 0 ? null : ["a", "a", "a", "b", "b", "c"][i % 6],
    flag: i % 4 === 0 ? 1 : 0,
  })),
);
const featureOf = (name: string): FeatureProfile => {
  const f = reference.features.find((x) => x.name === name);
  assert.ok(f);
  return f;
};

describe("numerical window", () => {
  test("values land in the reference bins, below, above and missing", () => {
    const window = new FeatureWindow(featureOf("x"));
    for (const v of [
      0,
      1,
      99.9,
      100,
      550,
      1000,
      1000.5,
      -Infinity,
      Infinity,
      null,
      NaN,
      undefined,
      "",
      "12",
      true,
    ]) {
      window.update(v);
    }
    // bins: [1,100) [100,200) … [900,1000], below, above, unseen, missing
    assert.deepEqual(window.binnedCounts(), [3, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 2, 1, 4]);
    assert.equal(window.count, 15);
    assert.equal(window.missing, 4);
    // Infinities are binned but kept out of the quantile sketch; true counts as 1.
    assert.equal(window.sketch?.count, 8);
    assert.equal(window.binLabels()[0], "[1, 100)");
    assert.equal(window.binLabels()[9], "[900, 1000]");
    assert.deepEqual(window.binLabels().slice(10), ["__below__", "__above__", "__unseen__", "__missing__"]);
  });

  test("reference counts are aligned the same way", () => {
    const window = new FeatureWindow(featureOf("x"));
    assert.deepEqual(window.referenceCounts(), [99, 100, 100, 100, 100, 100, 100, 100, 100, 101, 0, 0, 0, 0]);
  });

  test("a constant reference has one bin: equal values in it, others below or above", () => {
    const constant = profileOf([{ v: 3 }, { v: 3 }]).features[0];
    assert.ok(constant);
    const window = new FeatureWindow(constant);
    for (const v of [3, 3, 2, 4]) window.update(v);
    assert.deepEqual(window.binnedCounts(), [2, 1, 1, 0, 0]);
    assert.deepEqual(window.binLabels()[0], "[3, 3]");
  });
});

describe("categorical and binary windows", () => {
  test("categories, unseen categories and missing; reference missing in the missing bin", () => {
    const window = new FeatureWindow(featureOf("c"));
    for (const v of ["a", "b", "b", "zzz", 5, null, "", "c"]) window.update(v);
    // a, b, c, __other__, below, above, unseen, missing
    assert.deepEqual(window.binnedCounts(), [1, 2, 1, 0, 0, 0, 2, 2]);
    const reference = window.referenceCounts();
    assert.equal(reference[7], 1);
    assert.equal(
      reference.reduce((a, b) => a + b, 0),
      1000,
    );
  });

  test("when the reference had an other bin, an unknown category counts there, not as unseen", () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ c: i < 20 ? "common" : `rare${i}` }));
    const builder = new ProfileBuilder({ maxCategories: 1, maxTrackedCategories: 100 });
    builder.add(rows);
    const c = builder.finish().features[0];
    assert.ok(c);
    const window = new FeatureWindow(c);
    window.update("rare25");
    window.update("common");
    assert.deepEqual(window.binnedCounts(), [1, 1, 0, 0, 0, 0]);
    assert.deepEqual(window.referenceCounts(), [20, 10, 0, 0, 0, 0]);
  });

  test("binary: 0/1 and booleans, anything else unseen", () => {
    const window = new FeatureWindow(featureOf("flag"));
    for (const v of [0, 1, true, false, 2, "yes", null]) window.update(v);
    assert.deepEqual(window.binnedCounts(), [2, 2, 0, 0, 2, 1]);
    assert.deepEqual(window.referenceCounts(), [750, 250, 0, 0, 0, 0]);
    assert.equal(window.sketch, null);
  });
});

describe("merging windows", () => {
  test("random splits merged in any grouping give the counts of one window over everything", () => {
    const random = createRandom(3);
    const values = Array.from({ length: 200_000 }, () =>
      random.uniform() < 0.01 ? null : random.normal(500, 300),
    );
    const whole = new WindowSketch(reference);
    for (const x of values) whole.updateRow({ x, c: x === null ? "b" : "a", flag: 1 });
    for (let trial = 0; trial < 3; trial++) {
      const cuts = [0, random.int(1, 100_000), random.int(100_001, 199_999), values.length];
      const parts = [0, 1, 2].map((p) => {
        const part = new WindowSketch(reference, { seed: p });
        for (let i = cuts[p] ?? 0; i < (cuts[p + 1] ?? 0); i++) {
          const x = values[i];
          part.updateRow({ x, c: x === null ? "b" : "a", flag: 1 });
        }
        return part;
      });
      const [a, b, c] = parts;
      assert.ok(a && b && c);
      const grouped = [
        WindowSketch.fromJSON(reference, a.toJSON()).merge(b).merge(c),
        WindowSketch.fromJSON(reference, b.toJSON()).merge(
          WindowSketch.fromJSON(reference, c.toJSON()).merge(a),
        ),
      ];
      for (const merged of grouped) {
        assert.equal(merged.rows, values.length);
        for (const name of ["x", "c", "flag"]) {
          assert.deepEqual(merged.feature(name)?.binnedCounts(), whole.feature(name)?.binnedCounts(), name);
        }
        const sketch = merged.feature("x")?.sketch;
        const exact = whole.feature("x")?.sketch;
        assert.ok(sketch && exact);
        assert.equal(sketch.count, exact.count);
        // Both estimate the same distribution; each is within the bound of the truth.
        const sorted = values.filter((v): v is number => v !== null).sort((p, q) => p - q);
        for (const q of [0.05, 0.25, 0.5, 0.75, 0.95]) {
          const truth = sorted[Math.floor(q * sorted.length)] ?? NaN;
          const rank = sorted.filter((v) => v <= sketch.quantile(q)).length / sorted.length;
          assert.ok(
            Math.abs(rank - q) <= rankErrorBound(200),
            `q ${q}: rank ${rank} (true quantile ${truth})`,
          );
        }
      }
    }
  });

  test("windows against different references do not merge", () => {
    const other = profileOf(Array.from({ length: 50 }, (_, i) => ({ x: i * 2 })));
    const otherX = other.features[0];
    assert.ok(otherX);
    assert.throws(
      () => new FeatureWindow(featureOf("x")).merge(new FeatureWindow(otherX)),
      /different references/,
    );
  });
});

describe("window memory and serialization", () => {
  test("JSON size after 10^6 updates is about that after 10^4", () => {
    const random = createRandom(4);
    const sizeAfter = (n: number) => {
      const window = new WindowSketch(reference);
      for (let i = 0; i < n; i++) window.updateRow({ x: random.uniform() * 1000, c: "a", flag: 0 });
      return JSON.stringify(window).length;
    };
    const ratio = sizeAfter(1_000_000) / sizeAfter(10_000);
    assert.ok(ratio < 1.5, `JSON grew ${ratio}×`);
  });

  test("round trip keeps counts and the sketch; bad JSON is refused with the field named", () => {
    const window = new WindowSketch(reference);
    for (let i = 0; i < 5000; i++) window.updateRow({ x: i % 1200, c: i % 2 ? "a" : "new", flag: i % 2 });
    const restored = WindowSketch.fromJSON(reference, JSON.parse(JSON.stringify(window)));
    assert.deepEqual(restored.toJSON(), window.toJSON());
    assert.equal(restored.rows, 5000);
    const json = window.toJSON();
    assert.throws(
      () =>
        WindowSketch.fromJSON(reference, {
          ...json,
          features: [{ ...json.features[0], counts: [1] }, ...json.features.slice(1)],
        }),
      /window\.features\[0\]\.counts must be 14 non-negative integers/,
    );
    assert.throws(
      () =>
        WindowSketch.fromJSON(reference, {
          ...json,
          features: [...json.features.slice(0, 1), { ...json.features[1], feature: "x" }, json.features[2]],
        }),
      /window\.features\[1\]\.feature must be "c"/,
    );
  });

  test("updateRow counts an absent feature as missing; role filters features", () => {
    const profile = profileOf([
      { x: 1, score: 0.5 },
      { x: 2, score: 0.7 },
    ]);
    const builder = new ProfileBuilder({ outputs: ["score"] });
    builder.add([
      { x: 1, score: 0.5 },
      { x: 2, score: 0.7 },
    ]);
    const withRoles = builder.finish();
    const window = new WindowSketch(profile);
    window.updateRow({ x: 1.5 });
    assert.equal(window.feature("score")?.missing, 1);
    const inputs = new WindowSketch(withRoles, { role: "input" });
    assert.deepEqual(
      inputs.features.map((f) => f.name),
      ["x"],
    );
  });
});
