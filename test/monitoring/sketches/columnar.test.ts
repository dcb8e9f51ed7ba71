import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { QuantileSketch, rankErrorBound } from "../../../src/math/sketches/quantile-sketch.js";
import { sortFloat64 } from "../../../src/math/sketches/sort-float64.js";
import { WindowSketch } from "../../../src/monitoring/sketches/feature-window.js";
import { ProfileBuilder } from "../../../src/monitoring/profile/profile-builder.js";
import { ExactBinCounts } from "../../../src/monitoring/profile/exact-bins.js";
import { BinIndex, numericBin } from "../../../src/monitoring/profile/numeric-bins.js";
import { createRandom } from "../../../src/sim/random.js";
import { BallastError } from "../../../src/domain/errors.js";

const K = 200;
const BOUND = rankErrorBound(K);

function permutation(n: number, seed: number): Float64Array {
  const random = createRandom(seed);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random.uniform() * (i + 1));
    const t = values[i] as number;
    values[i] = values[j] as number;
    values[j] = t;
  }
  return values;
}

/** Largest |cdf_est − cdf_true| for a sketch of 0..n-1 (checked at and just below each item). */
function worstRankError(sketch: QuantileSketch, n: number): number {
  let worst = 0;
  for (const v of sketch.sortedItems().values) {
    worst = Math.max(worst, Math.abs(sketch.cdf(v) - (v + 1) / n), Math.abs(sketch.cdf(v - 0.5) - v / n));
  }
  return worst;
}

function bulk(values: Float64Array, seed: number, chunk: number): QuantileSketch {
  const sketch = new QuantileSketch({ k: K, seed });
  for (let i = 0; i < values.length; i += chunk) {
    sketch.updateMany(values.subarray(i, Math.min(values.length, i + chunk)));
  }
  return sketch;
}

describe("sortFloat64", () => {
  test("sorts like the native sort: normal, skewed, tied and tiny inputs", () => {
    const random = createRandom(5);
    const cases: Float64Array[] = [
      Float64Array.from({ length: 1000 }, () => random.normal()),
      Float64Array.from({ length: 700 }, (_, i) => (i === 3 ? 1e300 : random.uniform())),
      Float64Array.from({ length: 500 }, (_, i) => i % 7),
      Float64Array.from({ length: 30 }, () => random.uniform()),
      Float64Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? -1e308 : 1e308)),
    ];
    for (const values of cases) {
      const expected = values.slice().sort();
      sortFloat64(values);
      assert.deepEqual(values, expected);
    }
  });
});

