// Wasserstein (normed) against scipy.stats.wasserstein_distance / np.std.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  normedWasserstein,
  wassersteinDistance,
  wassersteinFromQuantiles,
  wassersteinTest,
} from "../../../src/math/stats/wasserstein.js";
import { assertClose, reference } from "./reference.js";

describe("wasserstein against scipy", () => {
  for (const c of reference.wasserstein) {
    test(c.name, () => {
      assertClose(wassersteinDistance(c.reference, c.current), c.distance, "distance");
      const normed = normedWasserstein(c.reference, c.current);
      if (c.normed === null) {
        assert.equal(c.reference_std, 0);
        assert.equal(normed.scale, Math.max(Math.abs(c.reference[0] as number), 1));
      } else {
        assertClose(normed.scale, c.reference_std, "population std");
        assertClose(normed.normed, c.normed, "normed distance");
      }
    });
  }

  test("from quantile functions: exact for equal sizes with steps = n", () => {
    const c = reference.wasserstein.find((w) => w.name === "normal 50 vs 50 shifted");
    assert.ok(c);
    const quantile = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
    };
    assertClose(wassersteinFromQuantiles(quantile(c.reference), quantile(c.current), 50), c.distance, "W1");
    assertClose(wassersteinFromQuantiles(quantile(c.reference), quantile(c.current), 500), c.distance, "W1");
    assert.throws(
      () => wassersteinFromQuantiles(quantile(c.reference), quantile(c.current), 0),
      /steps must be a positive integer/,
    );
  });
});

describe("wasserstein behaviour", () => {
  const base = Array.from({ length: 400 }, (_, i) => Math.cos(i * 7.3) * 3 + i / 100);

  test("the same sample does not drift; one shifted by half a std does", () => {
    assert.equal(wassersteinTest.run({ reference: base, current: [...base].reverse() }).score, 0);
    const { std } = { std: normedWasserstein(base, base).scale };
    const shifted = wassersteinTest.run({ reference: base, current: base.map((x) => x + std / 2) });
    assertClose(shifted.score, 0.5, "a shift by std/2 is 0.5 std away");
    assert.equal(shifted.drifted, true);
  });

  test("constant reference: divided by max(|mean|, 1), never Infinity or NaN", () => {
    assert.equal(normedWasserstein([5, 5, 5], [5, 5]).normed, 0);
    assertClose(normedWasserstein([5, 5, 5], [6, 6]).normed, 1 / 5, "relative shift");
    assertClose(normedWasserstein([0, 0], [0.5]).normed, 0.5, "scale 1 near zero");
  });

  test("single values and bad samples", () => {
    assertClose(wassersteinDistance([1], [4]), 3, "one against one");
    assert.throws(() => wassersteinTest.run({ reference: [], current: [1] }), /reference sample is empty/);
    assert.throws(
      () => wassersteinTest.run({ reference: [1], current: [-Infinity] }),
      /non-finite value \(-Infinity\)/,
    );
  });
});
