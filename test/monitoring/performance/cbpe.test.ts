import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BallastError } from "../../../src/domain/errors.js";
import { CbpeAccumulator } from "../../../src/monitoring/performance/cbpe.js";
import { ClassificationAccumulator } from "../../../src/monitoring/performance/classification.js";
import {
  calibrate,
  fitIsotonicCalibration,
  type IsotonicCalibration,
} from "../../../src/monitoring/performance/isotonic.js";
import { createRandom, deriveSeed, type Random } from "../../../src/sim/random.js";
import { close, reference } from "./reference.js";

const c = reference.cbpe;
const fitted = fitIsotonicCalibration(c.referenceScores, c.referenceLabels);

function window(cal: IsotonicCalibration, scores: readonly number[]): CbpeAccumulator {
  const acc = new CbpeAccumulator(cal);
  for (const s of scores) acc.add(s);
  return acc;
}

describe("CBPE against the numpy/sklearn reference", () => {
  test("calibrated probabilities match sklearn's IsotonicRegression to 1e-9", () => {
    c.windowScores.forEach((s, i) => close(calibrate(fitted, s), c.calibrated[i] ?? null, 1e-9, `p(${s})`));
  });

  for (const row of c.byThreshold) {
    test(`expected confusion matrix and metrics at threshold ${row.threshold}`, () => {
      const e = window(fitted, c.windowScores).estimate(row.threshold);
      assert.equal(e.count, c.windowScores.length);
      for (const key of ["tp", "fp", "fn", "tn"] as const) close(e[key], row[key], 1e-9, key);
      for (const key of ["accuracy", "precision", "recall", "f1"] as const)
        close(e[key], row[key], 1e-9, key);
    });
  }

  test("expected ROC AUC equals sklearn's weighted roc_auc_score (rows as p-positives and (1-p)-negatives)", () => {
    const e = window(fitted, c.windowScores).estimate();
    close(e.rocAuc, c.rocAuc, 1e-9, "rocAuc");
    assert.equal(e.rocAucErrorBound, 0);
  });

  test("merge of random splits equals one window; a different calibrator refuses to merge", () => {
    const whole = window(fitted, c.windowScores).estimate();
    const rng = createRandom(21);
    const parts = [
      new CbpeAccumulator(fitted),
      new CbpeAccumulator(fitted),
      new CbpeAccumulator(fitted),
    ] as const;
    c.windowScores.forEach((s) => parts[rng.int(0, 2)]?.add(s));
    for (const merged of [
      parts[0].merge(parts[1]).merge(parts[2]),
      parts[0].merge(parts[1].merge(parts[2])),
    ]) {
      const e = merged.estimate();
      assert.equal(e.count, whole.count);
      for (const key of ["accuracy", "precision", "recall", "f1", "rocAuc"] as const)
        close(e[key], whole[key], 1e-12, key);
    }
    const other = new CbpeAccumulator(fitIsotonicCalibration([0.1, 0.9], [0, 1]));
    assert.throws(
      () => parts[0].merge(other),
      (e: unknown) => e instanceof BallastError && e.code === "conflict",
    );
    const back = CbpeAccumulator.fromJSON(JSON.parse(JSON.stringify(parts[0].toJSON())), fitted);
    assert.deepEqual(back.estimate(), parts[0].estimate());
  });

  test("arriving labels turn the estimate into the realised metrics", () => {
    const rng = createRandom(4);
    const labels = c.windowScores.map((s) => rng.bernoulli(calibrate(fitted, s)));
    const cbpe = window(fitted, c.windowScores);
    const realised = new ClassificationAccumulator();
    c.windowScores.forEach((s, i) => {
      realised.add(s, labels[i] ?? 0);
      cbpe.label(s, labels[i] ?? 0);
    });
    const e = cbpe.estimate();
    const m = realised.metrics();
    assert.equal(e.labelled, c.windowScores.length);
    for (const key of ["accuracy", "precision", "recall", "f1", "rocAuc"] as const)
      close(e[key], m[key], 1e-9, key);
    assert.throws(() => cbpe.label(c.windowScores[0] ?? 0, 1), /no unlabelled prediction/);
  });

  test("empty and one-class windows give null with reasons; bad input is rejected", () => {
    const empty = new CbpeAccumulator(fitted).estimate();
    assert.equal(empty.accuracy, null);
    assert.equal(empty.rocAuc, null);
    assert.ok((empty.reasons.rocAuc ?? "").length > 0);
    const allNegative = window(fitIsotonicCalibration([0.2, 0.7], [0, 0]), [0.1, 0.5, 0.9]).estimate();
    assert.equal(allNegative.recall, null);
    assert.match(allNegative.reasons.rocAuc ?? "", /expected no positive labels/);
    assert.throws(() => new CbpeAccumulator(fitted).add(Number.NaN), /got NaN/);
    assert.throws(() => new CbpeAccumulator(fitted).add(0.5, 5 as 1), /got 5/);
  });
});

