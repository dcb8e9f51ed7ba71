import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BallastError } from "../../../src/domain/errors.js";
import {
  ClassificationAccumulator,
  LOG_LOSS_EPS,
} from "../../../src/monitoring/performance/classification.js";
import { createRandom } from "../../../src/sim/random.js";
import { close, reference } from "./reference.js";

function fill(scores: readonly number[], labels: readonly (0 | 1 | null)[]): ClassificationAccumulator {
  const acc = new ClassificationAccumulator();
  scores.forEach((s, i) => acc.add(s, labels[i] ?? null));
  return acc;
}

describe("ClassificationAccumulator against sklearn", () => {
  test("the fixtures record sklearn's float64-epsilon log-loss clipping", () => {
    assert.equal(reference.provenance.logLossEps, LOG_LOSS_EPS);
  });

  for (const c of reference.classification) {
    test(`case ${c.name}`, () => {
      const acc = fill(c.scores, c.labels);
      for (const row of c.byThreshold) {
        const m = acc.metrics(row.threshold);
        assert.equal(m.count, c.count);
        assert.equal(m.labelled, c.labelled);
        close(m.coverage, c.labelled / c.count, 0, `${c.name} coverage`);
        for (const key of ["accuracy", "precision", "recall", "f1"] as const) {
          const what = `${c.name} ${key} @${row.threshold}`;
          if (m[key] === null) {
            assert.ok(row.illDefined.includes(key), `${what}: null, but sklearn gives ${String(row[key])}`);
            assert.ok((m.reasons[key] ?? "").length > 0, `${what}: null without a reason`);
          } else {
            close(m[key], row[key], 1e-12, what);
          }
          // Where sklearn merely warns and answers 0, Ballast answers null (except F1 = 0 is defined).
          if (row.illDefined.includes(key) && key !== "f1")
            assert.equal(m[key], null, `${what} should be null`);
        }
        if (c.name === "off-grid") {
          // No positive shares a bucket with a negative here, so the bound is 0 even off the grid.
          assert.ok(m.rocAucErrorBound !== null && m.rocAucErrorBound >= 0);
          close(m.rocAuc, c.rocAuc, m.rocAucErrorBound ?? 0, `${c.name} rocAuc within its bound`);
        } else {
          close(m.rocAuc, c.rocAuc, 1e-12, `${c.name} rocAuc`);
          if (c.rocAuc !== null) assert.equal(m.rocAucErrorBound, 0);
          else assert.ok((m.reasons.rocAuc ?? "").length > 0);
        }
        close(m.logLoss, c.logLoss, 1e-9, `${c.name} logLoss`);
      }
    });
  }
});

describe("merging", () => {
  test("merging random splits equals one accumulator over everything, in any grouping", () => {
    const c = reference.classification.find((x) => x.name === "partial-labels");
    assert.ok(c);
    const whole = fill(c.scores, c.labels).metrics(0.3);
    const rng = createRandom(11);
    for (let trial = 0; trial < 20; trial++) {
      const parts = [0, 1, 2, 3].map(() => new ClassificationAccumulator());
      c.scores.forEach((s, i) => parts[rng.int(0, 3)]?.add(s, c.labels[i] ?? null));
      const [a, b, d, e] = parts as [
        ClassificationAccumulator,
        ...ClassificationAccumulator[],
      ] as ClassificationAccumulator[] &
        [
          ClassificationAccumulator,
          ClassificationAccumulator,
          ClassificationAccumulator,
          ClassificationAccumulator,
        ];
      const left = a.merge(b).merge(d).merge(e).metrics(0.3);
      const right = a.merge(b.merge(d.merge(e))).metrics(0.3);
      for (const m of [left, right]) {
        assert.equal(m.count, whole.count);
        assert.equal(m.labelled, whole.labelled);
        assert.equal(m.accuracy, whole.accuracy);
        assert.equal(m.f1, whole.f1);
        assert.equal(m.rocAuc, whole.rocAuc);
        close(m.logLoss, whole.logLoss, 1e-12, "logLoss after merge");
      }
    }
  });

  test("merge leaves its inputs unchanged, and a JSON round trip keeps every metric", () => {
    const a = fill([0.2, 0.8], [0, 1]);
    const b = fill([0.6], [0]);
    const merged = a.merge(b);
    assert.equal(a.metrics().count, 2);
    assert.equal(b.metrics().count, 1);
    assert.equal(merged.metrics().count, 3);
    const back = ClassificationAccumulator.fromJSON(JSON.parse(JSON.stringify(merged.toJSON())));
    assert.deepEqual(back.metrics(), merged.metrics());
    assert.throws(
      () =>
        ClassificationAccumulator.fromJSON({
          kind: "classification",
          buckets: [[10001, 1, 0, 0]],
          logLossSum: 0,
          offGrid: 0,
        }),
      /bucket index 10001/,
    );
  });
});