describe("QuantileSketch.updateMany", () => {
  test(`rank error within ${BOUND} over 20 seeds, n = 10^5, in chunks of 2048`, () => {
    const n = 100_000;
    for (let seed = 1; seed <= 20; seed++) {
      const sketch = bulk(permutation(n, seed * 7919), seed, 2048);
      assert.equal(sketch.count, n);
      assert.equal(sketch.min, 0);
      assert.equal(sketch.max, n - 1);
      const error = worstRankError(sketch, n);
      assert.ok(error <= BOUND, `seed ${seed}: rank error ${error} > ${BOUND}`);
    }
  });

  test("rank error within the bound at n = 10^6 (sampler active), several seeds and chunk sizes", () => {
    const n = 1_000_000;
    for (const [seed, chunk] of [
      [1, 2048],
      [2, 1000],
      [3, 65536],
      [4, 333],
    ] as const) {
      const sketch = bulk(permutation(n, seed * 104729), seed, chunk);
      assert.equal(sketch.count, n);
      assert.ok(sketch.retainedItems < 2000, `holds ${sketch.retainedItems} items`);
      const error = worstRankError(sketch, n);
      assert.ok(error <= BOUND, `seed ${seed}: rank error ${error} > ${BOUND}`);
    }
  });

  test("small inputs stay exact, and a bulk-built sketch merges and round-trips", () => {
    const sketch = new QuantileSketch({ k: K });
    sketch.updateMany(Float64Array.from([5, 1, 4, 1, 3]));
    assert.equal(sketch.isExact, true);
    assert.equal(sketch.quantile(0.5), 3);
    const other = bulk(permutation(50_000, 3), 9, 4096);
    sketch.merge(other);
    assert.equal(sketch.count, 50_005);
    const restored = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON())));
    assert.equal(restored.count, 50_005);
    assert.equal(restored.quantile(0.5), sketch.quantile(0.5));
  });

  test("non-finite values are refused before anything is added", () => {
    const sketch = new QuantileSketch({ k: K });
    for (const bad of [NaN, Infinity, -Infinity]) {
      assert.throws(
        () => sketch.updateMany(Float64Array.from([1, 2, bad])),
        (e: unknown) => e instanceof BallastError && /index 2/.test(e.message),
      );
    }
    assert.equal(sketch.count, 0);
    assert.throws(() => sketch.updateMany(new Float64Array(2), 3), BallastError);
  });

  test("a caller's checked min and max replace the sketch's own pass, and must be finite and ordered", () => {
    const values = Float64Array.from([3, -2, 7]);
    const sketch = new QuantileSketch({ k: K });
    sketch.updateMany(values, 3, { min: -2, max: 7 });
    assert.equal(sketch.min, -2);
    assert.equal(sketch.max, 7);
    assert.equal(sketch.count, 3);
    assert.throws(() => sketch.updateMany(values, 3, { min: 7, max: -2 }), BallastError);
    assert.throws(() => sketch.updateMany(values, 3, { min: -Infinity, max: 7 }), BallastError);
  });
});

describe("BinIndex", () => {
  test("gives numericBin's bin for every value, edges and specials included", () => {
    const random = createRandom(17);
    for (const edges of [[0], [0, 1], [-3, -1, 0, 0.5, 2, 10], [1e-9, 2e-9, 1]]) {
      const index = new BinIndex(edges);
      const last = edges.length - 1;
      const probes = [
        ...edges,
        ...edges.map((e) => e - 1e-12),
        ...edges.map((e) => e + 1e-12),
        ...Array.from({ length: 2000 }, () => (edges[0] as number) - 1 + random.uniform() * 14),
        NaN,
        Infinity,
        -Infinity,
      ];
      const values = Float64Array.from(probes);
      const bins = Math.max(1, last);
      const counts = new Float64Array(bins + 3);
      const finite = index.count(values, values.length, counts, bins, bins + 1, bins + 2);
      const expected = new Float64Array(bins + 3);
      for (const x of probes) {
        const bin = x !== x ? bins + 2 : numericBin(edges, x);
        const at = bin === -1 ? bins : bin === -2 ? bins + 1 : bin;
        expected[at] = (expected[at] as number) + 1;
      }
      assert.deepEqual(counts, expected, `edges ${edges.join(",")}`);
      assert.equal(finite, probes.length - 3);
    }
  });
});

