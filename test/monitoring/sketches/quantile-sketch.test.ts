import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { QuantileSketch, rankErrorBound } from "../../../src/math/sketches/quantile-sketch.js";
import { createRandom } from "../../../src/sim/random.js";
import { BallastError } from "../../../src/domain/errors.js";

const K = 200;
const BOUND = rankErrorBound(K);

/** 0..n-1 in an order drawn from the seed (Fisher–Yates). */
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

function sketchOf(values: ArrayLike<number>, seed = 1, from = 0, to = values.length): QuantileSketch {
  const sketch = new QuantileSketch({ k: K, seed });
  for (let i = from; i < to; i++) sketch.update(values[i] as number);
  return sketch;
}

/**
 * The largest |cdf_est(x) − cdf_true(x)| over all x, for a sketch of the values 0..n-1: the
 * estimate only changes at retained items, so checking at each item and just below it suffices.
 */
function worstRankError(sketch: QuantileSketch, n: number): number {
  let worst = 0;
  for (const v of sketch.sortedItems().values) {
    worst = Math.max(worst, Math.abs(sketch.cdf(v) - (v + 1) / n), Math.abs(sketch.cdf(v - 0.5) - v / n));
  }
  return worst;
}

describe("KLL quantile sketch accuracy", () => {
  test(`rank error stays within ${BOUND} over 20 seeds, n = 10^5, random order`, () => {
    const n = 100_000;
    for (let seed = 1; seed <= 20; seed++) {
      const sketch = sketchOf(permutation(n, seed * 7919), seed);
      assert.equal(sketch.count, n);
      assert.equal(sketch.isExact, false);
      const error = worstRankError(sketch, n);
      assert.ok(error <= BOUND, `seed ${seed}: rank error ${error} > ${BOUND}`);
    }
  });

  test("sorted and reversed input, n = 10^6, stay within the bound", () => {
    const n = 1_000_000;
    const ascending = new Float64Array(n).map((_, i) => i);
    const descending = new Float64Array(n).map((_, i) => n - 1 - i);
    for (const values of [ascending, descending]) {
      const sketch = sketchOf(values, 3);
      assert.ok(worstRankError(sketch, n) <= BOUND);
      assert.equal(sketch.min, 0);
      assert.equal(sketch.max, n - 1);
    }
  });

  test("quantile(q) returns a value whose true rank is within the bound of q", () => {
    const n = 100_000;
    const sketch = sketchOf(permutation(n, 11), 5);
    for (let i = 1; i < 100; i++) {
      const q = i / 100;
      const value = sketch.quantile(q);
      assert.ok(Math.abs((value + 1) / n - q) <= BOUND, `q = ${q}: got ${value}`);
    }
    assert.equal(sketch.quantile(0), 0);
    assert.equal(sketch.quantile(1), n - 1);
  });

  test("a sketch that never compacted answers exactly", () => {
    const values = [5, 1, 4, 1, 3, 9, 2, 6];
    const sketch = sketchOf(values);
    assert.equal(sketch.isExact, true);
    // Sorted: 1 1 2 3 4 5 6 9.
    assert.equal(sketch.cdf(1), 2 / 8);
    assert.equal(sketch.cdf(0.5), 0);
    assert.equal(sketch.cdf(4.5), 5 / 8);
    assert.equal(sketch.cdf(9), 1);
    assert.equal(sketch.quantile(0.5), 3);
    assert.equal(sketch.quantile(0.25), 1);
    assert.equal(sketch.quantile(0.26), 2);
    assert.deepEqual(sketch.quantiles([0, 1]), [1, 9]);
  });

  test("memory is bounded by k, not n", () => {
    // Uniform values, so both serialise numbers of the same length.
    const random = createRandom(8);
    const uniform = (n: number) => Float64Array.from({ length: n }, () => random.uniform());
    const small = sketchOf(uniform(10_000));
    const large = sketchOf(uniform(1_000_000));
    // About 3k items plus 8 per level (log2(10^6 / 200) + 1 ≈ 13 levels).
    assert.ok(large.retainedItems <= 3 * K + 8 * 14, `retained ${large.retainedItems}`);
    const ratio = JSON.stringify(large).length / JSON.stringify(small).length;
    assert.ok(ratio < 1.5, `JSON grew ${ratio}× from 10^4 to 10^6 values`);
  });
});

