import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  ProfileBuilder,
  buildProfile,
  type ProfileOptions,
} from "../../../src/monitoring/profile/profile-builder.js";
import {
  parseProfile,
  serializeProfile,
  type FeatureProfile,
  type ReferenceProfile,
} from "../../../src/monitoring/profile/reference-profile.js";
import { rankErrorBound } from "../../../src/math/sketches/quantile-sketch.js";

const clock = { now: () => 1_700_000_000_000 };

function profileOf(rows: Record<string, unknown>[], options: ProfileOptions = {}): ReferenceProfile {
  const builder = new ProfileBuilder({ clock, ...options });
  builder.add(rows);
  return builder.finish();
}

function feature(profile: ReferenceProfile, name: string): FeatureProfile {
  const found = profile.features.find((f) => f.name === name);
  assert.ok(found, `feature ${name}`);
  return found;
}

const column = (name: string, values: unknown[]) => values.map((v) => ({ [name]: v }));

describe("kind inference", () => {
  test("numbers, 0/1 numbers, booleans, strings, all-missing, constants", () => {
    const rows = [
      { amount: 1.5, fraud: 0, online: true, category: "food", empty: null, constant: 7, zeros: 0 },
      { amount: 2.5, fraud: 1, online: false, category: "fuel", empty: "", constant: 7, zeros: 0 },
      { amount: 4, fraud: 1, online: true, category: "food", constant: 7, zeros: 0 },
    ];
    const profile = profileOf(rows);
    const kinds = Object.fromEntries(profile.features.map((f) => [f.name, f.kind]));
    assert.deepEqual(kinds, {
      amount: "numerical",
      fraud: "binary",
      online: "binary",
      category: "categorical",
      empty: "categorical",
      constant: "numerical",
      zeros: "numerical", // one distinct value, not the two that make a binary column
    });
    const empty = feature(profile, "empty");
    assert.ok(empty.kind === "categorical");
    assert.deepEqual([empty.count, empty.missing, empty.categories, empty.other], [0, 3, [], 0]);
    const online = feature(profile, "online");
    assert.ok(online.kind === "binary");
    assert.deepEqual(online.categories, [
      { value: "0", count: 1 },
      { value: "1", count: 2 },
    ]);
    assert.equal(online.mean, 2 / 3);
    assert.equal(online.std, Math.sqrt((2 / 3) * (1 / 3)));
    const constant = feature(profile, "constant");
    assert.ok(constant.kind === "numerical");
    assert.deepEqual([constant.edges, constant.binCounts, constant.std], [[7], [3], 0]);
  });

  test("overrides: numbers as categories, 0/1 as numerical; impossible overrides are refused", () => {
    const rows = [
      { code: 10, flag: 1 },
      { code: 20, flag: 0 },
      { code: 10, flag: 1 },
    ];
    const profile = profileOf(rows, { kinds: { code: "categorical", flag: "numerical" } });
    const code = feature(profile, "code");
    assert.ok(code.kind === "categorical");
    assert.deepEqual(code.categories, [
      { value: "10", count: 2 },
      { value: "20", count: 1 },
    ]);
    assert.equal(feature(profile, "flag").kind, "numerical");
    assert.throws(
      () => profileOf(rows, { kinds: { code: "binary" } }),
      /"code" is declared binary but holds values other than 0 and 1/,
    );
    assert.throws(
      () => profileOf([{ city: "Oslo" }], { kinds: { city: "numerical" } }),
      /"city" is declared numerical but holds strings \(first at row 1\)/,
    );
    assert.throws(
      () => profileOf(rows, { kinds: { nope: "numerical" } }),
      /"nope" is named in the options but not in the data/,
    );
  });

  test("outputs get the output role", () => {
    const profile = profileOf(
      [
        { x: 1, score: 0.2 },
        { x: 2, score: 0.9 },
      ],
      { outputs: ["score"] },
    );
    assert.deepEqual(
      profile.features.map((f) => [f.name, f.role]),
      [
        ["x", "input"],
        ["score", "output"],
      ],
    );
  });
});

