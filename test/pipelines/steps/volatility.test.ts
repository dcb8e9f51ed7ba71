/**
 * The volatility pieces of the steps, run directly: the builtin train kinds for the
 * specialists (the file `ballast fit --save` writes; refusals with their reasons), the split by
 * order, and the validation metrics on hand-computed numbers.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fitGarch } from "../../../src/markets/garch.js";
import { DatasetWriter } from "../../../src/pipelines/datasets.js";
import { splitStep } from "../../../src/pipelines/steps/split.js";
import { trainStep } from "../../../src/pipelines/steps/train.js";
import { volatilityMetrics } from "../../../src/pipelines/volatility-validation.js";
import { series } from "../../markets/data.js";
import { asInput, contextFor, rowsOf, type Input } from "./context.js";

async function dataset(values: readonly (number | null)[]): Promise<Input> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-returns-"));
  const writer = new DatasetWriter(join(dir, "data.jsonl"));
  await writer.write(values.map((ret, i) => ({ i, ret })));
  const meta = await writer.close();
  return asInput({ file: join(dir, "data.jsonl"), kind: "dataset", meta: { rows: meta.rows } });
}

async function train(values: readonly (number | null)[], builtin: object) {
  const { ctx } = await contextFor(
    trainStep,
    { input: "split.train", builtin },
    { inputs: { "split.train": await dataset(values) } },
  );
  return trainStep.run(ctx);
}

const dem = series("dem2gbp.csv", "ret");

describe("volatility specialists in pipeline steps", () => {
  test("train garch writes the builtin model of garch.ts's fit, and says what it is for validation", async () => {
    const result = await train(dem, { kind: "garch", column: "ret", window: 100, horizon: 2 });
    const model = result.outputs.model!;
    assert.deepEqual(
      { ...model.meta },
      {
        flavor: "builtin",
        trainer: "garch",
        task: "volatility",
        column: "ret",
        scale: 1,
        window: 100,
        horizon: 2,
        rows: dem.length,
      },
    );
    const saved = JSON.parse(await readFile(model.file, "utf8"));
    assert.equal(saved.kind, "garch");
    assert.equal(saved.window, 100);
    assert.equal(saved.horizon, 2);
    assert.deepEqual(saved.garch.params, fitGarch(dem, { standardErrors: false }).model.params);
    // The benchmark's log-likelihood (Fiorentini, Calzolari & Panattoni) on DEM/GBP.
    assert.ok(Math.abs(saved.training.loglik - -1106.6079) < 1e-3, saved.training.loglik);
  });

  test("`last` keeps the most recent rows and a param's string is taken as a count", async () => {
    const result = await train(dem, { kind: "gjr", last: "500", window: 50 });
    const saved = JSON.parse(await readFile(result.outputs.model!.file, "utf8"));
    assert.deepEqual(
      saved.garch.params,
      fitGarch(dem.slice(-500), { kind: "gjr", standardErrors: false }).model.params,
    );
    assert.equal(saved.training.rows, 500);
  });

  test("refusals: too few points, an optimizer that does not converge (with its state), a NaN row", async () => {
    await assert.rejects(
      train(dem.slice(0, 60), { kind: "garch" }),
      /GARCH\(1,1\) needs at least 100 points, got 60/,
    );
    await assert.rejects(
      train(dem, { kind: "garch", maxIterations: 1 }),
      /GARCH\(1,1\) did not converge \(.+\), stopped at mu .+, omega .+, alpha .+, beta .+, log-likelihood -?[0-9.]+/,
    );
    await assert.rejects(
      train([0.1, -0.2, null, 0.3], { kind: "ewma" }),
      /the training data row 3: column 'ret' holds null, not a finite return/,
    );
    await assert.rejects(
      train(Array(30).fill(0.5), { kind: "har-rv" }),
      /HAR-RV needs at least 52 points, got 30/,
    );
  });

  test("spec errors name the field", async () => {
    await assert.rejects(
      contextFor(trainStep, { input: "d", builtin: { kind: "garch", lambda: 0.9 } }),
      /steps\[0\]\.train\.builtin\.lambda: only ewma has a lambda/,
    );
    await assert.rejects(
      contextFor(trainStep, { input: "d", builtin: { kind: "garch", last: "many" } }),
      /builtin\.last: expected an integer/,
    );
    await assert.rejects(
      contextFor(trainStep, { input: "d", builtin: { kind: "arima", features: ["x"], label: "y" } }),
      /expected one of logistic, linear, gbt, garch, gjr, ewma, har-rv, last-value/,
    );
  });

  test("split by order: the first 80% train, the rest is held out, in file order", async () => {
    const input = await dataset(Array.from({ length: 11 }, (_, i) => i / 10));
    const { ctx } = await contextFor(
      splitStep,
      { input: "data", by: "order", holdout: 0.2 },
      { inputs: { data: input } },
    );
    const result = await splitStep.run(ctx);
    const trained = await rowsOf(result.outputs.train!.file);
    const held = await rowsOf(result.outputs.holdout!.file);
    assert.deepEqual(
      trained.map((r) => r.i),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      held.map((r) => r.i),
      [8, 9, 10],
    );
  });
});

describe("volatility validation metrics", () => {
  const close = (a: number | null | undefined, b: number) =>
    assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

  test("QLIKE over non-zero returns, MSE over all, ratios against the champion", () => {
    const m = volatilityMetrics([1, 4, 0, 2], [1, 2, 1, 2], [2, 2, 2, 2]);
    assert.equal(m.periods, 4);
    assert.equal(m.zeroReturns, 1);
    const mine = (0 + (2 - Math.log(2) - 1) + 0) / 3;
    const theirs = (0.5 - Math.log(0.5) - 1 + (2 - Math.log(2) - 1) + 0) / 3;
    close(m.candidate.qlike, mine);
    close(m.candidate.mse, (0 + 4 + 1 + 0) / 4);
    close(m.champion?.qlike, theirs);
    close(m.champion?.mse, (1 + 4 + 4 + 0) / 4);
    close(m.candidate.qlike_ratio, mine / theirs);
    close(m.candidate.mse_ratio, 1.25 / 2.25);
    assert.equal(m.champion?.qlike_ratio, undefined, "comparisons are the candidate's only");
  });

  test("without a champion the comparisons are absent; the same forecasts give DM 0 and p 0.5", () => {
    const alone = volatilityMetrics([1, 4, 2], [1, 2, 2], null);
    assert.equal(alone.champion, null);
    assert.equal(alone.candidate.qlike_ratio, undefined);
    const same = volatilityMetrics([1, 4, 2, 3], [1, 2, 2, 2], [1, 2, 2, 2]);
    assert.equal(same.candidate.dm_statistic, 0);
    assert.equal(same.candidate.dm_p_value, 0.5);
    assert.equal(same.candidate.dm_p_value_worse, 0.5);
    close(same.candidate.qlike_ratio, 1);
  });
});