describe("BinIndex grid and packed counts", () => {
  /** numericBin's counts for `values`, in count()'s layout (bins, below, above, missing). */
  function expectedCounts(edges: readonly number[], values: Float64Array): Float64Array {
    const bins = Math.max(1, edges.length - 1);
    const expected = new Float64Array(bins + 3);
    for (const x of values) {
      const bin = x !== x ? bins + 2 : numericBin(edges, x);
      const at = bin === -1 ? bins : bin === -2 ? bins + 1 : bin;
      expected[at] = (expected[at] as number) + 1;
    }
    return expected;
  }

  function check(edges: readonly number[], values: Float64Array, label: string): void {
    const bins = Math.max(1, edges.length - 1);
    const counts = new Float64Array(bins + 3);
    const range = new Float64Array(2);
    new BinIndex(edges).count(values, values.length, counts, bins, bins + 1, bins + 2, range);
    assert.deepEqual(counts, expectedCounts(edges, values), label);
    const finite = Array.from(values).filter((x) => Number.isFinite(x));
    assert.deepEqual(Array.from(range), [Math.min(...finite), Math.max(...finite)], `${label}: range`);
  }

  test("exact past a packing block (8191 values), with 1 to 12 bins and more (unpacked)", () => {
    const random = createRandom(5);
    for (const bins of [1, 2, 4, 5, 10, 12, 13, 40]) {
      const edges = Array.from({ length: bins + 1 }, (_, i) => Math.tan(-1.4 + (2.8 * i) / bins));
      const values = Float64Array.from({ length: 50_000 }, () => {
        const u = random.uniform();
        // Values on and a hair either side of edges, in the cells the grid resolves against edges.
        if (u < 0.1) return edges[Math.floor(random.uniform() * edges.length)] as number;
        if (u < 0.15) return (edges[Math.floor(random.uniform() * edges.length)] as number) * (1 + 1e-15);
        if (u < 0.16) return [NaN, Infinity, -Infinity][Math.floor(random.uniform() * 3)] as number;
        return Math.tan(-1.45 + 2.9 * random.uniform());
      });
      check(edges, values, `${bins} bins`);
    }
  });

  test("exact for bins narrower than a grid cell, a far outlier edge, and over 32766 bins", () => {
    const random = createRandom(6);
    const narrow = [0, 1e-12, 2e-12, 3e-12, 0.5, 1];
    check(
      narrow,
      Float64Array.from({ length: 20_000 }, () => random.uniform() * 4e-12),
      "narrow",
    );
    const outlier = [0, 0.1, 0.2, 0.3, 1e300];
    check(
      outlier,
      Float64Array.from({ length: 20_000 }, () => random.uniform() * 0.4),
      "outlier",
    );
    const many = Array.from({ length: 40_001 }, (_, i) => i);
    check(
      many,
      Float64Array.from({ length: 20_000 }, () => random.uniform() * 40_001 - 0.5),
      "many",
    );
  });
});

/** Seeded columns with missing values, infinities, ties and out-of-range values mixed in. */
function columnsOf(
  names: readonly string[],
  rows: number,
  seed: number,
  shift = 0,
): Record<string, Float64Array> {
  const random = createRandom(seed);
  return Object.fromEntries(
    names.map((name, j) => [
      name,
      Float64Array.from({ length: rows }, () => {
        const u = random.uniform();
        if (u < 0.02) return NaN;
        if (shift !== 0 && u < 0.025) return u < 0.0225 ? Infinity : -Infinity;
        if (j === 2) return Math.floor(random.uniform() * 5);
        return j + shift + random.normal() * (1 + j);
      }),
    ]),
  );
}

function rowsOf(columns: Record<string, Float64Array>, rows: number): Record<string, unknown>[] {
  return Array.from({ length: rows }, (_, i) =>
    Object.fromEntries(
      Object.entries(columns).map(([name, values]) => {
        const x = values[i] as number;
        return [name, x !== x ? null : x];
      }),
    ),
  );
}