/**
 * A simulated well-calibrated world: raw scores s overstate the risk (truth q = s²), the
 * calibrator learns q on a labelled reference of 20,000 rows, and windows of 2,000 rows come
 * from a shifted score distribution with labels drawn from the same q. Tolerances: per seed,
 * the estimated accuracy is within 4 standard errors of the realised one, SE = sqrt(Σ q(1−q))/n
 * (the spread of the realised accuracy given the scores); over 40 seeds, the mean difference of
 * every metric is within 3 standard errors of that mean (empirical sd / sqrt(40)) plus 0.005
 * for the calibrator's own error on a finite reference. A negative control (raw scores taken as
 * probabilities) must fail the same check.
 */
describe("CBPE on a simulated calibrated world", () => {
  const seeds = 40;
  const n = 2000;
  const grid = (x: number): number => Math.round(x * 10_000) / 10_000;
  const truth = (s: number): number => s * s;
  const referenceRng = createRandom(77);
  const refScores = Array.from({ length: 20_000 }, () => grid(referenceRng.uniform()));
  const cal = fitIsotonicCalibration(
    refScores,
    refScores.map((s) => referenceRng.bernoulli(truth(s))),
  );
  const identity: IsotonicCalibration = { kind: "isotonic", x: [0, 1], y: [0, 1], rows: 1 };
  const metrics = ["accuracy", "precision", "recall", "f1", "rocAuc"] as const;

  function run(
    calibration: IsotonicCalibration,
    checkAccuracy: boolean,
  ): Record<(typeof metrics)[number], number[]> {
    const diffs = { accuracy: [], precision: [], recall: [], f1: [], rocAuc: [] } as Record<
      (typeof metrics)[number],
      number[]
    >;
    for (let seed = 0; seed < seeds; seed++) {
      const rng: Random = createRandom(deriveSeed(1234, seed));
      // Shifted towards high scores: u^0.6.
      const scores = Array.from({ length: n }, () => grid(Math.pow(rng.uniform(), 0.6)));
      const cbpe = window(calibration, scores);
      const realised = new ClassificationAccumulator();
      let variance = 0;
      for (const s of scores) {
        realised.add(s, rng.bernoulli(truth(s)));
        variance += truth(s) * (1 - truth(s));
      }
      const e = cbpe.estimate();
      const m = realised.metrics();
      for (const key of metrics) diffs[key].push((e[key] as number) - (m[key] as number));
      if (checkAccuracy) {
        const se = Math.sqrt(variance) / n;
        const d = Math.abs((e.accuracy as number) - (m.accuracy as number));
        assert.ok(d <= 4 * se, `seed ${seed}: accuracy estimate off by ${d}, more than 4 SE (${4 * se})`);
      }
    }
    return diffs;
  }

  function unbiased(d: readonly number[]): { mean: number; allowed: number } {
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (d.length - 1));
    return { mean, allowed: (3 * sd) / Math.sqrt(d.length) + 0.005 };
  }

  test("estimates match the realised metrics within the stated tolerance", () => {
    const diffs = run(cal, true);
    for (const key of metrics) {
      const { mean, allowed } = unbiased(diffs[key]);
      assert.ok(Math.abs(mean) <= allowed, `${key}: mean estimate − realised = ${mean}, allowed ${allowed}`);
    }
  });

  test("negative control: without calibration the same check fails", () => {
    const diffs = run(identity, false);
    const failing = metrics.filter((key) => {
      const { mean, allowed } = unbiased(diffs[key]);
      return Math.abs(mean) > allowed;
    });
    assert.ok(
      failing.includes("accuracy") && failing.includes("precision"),
      `only ${failing.join(", ")} failed`,
    );
  });
});
