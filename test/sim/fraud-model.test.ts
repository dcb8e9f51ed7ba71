import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parseBuiltinModel, type LinearBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { trainLogisticRegression } from "../../src/runtimes/builtin/train.js";
import { FRAUD_FEATURES, fraudFeatureVector, generateFraudWeek } from "../../src/sim/fraud.js";

// examples/fraud/generate.ts and train.ts defaults: seed 42, 20 000 rows, l2 1, standardized.
const SEED = 42;
const ROWS = 20_000;

test("the committed fraud model is what training on the seeded week 1 gives", async () => {
  const committed = <LinearBuiltinModel>(
    parseBuiltinModel(
      await readFile(new URL("../../examples/fraud/model/fraud-logreg.json", import.meta.url), "utf8"),
    )
  );
  const week1 = generateFraudWeek({ seed: SEED, week: 1, rows: ROWS });
  const trained = trainLogisticRegression(
    week1.map(fraudFeatureVector),
    week1.map((t) => t.is_fraud),
    { features: [...FRAUD_FEATURES], l2: 1, standardize: true },
  );
  // If this fails after a change to src/sim/fraud.ts, regenerate and retrain:
  //   npx tsx examples/fraud/generate.ts && npx tsx examples/fraud/train.ts
  assert.deepEqual(committed.features, [...FRAUD_FEATURES]);
  assert.equal(committed.kind, "logistic_regression");
  for (const [j, w] of trained.weights.entries()) {
    assert.ok(Math.abs(w - (committed.weights[j] ?? Number.NaN)) < 1e-9, `weight ${FRAUD_FEATURES[j]}`);
  }
  assert.ok(Math.abs(trained.intercept - committed.intercept) < 1e-9);
  assert.equal(committed.training?.rows, ROWS);
});
