import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  parseBuiltinModel,
  serializeBuiltinModel,
  trainLinearRegression,
  trainLogisticRegression,
} from "../../src/runtimes/builtin/index.js";
import { linearScores } from "../../src/runtimes/builtin/score.js";

interface ReferenceCase {
  name: string;
  kind: "logistic_regression" | "linear_regression";
  data: "logistic" | "linear";
  l2: number;
  standardize: boolean;
  intercept: number;
  weights: number[];
  scaling?: { mean: number[]; std: number[] };
  firstRows: { probability?: number[]; prediction?: number[] };
}

const fixtures = (file: string): string =>
  fileURLToPath(new URL(`../fixtures/builtin/${file}`, import.meta.url));
const reference = JSON.parse(readFileSync(fixtures("reference.json"), "utf8")) as { cases: ReferenceCase[] };
const training = JSON.parse(readFileSync(fixtures("training-data.json"), "utf8")) as {
  features: string[];
  logistic: { x: number[][]; y: number[] };
  linear: { x: number[][]; y: number[] };
};
const features = training.features;

function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  tolerance: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => {
    const a = actual[i] as number;
    assert.ok(Math.abs(a - e) <= tolerance, `${what}[${i}]: ${a} vs reference ${e}`);
  });
}

describe("trainers match the numpy / scipy reference", () => {
  for (const c of reference.cases) {
    test(`${c.name}: weights and intercept within 1e-6`, () => {
      const train = c.kind === "logistic_regression" ? trainLogisticRegression : trainLinearRegression;
      const { x, y } = training[c.data];
      const model = train(x, y, { features, l2: c.l2, standardize: c.standardize });
      assert.equal(model.kind, c.kind);
      assert.deepEqual(model.features, features);
      assertClose(model.weights, c.weights, 1e-6, "weights");
      assertClose([model.intercept], [c.intercept], 1e-6, "intercept");
      if (c.scaling) {
        assertClose(model.scaling?.mean ?? [], c.scaling.mean, 1e-9, "scaling.mean");
        assertClose(model.scaling?.std ?? [], c.scaling.std, 1e-9, "scaling.std");
      } else {
        assert.equal(model.scaling, undefined);
      }
      // Same fit, same predictions (in float64, before the FP32 output rounding).
      const scores = Array.from(linearScores(model, x.slice(0, 12).flat(), 12));
      if (c.kind === "logistic_regression") {
        const probabilities = scores.map((s) => 1 / (1 + Math.exp(-s)));
        assertClose(probabilities, c.firstRows.probability ?? [], 1e-6, "probability");
      } else {
        assertClose(scores, c.firstRows.prediction ?? [], 1e-6, "prediction");
      }
      // What a trainer returns is a valid, serialisable model.
      assert.deepEqual(parseBuiltinModel(serializeBuiltinModel(model)), model);
    });
  }

  test("defaults: logistic l2 = 1, linear l2 = 0, no standardisation", () => {
    const logistic = trainLogisticRegression(training.logistic.x, training.logistic.y, { features });
    const expectedLogistic = reference.cases.find((c) => c.name === "logistic_l2_1");
    assertClose(logistic.weights, expectedLogistic?.weights ?? [], 1e-6, "logistic weights");
    assert.equal(logistic.training?.l2, 1);
    const linear = trainLinearRegression(training.linear.x, training.linear.y, { features });
    const expectedLinear = reference.cases.find((c) => c.name === "linear_ols");
    assertClose(linear.weights, expectedLinear?.weights ?? [], 1e-6, "linear weights");
    assert.equal(linear.training?.l2, 0);
  });
});

describe("trainers reject bad data, naming the row and column", () => {
  const x = [
    [1, 2],
    [2, 1],
    [3, 5],
    [4, 3],
  ];
  const y = [0, 1, 0, 1];
  const options = { features: ["a", "b"] };

  for (const train of [trainLogisticRegression, trainLinearRegression]) {
    test(`${train.name}: NaN, Infinity, empty and mismatched data`, () => {
      assert.throws(() => train([[1, 2], [3, NaN], ...x], [0, 1, ...y], options), {
        code: "invalid_argument",
        message: /x row 1, column 'b' \(index 1\) is NaN/,
      });
      assert.throws(() => train([[Infinity, 2], ...x], [1, ...y], options), {
        message: /x row 0, column 'a' \(index 0\) is Infinity/,
      });
      assert.throws(() => train([], [], options), { message: /no training rows/ });
      assert.throws(() => train(x, [0, 1], options), { message: /y has 2 labels but x has 4 rows/ });
      assert.throws(() => train([[1], ...x.slice(1)], y, options), {
        message: /x row 0 has 1 values but features has 2/,
      });
      assert.throws(() => train(x, [0, 1, NaN, 1], options), { message: /y row 2 is NaN/ });
      assert.throws(() => train(x, y, { ...options, l2: -1 }), {
        message: /l2 must be a finite number >= 0/,
      });
    });
  }

  test("logistic labels must be 0 or 1 and both must occur", () => {
    assert.throws(() => trainLogisticRegression(x, [0, 1, 2, 1], options), {
      message: /y row 2 is 2; logistic regression needs labels 0 or 1/,
    });
    assert.throws(() => trainLogisticRegression(x, [1, 1, 1, 1], options), { message: /every label is 1/ });
  });

  test("perfectly separable classes without l2 fail with advice; with l2 they fit", () => {
    const separable = [[-2], [-1], [1], [2]];
    assert.throws(() => trainLogisticRegression(separable, [0, 0, 1, 1], { features: ["a"], l2: 0 }), {
      code: "invalid_argument",
      message: /set l2 > 0/,
    });
    const model = trainLogisticRegression(separable, [0, 0, 1, 1], { features: ["a"], l2: 0.1 });
    assert.ok((model.weights[0] as number) > 0);
  });

  test("collinear features fail without l2 and fit as ridge with it", () => {
    const collinear = [
      [1, 2],
      [2, 4],
      [3, 6],
      [4, 8],
    ];
    assert.throws(() => trainLinearRegression(collinear, [1, 2, 3, 4], { features: ["a", "b"] }), {
      message: /features are collinear/,
    });
    const ridge = trainLinearRegression(collinear, [1, 2, 3, 4], { features: ["a", "b"], l2: 1 });
    // Ridge spreads the effect over the two copies in proportion to their scale: w_b = 2·w_a.
    assert.ok(Math.abs((ridge.weights[1] as number) - 2 * (ridge.weights[0] as number)) < 1e-9);
  });

  test("an exact linear relation is recovered exactly", () => {
    // y = 3 + 2a − b, checked by hand.
    const rows = [
      [0, 0],
      [1, 0],
      [0, 1],
      [2, 3],
      [5, -1],
    ];
    const model = trainLinearRegression(
      rows,
      rows.map(([a, b]) => 3 + 2 * (a as number) - (b as number)),
      { features: ["a", "b"] },
    );
    assertClose([model.intercept, ...model.weights], [3, 2, -1], 1e-12, "parameters");
  });
});