describe("columnar ingest equals row ingest", () => {
  const names = ["a", "b", "c"];

  test("ProfileBuilder.addColumns: counts, min, max, missing, kinds as add(); mean and std to rounding", () => {
    for (const seed of [1, 2, 3]) {
      const rows = 30_000;
      const columns = columnsOf(names, rows, seed);
      const byRows = new ProfileBuilder({ clock: { now: () => 0 } });
      const byColumns = new ProfileBuilder({ clock: { now: () => 0 } });
      const all = rowsOf(columns, rows);
      for (let at = 0; at < rows; at += 4096) {
        const n = Math.min(4096, rows - at);
        byRows.add(all.slice(at, at + n));
        byColumns.addColumns(
          Object.fromEntries(
            names.map((name) => [name, (columns[name] as Float64Array).subarray(at, at + n)]),
          ),
          n,
        );
      }
      const r = byRows.finish();
      const c = byColumns.finish();
      assert.equal(c.rows, r.rows);
      r.features.forEach((fr, j) => {
        const fc = c.features[j];
        assert.ok(fc !== undefined && fc.kind === fr.kind && fc.name === fr.name);
        assert.equal(fc.count, fr.count);
        assert.equal(fc.missing, fr.missing);
        if (fr.kind === "numerical" && fc.kind === "numerical") {
          assert.equal(fc.min, fr.min);
          assert.equal(fc.max, fr.max);
          assert.ok(
            Math.abs((fc.mean as number) - (fr.mean as number)) <= 1e-12 * (1 + Math.abs(fr.mean as number)),
          );
          assert.ok(Math.abs((fc.std as number) - (fr.std as number)) <= 1e-12 * (fr.std as number));
          assert.equal(fc.edges.length, fr.edges.length);
        }
      });
    }
  });

  test("addColumns refuses infinities naming column and row, and mixed types", () => {
    const builder = new ProfileBuilder();
    builder.addColumns({ x: Float64Array.from([1, 2]) }, 2);
    assert.throws(
      () => builder.addColumns({ x: Float64Array.from([1, -Infinity]) }, 2),
      (e: unknown) => e instanceof BallastError && /column "x" has -Infinity at row 4/.test(e.message),
    );
    const strings = new ProfileBuilder();
    strings.add([{ s: "red" }]);
    assert.throws(() => strings.addColumns({ s: Float64Array.from([1]) }, 1), /mixes types/);
  });

  test("WindowSketch.updateColumns: identical bin counts, missing and rows as updateRow", () => {
    for (const seed of [4, 5, 6]) {
      const builder = new ProfileBuilder({ clock: { now: () => 0 } });
      builder.addColumns(columnsOf(names, 20_000, seed), 20_000);
      const profile = builder.finish();
      const rows = 25_000;
      const current = columnsOf(names, rows, seed + 100, 0.3);
      const byRows = new WindowSketch(profile, { seed });
      for (const row of rowsOf(current, rows)) byRows.updateRow(row);
      const byColumns = new WindowSketch(profile, { seed });
      for (let at = 0; at < rows; at += 3000) {
        const n = Math.min(3000, rows - at);
        const batch = Object.fromEntries(
          ["a", "c"].map((name) => [name, (current[name] as Float64Array).subarray(at, at + n)]),
        );
        // "b" is left out of the batch: missing in every row, as an absent key is for updateRow.
        byColumns.updateColumns(batch, n);
      }
      const withoutB = new WindowSketch(profile, { seed });
      for (const row of rowsOf(current, rows)) withoutB.updateRow({ a: row.a, c: row.c });
      assert.equal(byColumns.rows, rows);
      for (const name of names) {
        const expected = withoutB.feature(name);
        const got = byColumns.feature(name);
        assert.deepEqual(got?.binnedCounts(), expected?.binnedCounts(), `feature ${name}`);
        assert.equal(got?.missing, expected?.missing);
        if (expected?.sketch && got?.sketch && expected.sketch.count > 0) {
          assert.equal(got.sketch.count, expected.sketch.count);
          assert.equal(got.sketch.min, expected.sketch.min);
          assert.equal(got.sketch.max, expected.sketch.max);
        }
      }
      assert.deepEqual(byRows.feature("a")?.binnedCounts(), byColumns.feature("a")?.binnedCounts());
    }
  });

  test("ExactBinCounts: the second pass gives the exact counts of the first pass's bins", () => {
    const rows = 50_000;
    const columns = columnsOf(names, rows, 8);
    const builder = new ProfileBuilder({ clock: { now: () => 0 } });
    builder.addColumns(columns, rows);
    const estimated = builder.finish();
    const exact = new ExactBinCounts(estimated);
    exact.addColumns(columns, rows);
    const profile = exact.finish();
    for (const feature of profile.features) {
      if (feature.kind !== "numerical") continue;
      assert.equal(feature.binsExact, true);
      const values = columns[feature.name] as Float64Array;
      const expected = new Array<number>(feature.binCounts.length).fill(0);
      for (const x of values) if (x === x) expected[numericBin(feature.edges, x)]! += 1;
      assert.deepEqual(feature.binCounts, expected);
    }
    const short = new ExactBinCounts(estimated);
    short.addColumns(columns, rows - 1);
    assert.throws(() => short.finish(), /second pass read/);
  });
});