describe("KLL merge", () => {
  test("associative and commutative in distribution: same count, min, max; cdf within the bound", () => {
    const n = 300_000;
    const random = createRandom(99);
    for (let trial = 0; trial < 5; trial++) {
      const values = permutation(n, 1000 + trial);
      const cut1 = random.int(1, n - 2);
      const cut2 = random.int(cut1 + 1, n - 1);
      const part = (from: number, to: number, seed: number) => sketchOf(values, seed, from, to);
      const left = part(0, cut1, 1)
        .merge(part(cut1, cut2, 2))
        .merge(part(cut2, n, 3));
      const right = part(0, cut1, 1).merge(part(cut1, cut2, 2).merge(part(cut2, n, 3)));
      const reversed = part(cut2, n, 3)
        .merge(part(cut1, cut2, 2))
        .merge(part(0, cut1, 1));
      for (const sketch of [left, right, reversed]) {
        assert.equal(sketch.count, n);
        assert.equal(sketch.min, 0);
        assert.equal(sketch.max, n - 1);
        const error = worstRankError(sketch, n);
        assert.ok(error <= BOUND, `trial ${trial}: merged rank error ${error}`);
      }
    }
  });

  test("many small sketches merged into one stay within the bound", () => {
    const n = 200_000;
    const values = permutation(n, 5);
    const total = new QuantileSketch({ k: K, seed: 0 });
    for (let from = 0; from < n; from += 1000) total.merge(sketchOf(values, from, from, from + 1000));
    assert.equal(total.count, n);
    assert.ok(worstRankError(total, n) <= BOUND);
    assert.ok(total.retainedItems <= 3 * K + 8 * 14);
  });

  test("merge(a, b) of serialized sketches answers like one sketch fed a ∪ b, within the bound", () => {
    // Two replicas' latencies from different distributions, each sketch written as JSON and
    // read back (as the traffic ledger does) before the merge.
    const random = createRandom(17);
    const a = Array.from({ length: 70_000 }, () => Math.round(random.logNormal(3, 0.5) * 1000) / 1000);
    const b = Array.from({ length: 40_000 }, () => Math.round(random.logNormal(4, 0.7) * 1000) / 1000);
    const roundTrip = (sketch: QuantileSketch) => QuantileSketch.fromJSON(JSON.parse(JSON.stringify(sketch)));
    const merged = roundTrip(sketchOf(a, 1)).merge(roundTrip(sketchOf(b, 2)));
    const single = sketchOf([...a, ...b], 3);
    const all = Float64Array.from([...a, ...b]).sort();
    const n = all.length;
    assert.equal(merged.count, n);
    assert.equal(merged.min, all[0]);
    assert.equal(merged.max, all[n - 1]);
    /** The true ranks (fractions of a ∪ b below and at or below) of x. */
    const ranks = (x: number): [number, number] => {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((all[mid] as number) < x) lo = mid + 1;
        else hi = mid;
      }
      let at = lo;
      while (at < n && all[at] === x) at++;
      return [lo / n, at / n];
    };
    for (let i = 1; i < 100; i++) {
      const q = i / 100;
      const m = merged.quantile(q);
      const s = single.quantile(q);
      // Each answer's true rank is within the bound of q, so of the other's.
      for (const [name, value] of [
        ["merged", m],
        ["single", s],
      ] as const) {
        const [below, atOrBelow] = ranks(value);
        assert.ok(
          below - BOUND <= q && q <= atOrBelow + BOUND,
          `${name} q=${q}: ${value} has true rank ${below}..${atOrBelow}`,
        );
      }
      const [mBelow, mAt] = ranks(m);
      const [sBelow, sAt] = ranks(s);
      assert.ok(mBelow - sAt <= 2 * BOUND && sBelow - mAt <= 2 * BOUND, `q=${q}: merged ${m}, single ${s}`);
    }
  });

  test("merging into itself doubles every weight", () => {
    const sketch = sketchOf([1, 2, 3, 4]);
    sketch.merge(sketch);
    assert.equal(sketch.count, 8);
    assert.equal(sketch.cdf(2), 0.5);
  });

  test("sketches with different k do not merge", () => {
    assert.throws(
      () => new QuantileSketch({ k: 100 }).merge(new QuantileSketch({ k: 200 })),
      /different k \(100 and 200\)/,
    );
  });
});

describe("KLL determinism and serialization", () => {
  test("the same seed gives the same sketch; another seed a different one", () => {
    const values = permutation(50_000, 4);
    assert.deepEqual(sketchOf(values, 7).toJSON(), sketchOf(values, 7).toJSON());
    assert.notDeepEqual(sketchOf(values, 7).toJSON().levels, sketchOf(values, 8).toJSON().levels);
  });

  test("round trip keeps every answer, and the restored sketch continues like the original", () => {
    const values = permutation(60_000, 6);
    const original = sketchOf(values, 2, 0, 30_000);
    const restored = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(original)));
    assert.deepEqual(restored.toJSON(), original.toJSON());
    for (const x of [-1, 100, 15_000, 29_999, 59_999]) assert.equal(restored.cdf(x), original.cdf(x));
    for (let i = 30_000; i < 60_000; i++) {
      original.update(values[i] as number);
      restored.update(values[i] as number);
    }
    assert.deepEqual(restored.toJSON(), original.toJSON());
  });

  test("an empty sketch round-trips and refuses questions", () => {
    const empty = QuantileSketch.fromJSON(new QuantileSketch().toJSON());
    assert.equal(empty.count, 0);
    assert.throws(() => empty.quantile(0.5), /empty quantile sketch/);
    assert.throws(() => empty.cdf(0), /empty quantile sketch/);
    assert.throws(() => empty.min, /empty/);
  });

  test("bad JSON is refused with the field named", () => {
    const good = sketchOf([1, 2, 3]).toJSON();
    const cases: [unknown, RegExp][] = [
      [null, /sketch must be an object/],
      [{ ...good, k: 3 }, /sketch\.k must be an integer/],
      [{ ...good, n: 4 }, /sketch\.n must equal the levels' total weight \(3\)/],
      [{ ...good, levels: [[1, "x"]] }, /sketch\.levels\[0\] must be an array of finite numbers/],
      [{ ...good, levels: [[], [3, 1]], n: 4 }, /sketch\.levels\[1\] must be sorted/],
      [{ ...good, min: 2 }, /sketch\.min must be a finite number no larger than any item/],
      [{ ...good, coin: -1 }, /sketch\.coin/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => QuantileSketch.fromJSON(json),
        (e: unknown) => e instanceof BallastError && message.test(e.message),
      );
    }
  });
});

describe("KLL bad input", () => {
  test("NaN and infinities are refused", () => {
    const sketch = new QuantileSketch();
    for (const x of [NaN, Infinity, -Infinity]) assert.throws(() => sketch.update(x), /finite numbers/);
    assert.equal(sketch.count, 0);
  });

  test("k out of range and q out of range are refused", () => {
    assert.throws(() => new QuantileSketch({ k: 4 }), /k must be an integer from 8/);
    assert.throws(() => sketchOf([1]).quantile(1.5), /q must be in \[0, 1\]/);
  });
});