describe("numerical statistics and bins", () => {
  test("1..1000 with a sketch that holds them all: edges at the deciles, exact counts", () => {
    const profile = profileOf(
      column(
        "x",
        Array.from({ length: 1000 }, (_, i) => i + 1),
      ),
      { k: 1000 },
    );
    const x = feature(profile, "x");
    assert.ok(x.kind === "numerical");
    assert.deepEqual(x.edges, [1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    // [1, 100) holds 1..99; [900, 1000] holds 900..1000.
    assert.deepEqual(x.binCounts, [99, 100, 100, 100, 100, 100, 100, 100, 100, 101]);
    assert.equal(x.binsExact, true);
    assert.equal(x.mean, 500.5);
    // Population standard deviation of 1..n is sqrt((n² − 1) / 12).
    assert.ok(Math.abs((x.std ?? 0) - Math.sqrt((1000 ** 2 - 1) / 12)) < 1e-9);
    assert.deepEqual([x.min, x.max], [1, 1000]);
  });

  test("1..100000 with the default sketch: edges within the rank bound of the deciles", () => {
    const n = 100_000;
    const profile = profileOf(
      column(
        "x",
        Array.from({ length: n }, (_, i) => ((i * 7919) % n) + 1),
      ),
    );
    const x = feature(profile, "x");
    assert.ok(x.kind === "numerical");
    assert.equal(x.binsExact, false);
    assert.equal(x.edges.length, 11);
    x.edges.forEach((edge, i) => {
      assert.ok(Math.abs(edge / n - i / 10) <= rankErrorBound(200) + 1 / n, `edge ${i} = ${edge}`);
    });
    assert.equal(
      x.binCounts.reduce((a, b) => a + b, 0),
      n,
    );
    for (const c of x.binCounts)
      assert.ok(Math.abs(c / n - 0.1) <= 2 * rankErrorBound(200), `bin count ${c}`);
  });

  test("heavy ties give fewer bins", () => {
    const values = [...Array<number>(90).fill(0), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const x = feature(profileOf(column("x", values)), "x");
    assert.ok(x.kind === "numerical");
    // Deciles 0.1..0.9 are all 0; 1.0 is 10.
    assert.deepEqual(x.edges, [0, 10]);
    assert.deepEqual(x.binCounts, [100]);
  });

  test("mean and population std match a two-pass computation; missing values are counted", () => {
    const values = [3.5, null, -2, undefined, "", NaN, 10.25, 0.5, 7];
    const rows = values.map((v, i) => (i === 3 ? {} : { x: v }));
    const x = feature(profileOf(rows), "x");
    const present = [3.5, -2, 10.25, 0.5, 7];
    const mean = present.reduce((a, b) => a + b, 0) / present.length;
    const std = Math.sqrt(present.reduce((a, b) => a + (b - mean) ** 2, 0) / present.length);
    assert.ok(x.kind === "numerical");
    assert.equal(x.count, 5);
    assert.equal(x.missing, 4);
    assert.ok(Math.abs((x.mean ?? NaN) - mean) < 1e-12);
    assert.ok(Math.abs((x.std ?? NaN) - std) < 1e-12);
  });

  test("a single row is a profile: std 0, one bin", () => {
    const x = feature(profileOf([{ x: 42 }]), "x");
    assert.ok(x.kind === "numerical");
    assert.deepEqual([x.count, x.std, x.edges, x.binCounts], [1, 0, [42], [1]]);
  });
});

describe("categories", () => {
  test("keeps the 100 most frequent; the rest count as other", () => {
    const rows: Record<string, unknown>[] = [];
    for (let c = 0; c < 150; c++) for (let i = 0; i <= c; i++) rows.push({ c: `cat${c}` });
    const c = feature(profileOf(rows), "c");
    assert.ok(c.kind === "categorical");
    assert.equal(c.categories.length, 100);
    assert.deepEqual(c.categories[0], { value: "cat149", count: 150 });
    assert.deepEqual(c.categories[99], { value: "cat50", count: 51 });
    // cat0..cat49 hold 1 + 2 + … + 50 values.
    assert.equal(c.other, (50 * 51) / 2);
    assert.equal(c.categoryCountError, 0);
  });

  test("huge cardinality: bounded memory, frequent categories kept, counts within the stated error", () => {
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 50_000; i++) rows.push({ c: i % 5 === 0 ? `hot${i % 3}` : `id${i}` });
    const c = feature(profileOf(rows, { maxCategories: 5, maxTrackedCategories: 100 }), "c");
    assert.ok(c.kind === "categorical");
    assert.ok(c.categoryCountError > 0);
    const hot = c.categories.slice(0, 3);
    assert.deepEqual(hot.map((h) => h.value).sort(), ["hot0", "hot1", "hot2"]);
    for (const h of hot) {
      const truth = 10_000 / 3;
      assert.ok(h.count <= Math.ceil(truth) && h.count >= Math.floor(truth) - c.categoryCountError);
    }
    assert.equal(c.categories.reduce((a, b) => a + b.count, 0) + c.other, 50_000);
  });
});

describe("streaming in batches", () => {
  test("batches give the same profile as one call; a column first seen later counts earlier rows as missing", async () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ x: (i * 37) % 1000, c: `v${i % 7}` }));
    const late = [...rows, { x: 1, c: "v1", late: 5 }];
    const whole = profileOf(late);
    async function* batches() {
      for (let i = 0; i < late.length; i += 999) yield { rows: late.slice(i, i + 999) };
    }
    const streamed = await buildProfile(batches(), { clock });
    assert.deepEqual(streamed, whole);
    const lateFeature = feature(streamed, "late");
    assert.deepEqual([lateFeature.count, lateFeature.missing], [1, 5000]);
  });

  test("serialises and parses back to the same profile", () => {
    const profile = profileOf(
      Array.from({ length: 3000 }, (_, i) => ({ x: i % 313, b: i % 2, c: `k${i % 4}` })),
    );
    assert.deepEqual(parseProfile(serializeProfile(profile)), profile);
  });
});

describe("bad input", () => {
  test("infinity is refused, naming the column and row (or file line)", () => {
    assert.throws(() => profileOf([{ x: 1 }, { x: Infinity }]), /column "x" has Infinity at row 2/);
    const builder = new ProfileBuilder();
    assert.throws(() => builder.add([{ x: -Infinity }], [17]), /column "x" has -Infinity at line 17/);
  });

  test("mixed types are refused, naming the column and the first offending row", () => {
    assert.throws(
      () => profileOf([{ x: 1 }, { x: null }, { x: "two" }, { x: "three" }]),
      /column "x" mixes types: number first \(row 1\), then a string at row 3/,
    );
    assert.throws(
      () => profileOf([{ x: true }, { x: 1 }]),
      /mixes types: boolean first \(row 1\), then a number at row 2/,
    );
    assert.throws(() => profileOf([{ x: { nested: 1 } }]), /column "x" has a object at row 1/);
  });

  test("empty input, rows without fields and array rows are refused", () => {
    assert.throws(() => profileOf([]), /no rows to profile/);
    assert.throws(() => profileOf([{}]), /no columns to profile/);
    assert.throws(() => new ProfileBuilder().add([[1, 2]]), /row 1 is not an object keyed by column/);
  });
});
