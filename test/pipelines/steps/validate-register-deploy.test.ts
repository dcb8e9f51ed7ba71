/**
 * validate -> register -> deploy against a real Ballast (SQLite): the champion is what the
 * `fraud` deployment serves (FRAUD_MODEL v1), scored on the same holdout as the candidate.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { DatasetWriter } from "../../../src/pipelines/datasets.js";
import { deployStep } from "../../../src/pipelines/steps/deploy.js";
import { registerStep } from "../../../src/pipelines/steps/register.js";
import { validateStep } from "../../../src/pipelines/steps/validate.js";
import type { StepResult } from "../../../src/pipelines/step.js";
import { FRAUD_FEATURES, FRAUD_MODEL, type TestServer } from "../../helpers/app.js";
import { asInput, contextFor, seeded, type Input } from "./context.js";
import { fraudServer, serverFor } from "./server.js";

/** The world now: fraud follows these weights, not the champion's. */
const NOW = { weights: [0.6, -0.2, -1.0], intercept: 0.5 };
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

async function holdoutOf(n: number, seed: number): Promise<Input> {
  const random = seeded(seed);
  const dir = await mkdtemp(join(tmpdir(), "ballast-holdout-"));
  const writer = new DatasetWriter(join(dir, "holdout.jsonl"));
  const rows = Array.from({ length: n }, () => {
    const x = [random() * 6 - 3, Math.floor(random() * 24) / 4, random() < 0.3 ? 1 : 0];
    const p = sigmoid(NOW.intercept + x.reduce((s, v, i) => s + v * (NOW.weights[i] as number), 0));
    return {
      amount: x[0] as number,
      hour: x[1] as number,
      night: x[2] as number,
      is_fraud: random() < p ? 1 : 0,
    };
  });
  await writer.write(rows);
  const meta = await writer.close();
  return asInput({
    file: join(dir, "holdout.jsonl"),
    kind: "dataset",
    meta: { rows: meta.rows, columns: meta.columns, source: { log: "fraud" } },
  });
}

async function candidate(weights: number[], intercept: number, features = FRAUD_FEATURES): Promise<Input> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-candidate-"));
  const file = join(dir, "model.json");
  await writeFile(file, JSON.stringify({ ...FRAUD_MODEL, features, weights, intercept }));
  return asInput({
    file,
    kind: "model",
    meta: { flavor: "builtin", features, label: "is_fraud", task: "classification", trainer: "logistic" },
  });
}

const GATES = [
  { metric: "auc", threshold: 0.7, minAbsoluteChange: 0.02 },
  { metric: "logloss", minRelativeChange: 0.05 },
];