describe("late labels", () => {
  test("labelling earlier rows raises coverage and ends where labelling up front would", () => {
    const c = reference.classification.find((x) => x.name === "random-200");
    assert.ok(c);
    const late = fill(
      c.scores,
      c.scores.map(() => null),
    );
    const before = late.metrics();
    assert.equal(before.coverage, 0);
    assert.equal(before.accuracy, null);
    assert.equal(before.logLoss, null);
    assert.match(before.reasons.rocAuc ?? "", /no labelled rows/);
    c.scores.slice(0, 100).forEach((s, i) => late.label(s, c.labels[i] as 0 | 1));
    assert.equal(late.metrics().coverage, 0.5);
    const half = fill(c.scores.slice(0, 100), c.labels.slice(0, 100)).metrics();
    assert.equal(late.metrics().accuracy, half.accuracy);
    assert.equal(late.metrics().rocAuc, half.rocAuc);
    c.scores.slice(100).forEach((s, i) => late.label(s, c.labels[100 + i] as 0 | 1));
    const after = late.metrics();
    assert.equal(after.coverage, 1);
    close(after.rocAuc, c.rocAuc, 1e-12, "rocAuc after late labels");
    close(after.logLoss, c.logLoss, 1e-9, "logLoss after late labels");
  });

  test("a label for a row that is not waiting is a conflict; a replaced label moves the row", () => {
    const acc = fill([0.9, 0.1], [null, 0]);
    assert.throws(
      () => acc.label(0.4, 1),
      (e: unknown) => e instanceof BallastError && e.code === "conflict",
    );
    acc.label(0.9, 0);
    assert.throws(() => acc.label(0.9, 1), /no unlabelled prediction with score 0.9/);
    assert.equal(acc.metrics().rocAuc, null);
    acc.relabel(0.9, 0, 1);
    const m = acc.metrics();
    assert.equal(m.rocAuc, 1);
    close(m.logLoss, (-Math.log(0.9) - Math.log(0.9)) / 2, 1e-12, "logLoss after relabel");
    assert.throws(() => acc.relabel(0.9, 0, 1), /labelled 0/);
  });
});

describe("bounds and bad input", () => {
  test("off-grid AUC stays within the reported bound on many random windows", () => {
    const rng = createRandom(5);
    for (let trial = 0; trial < 30; trial++) {
      const n = rng.int(2, 400);
      // Few distinct neighbourhoods, so many pairs share a bucket and the bound is tested hard.
      const scores = Array.from({ length: n }, () => rng.int(0, 20) / 20 + rng.uniform() * 1e-4 * 0.999);
      const labels = scores.map((s) => rng.bernoulli(Math.min(1, s)));
      const acc = fill(
        scores.map((s) => Math.min(1, s)),
        labels,
      );
      const m = acc.metrics();
      const exact = bruteForceAuc(
        scores.map((s) => Math.min(1, s)),
        labels,
      );
      if (exact === null) {
        assert.equal(m.rocAuc, null);
        continue;
      }
      assert.ok(m.rocAuc !== null && m.rocAucErrorBound !== null);
      assert.ok(
        Math.abs(m.rocAuc - exact) <= m.rocAucErrorBound + 1e-12,
        `trial ${trial}: ${m.rocAuc} vs ${exact}`,
      );
    }
  });

  test("bad scores, labels and thresholds are rejected naming the value", () => {
    const acc = new ClassificationAccumulator();
    assert.throws(() => acc.add(Number.NaN, 1), /score must be a probability in \[0, 1\]; got NaN/);
    assert.throws(() => acc.add(1.5, 0), /got 1\.5/);
    assert.throws(() => acc.add(-0.1, 0), /got -0\.1/);
    assert.throws(() => acc.add(0.5, 2 as 0), /label must be 0 or 1 \(or null while not yet known\); got 2/);
    assert.throws(() => acc.add(0.5, "1" as unknown as 1), /got "1"/);
    assert.throws(() => acc.label(0.5, null as unknown as 1), /label must be 0 or 1; got null/);
    assert.throws(() => acc.metrics(0.12345), /threshold must be a multiple of 1\/10000.*0\.12345/);
    assert.throws(
      () => acc.metrics(2),
      (e: unknown) => e instanceof BallastError && e.code === "invalid_argument",
    );
    assert.equal(acc.metrics().count, 0, "rejected rows must not be counted");
    assert.equal(acc.metrics().coverage, null);
  });

  test("bucket thresholds are exact where score * 10^4 rounds down across an integer", () => {
    const acc = fill([0.0003, 0.0002], [1, 0]);
    const m = acc.metrics(0.0003);
    assert.equal(m.precision, 1);
    assert.equal(m.recall, 1);
  });
});

function bruteForceAuc(scores: readonly number[], labels: readonly (0 | 1)[]): number | null {
  let wins = 0;
  let pairs = 0;
  scores.forEach((s, i) => {
    if (labels[i] !== 1) return;
    scores.forEach((t, j) => {
      if (labels[j] !== 0) return;
      pairs += 1;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return pairs === 0 ? null : wins / pairs;
}
