/**
 * Gates against MLflow's documented MetricThreshold semantics; the cases are those of MLflow's
 * own validation tests (tests/models/test_evaluation.py: relative, absolute and combined
 * thresholds, the equality boundary, a zero baseline), values computed by hand.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evaluateGates, parseGates } from "../../src/pipelines/gates.js";

const checks = (failures: ReturnType<typeof evaluateGates>) => failures.map((f) => `${f.metric}:${f.check}`);

describe("gates (MLflow MetricThreshold)", () => {
  const acc = parseGates([{ metric: "accuracy", minRelativeChange: 0.1, greaterIsBetter: true }], "g");
  const logloss = parseGates([{ metric: "logloss", minRelativeChange: 0.15, greaterIsBetter: false }], "g");

  test("relative change, higher is better: 0.75 vs 0.7 needs 0.77 and fails; 0.77 passes at the boundary", () => {
    assert.deepEqual(checks(evaluateGates(acc, { accuracy: 0.75 }, { accuracy: 0.7 })), [
      "accuracy:minRelativeChange",
    ]);
    assert.deepEqual(evaluateGates(acc, { accuracy: 0.77 }, { accuracy: 0.7 }), []);
    assert.deepEqual(evaluateGates(acc, { accuracy: 0.99 }, { accuracy: 0.9 }), []);
  });

  test("relative change, lower is better: 0.3 × 0.85 − 1e-10 passes, 0.27 + 1e-5 vs 0.3 fails", () => {
    assert.deepEqual(evaluateGates(logloss, { logloss: 0.3 * 0.85 - 1e-10 }, { logloss: 0.3 }), []);
    assert.deepEqual(checks(evaluateGates(logloss, { logloss: 0.27 + 1e-5 }, { logloss: 0.3 })), [
      "logloss:minRelativeChange",
    ]);
    assert.deepEqual(evaluateGates(logloss, { logloss: 0.3 }, { logloss: 0.4 }), []);
  });

  test("a zero baseline must be strictly beaten", () => {
    const g = parseGates([{ metric: "m", minRelativeChange: 0.1, greaterIsBetter: true }], "g");
    assert.deepEqual(evaluateGates(g, { m: 1e-10 }, { m: 0 }), []);
    assert.deepEqual(checks(evaluateGates(g, { m: 0 }, { m: 0 })), ["m:minRelativeChange"]);
  });

  test("relative change is taken against |baseline|: a log-likelihood of −100 must reach −90 for 10%", () => {
    const g = parseGates([{ metric: "loglik", minRelativeChange: 0.1, greaterIsBetter: true }], "g");
    // MLflow's baseline × (1 + 0.1) would ask for −110, i.e. accept a worse model.
    assert.deepEqual(checks(evaluateGates(g, { loglik: -105 }, { loglik: -100 })), [
      "loglik:minRelativeChange",
    ]);
    assert.equal(evaluateGates(g, { loglik: -105 }, { loglik: -100 })[0]?.required, -90);
    assert.deepEqual(evaluateGates(g, { loglik: -90 }, { loglik: -100 }), []);
  });

  test("every failing check of every gate is listed at once (MLflow's all-thresholds-failed case)", () => {
    const g = parseGates(
      [
        {
          metric: "accuracy",
          threshold: 0.8,
          minAbsoluteChange: 0.1,
          minRelativeChange: 0.1,
          greaterIsBetter: true,
        },
        { metric: "logloss", threshold: 0.2 },
      ],
      "g",
    );
    const failures = evaluateGates(g, { accuracy: 0.75, logloss: 0.25 }, { accuracy: 0.7, logloss: 0.3 });
    assert.deepEqual(checks(failures), [
      "accuracy:threshold",
      "accuracy:minAbsoluteChange",
      "accuracy:minRelativeChange",
      "logloss:threshold",
    ]);
    assert.match(failures[0]?.message ?? "", /accuracy 0\.75 is below the threshold 0\.8/);
    assert.equal(failures[1]?.required, 0.7999999999999999 /* 0.7 + 0.1 in floats */);
  });

  test("absolute change boundary passes; a change gate without a champion fails as missing baseline", () => {
    const g = parseGates([{ metric: "auc", minAbsoluteChange: 0.05 }], "g");
    assert.deepEqual(evaluateGates(g, { auc: 0.85 }, { auc: 0.8 }), []);
    assert.deepEqual(checks(evaluateGates(g, { auc: 0.849 }, { auc: 0.8 })), ["auc:minAbsoluteChange"]);
    assert.deepEqual(checks(evaluateGates(g, { auc: 0.9 }, null)), ["auc:missingBaseline"]);
    // A threshold alone needs no champion.
    assert.deepEqual(
      evaluateGates(parseGates([{ metric: "auc", threshold: 0.8 }], "g"), { auc: 0.9 }, null),
      [],
    );
  });

  test("parse names the field: unknown direction, no check, bad numbers", () => {
    assert.throws(
      () => parseGates([{ metric: "custom", threshold: 1 }], "steps[3].validate.gates"),
      /steps\[3\]\.validate\.gates\[0\]\.greaterIsBetter/,
    );
    assert.throws(() => parseGates([{ metric: "auc" }], "g"), /g\[0\]: a gate needs at least one of/);
    assert.throws(
      () => parseGates([{ metric: "auc", minRelativeChange: -1 }], "g"),
      /g\[0\]\.minRelativeChange/,
    );
  });
});