describe("validate, register, deploy", () => {
  let t: TestServer;
  let holdout: Input;
  beforeEach(async () => {
    t = await fraudServer({ canary: true });
    holdout = await holdoutOf(3000, 42);
  });
  afterEach(async () => t.close());

  const validate = async (model: Input, gates: unknown[] = GATES) => {
    const { ctx, lines } = await contextFor(
      validateStep,
      {
        model: "train.model",
        holdout: "split.holdout",
        deployment: "fraud",
        metrics: ["auc", "logloss", "accuracy", "f1"],
        gates,
        smoke: { sample: 50, latencyBudgetMs: 1000 },
      },
      { server: serverFor(t), inputs: { "train.model": model, "split.holdout": holdout }, clock: t.clock },
    );
    return { run: () => validateStep.run(ctx), lines };
  };

  test("a candidate fitting the world passes, with both models' metrics on the same rows and a profile", async () => {
    const result = await (await validate(await candidate(NOW.weights, NOW.intercept))).run();
    const report = JSON.parse(await readFile(result.outputs.metrics?.file as string, "utf8")) as {
      rows: number;
      candidate: Record<string, number>;
      champion: Record<string, number>;
      championVersion: { version: number };
    };
    assert.equal(report.rows, 3000);
    assert.equal(report.championVersion.version, 1);
    assert.ok(
      (report.candidate.auc as number) > (report.champion.auc as number) + 0.02,
      JSON.stringify(report),
    );
    assert.ok((report.candidate.logloss as number) < (report.champion.logloss as number));
    const profile = JSON.parse(await readFile(result.outputs.profile?.file as string, "utf8")) as {
      rows: number;
      features: Array<{ name: string }>;
    };
    assert.equal(profile.rows, 3000);
    assert.deepEqual(
      profile.features.map((f) => f.name),
      FRAUD_FEATURES,
    );
  });

  test("a worse candidate fails with every failing gate listed at once", async () => {
    const v = await validate(
      await candidate(
        NOW.weights.map((w) => -w),
        -NOW.intercept,
      ),
    );
    await assert.rejects(v.run(), (error: Error) => {
      assert.match(error.message, /validation failed \(3 reasons\)/);
      assert.match(error.message, /auc [0-9.]+ is below the threshold 0\.7/);
      assert.match(error.message, /auc [0-9.]+ does not beat the champion's [0-9.]+ by 0\.02/);
      assert.match(error.message, /logloss [0-9.]+ does not beat the champion's [0-9.]+ by 5%/);
      return true;
    });
    assert.equal(v.lines.filter((l) => l.startsWith("FAILED")).length, 3);
  });

  test("a candidate that does not take the champion's inputs fails the schema smoke test", async () => {
    const v = await validate(await candidate([0.6, -0.2], 0.5, ["amount", "hour"]), [
      { metric: "auc", threshold: 0.5 },
    ]);
    await assert.rejects(
      v.run(),
      /schema: the candidate takes \[amount, hour\] but the champion's requests carry \[amount, hour, night\]/,
    );
  });

  const validated = async (): Promise<Record<string, Input>> => {
    const model = await candidate(NOW.weights, NOW.intercept);
    const result: StepResult = await (await validate(model)).run();
    return {
      "train.model": model,
      "validate.metrics": await asInput(result.outputs.metrics as never),
      "validate.profile": await asInput(result.outputs.profile as never),
      "split.holdout": holdout,
    };
  };

  test("register: a version with lineage and profile; the same run registering again does it once", async () => {
    const inputs = await validated();
    const register = async () => {
      const { ctx } = await contextFor(
        registerStep,
        {
          model: "fraud",
          from: "train.model",
          validation: "validate",
          data: ["split.holdout"],
          deployment: "fraud",
          alias: "candidate",
        },
        { server: serverFor(t), inputs, runId: "run-42", params: { window: "7d" } },
      );
      return registerStep.run(ctx);
    };
    const first = await register();
    const second = await register();
    assert.equal(first.summary?.version, 2);
    assert.equal(first.summary?.created, true);
    assert.equal(second.summary?.version, 2);
    assert.equal(second.summary?.created, false);
    const versions = await t.ballast.registry.listVersions("fraud");
    assert.equal(versions.length, 2);
    const v2 = await t.ballast.registry.getVersion("fraud", 2);
    assert.equal(v2.lineage.runId, "run-42");
    assert.equal(v2.lineage.parentVersion, 1);
    assert.equal(v2.lineage.dataFingerprint, first.summary?.dataFingerprint);
    const parameters = v2.lineage.parameters as Record<string, unknown>;
    assert.equal(parameters.pipeline, "fraud-retrain");
    assert.deepEqual(parameters.params, { window: "7d" });
    assert.deepEqual(parameters.source, { log: "fraud" });
    assert.ok((v2.metrics.auc as number) > 0.7);
    assert.notEqual(v2.referenceProfile, null);
    assert.equal((await t.ballast.registry.getModel("fraud")).aliases.candidate, 2);
    // Nothing served changed: registering is not deploying.
    assert.deepEqual(
      (await t.ballast.deployments.get("fraud")).variants.map((v) => v.ref),
      [{ version: 1 }],
    );
  });

  const registered = async (runId: string): Promise<Input> => {
    const { ctx } = await contextFor(
      registerStep,
      { model: "fraud", from: "train.model", validation: "validate" },
      { server: serverFor(t), inputs: await validated(), runId },
    );
    return asInput((await registerStep.run(ctx)).outputs.version as never);
  };

  test("deploy canary: the deployment's strategy rolls the version out; a second call for the run starts nothing", async () => {
    const version = await registered("run-7");
    const deploy = async () => {
      const { ctx } = await contextFor(
        deployStep,
        { deployment: "fraud", mode: "canary" },
        { server: serverFor(t), inputs: { "register.version": version }, runId: "run-7" },
      );
      return deployStep.run(ctx);
    };
    const first = await deploy();
    assert.equal(first.summary?.outcome, "rollout");
    assert.equal(first.summary?.started, true);
    assert.deepEqual(await t.ballast.rollouts.rollingTo("fraud"), { model: "fraud", version: 2 });
    const second = await deploy();
    assert.equal(second.summary?.started, false);
    const started = (await t.ballast.events.list({ limit: 1000 })).filter(
      (e) => e.reason === "CandidateHandedOff",
    );
    assert.equal(started.length, 1);
    assert.equal(started[0]?.details.runId, "run-7");
  });

  test("deploy shadow: the version is attached as a shadow challenger, once", async () => {
    const version = await registered("run-8");
    const deploy = async () => {
      const { ctx } = await contextFor(
        deployStep,
        { deployment: "fraud", mode: "shadow" },
        { server: serverFor(t), inputs: { "register.version": version }, runId: "run-8" },
      );
      return deployStep.run(ctx);
    };
    assert.equal((await deploy()).summary?.started, true);
    assert.equal((await deploy()).summary?.started, false);
    const variants = (await t.ballast.deployments.get("fraud")).variants;
    assert.deepEqual(
      variants.map((v) => [v.name, v.ref, v.shadow === true]),
      [
        ["stable", { version: 1 }, false],
        ["challenger", { version: 2 }, true],
      ],
    );
    assert.equal(await t.ballast.rollouts.rollingTo("fraud"), undefined);
  });
});

describe("deploy on a deployment without a strategy", () => {
  test("switches at once (DeploymentChanges decides), and says so", async () => {
    const t = await fraudServer();
    try {
      const dir = await mkdtemp(join(tmpdir(), "ballast-v2-"));
      const file = join(dir, "m.json");
      await writeFile(file, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
      const { version } = await t.ballast.registry.registerVersion({ model: "fraud", artifactPath: file });
      const versionFile = join(dir, "version.json");
      await writeFile(versionFile, JSON.stringify({ model: "fraud", version: version.version }));
      const input = await asInput({
        file: versionFile,
        kind: "file",
        meta: { model: "fraud", version: version.version },
      });
      const { ctx } = await contextFor(
        deployStep,
        { deployment: "fraud" },
        { server: serverFor(t), inputs: { "register.version": input }, runId: "run-9" },
      );
      const result = await deployStep.run(ctx);
      assert.equal(result.summary?.outcome, "switched");
      assert.deepEqual(
        (await t.ballast.deployments.get("fraud")).variants.map((v) => v.ref),
        [{ version: 2 }],
      );
    } finally {
      await t.close();
    }
  });
});
