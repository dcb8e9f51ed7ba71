// Retraining a regime classifier through the train, validate and register steps, on the real
// PipelineServer: a refit whose states come out flipped relative to the champion is aligned to
// it (permutation recorded in the model file and the version's lineage); a degenerate
// classifier is refused at validation; a worse one on the holdout is refused.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../../helpers/app.js";
import { fitHmm } from "../../../src/markets/hmm.js";
import { permuteRegimeModel, regimeModelFromHmm } from "../../../src/markets/regime-classifier.js";
import { trainStep } from "../../../src/pipelines/steps/train.js";
import { validateStep } from "../../../src/pipelines/steps/validate.js";
import { registerStep } from "../../../src/pipelines/steps/register.js";
import { series } from "../../markets/data.js";
import { asInput, contextFor, type Input } from "./context.js";
import { serverFor } from "./server.js";

const sp = series("sp500dge.csv", "ret");
const TRAIN = sp.slice(14000, 16000);
const HOLDOUT = sp.slice(16000, 16500);

async function dataset(dir: string, name: string, values: number[]): Promise<Input> {
  const path = join(dir, name);
  await writeFile(path, values.map((ret) => JSON.stringify({ ret })).join("\n") + "\n");
  return asInput({ file: path, kind: "dataset" });
}

describe("regime classifier retraining", () => {
  let t: TestServer;
  let train: Input;
  let holdout: Input;
  before(async () => {
    t = await startTestServer({ deploy: false });
    train = await dataset(t.dataDir, "train.jsonl", TRAIN);
    holdout = await dataset(t.dataDir, "holdout.jsonl", HOLDOUT);
    // The champion: the same fit, its states numbered the other way (turbulent first).
    const fit = regimeModelFromHmm(
      fitHmm(
        TRAIN.map((v) => v * 100),
        2,
      ),
      ["calm", "turbulent"],
      100,
    );
    const flipped = permuteRegimeModel(fit, [1, 0], ["turbulent", "calm"]);
    const path = join(t.dataDir, "champion.json");
    await writeFile(
      path,
      JSON.stringify({ format: "ballast.builtin/v1", kind: "hmm", window: 250, regimes: flipped }),
    );
    const { version } = await t.ballast.registry.registerVersion({ model: "regimes", artifactPath: path });
    await t.ballast.deployments.put({
      name: "regimes",
      variants: [{ name: "stable", model: "regimes", ref: { version: version.version }, weight: 100 }],
    });
  });
  after(async () => t.close());

  test("train aligns a flipped refit to the champion; validate passes; register records the permutation", async () => {
    const server = serverFor(t);
    const { ctx, lines } = await contextFor(
      trainStep,
      {
        input: "data",
        builtin: { kind: "hmm", column: "ret", scale: 100, regimes: 2, window: 250, alignTo: "regimes" },
      },
      { inputs: { data: train }, server },
    );
    const trained = await trainStep.run(ctx);
    const model = JSON.parse(await readFile(trained.outputs.model?.file as string, "utf8"));
    // The refit's calm state (smaller variance) is now state 1, as in the champion, and named so.
    assert.deepEqual(model.regimes.labels, ["turbulent", "calm"]);
    assert.ok(model.regimes.variances[0] > model.regimes.variances[1]);
    assert.deepEqual(model.training.alignment.permutation, [1, 0]);
    assert.equal(model.training.alignment.permuted, true);
    assert.equal(model.training.alignment.agreement, 1);
    assert.equal(model.training.alignment.agreementBefore, 0);
    assert.ok(
      lines.some((l) => /aligned to regimes v1: permutation \[1, 0\]/.test(l)),
      lines.join("\n"),
    );

    const modelInput = await asInput(trained.outputs.model as never);
    const v = await contextFor(
      validateStep,
      { model: "train.model", holdout: "split.holdout", deployment: "regimes" },
      { inputs: { "train.model": modelInput, "split.holdout": holdout }, server },
    );
    const validated = await validateStep.run(v.ctx);
    const report = JSON.parse(await readFile(validated.outputs.metrics?.file as string, "utf8"));
    assert.equal(report.rows, 500);
    assert.ok(
      Math.abs(report.candidate.loglik - report.champion.loglik) < 1e-9,
      "the same model, renumbered",
    );

    const r = await contextFor(
      registerStep,
      { model: "regimes", from: "train.model", validation: "validate", deployment: "regimes" },
      {
        inputs: {
          "train.model": modelInput,
          "validate.metrics": await asInput(validated.outputs.metrics as never),
          "validate.profile": await asInput(validated.outputs.profile as never),
        },
        server,
      },
    );
    const registered = await registerStep.run(r.ctx);
    const version = await t.ballast.registry.getVersion("regimes", registered.summary?.version as number);
    const alignment = version.lineage.parameters?.alignment as { permutation: number[]; to: object };
    assert.deepEqual(alignment.permutation, [1, 0]);
    assert.deepEqual(alignment.to, { model: "regimes", version: 1 });
    assert.equal(version.lineage.parentVersion, 1);
  });

  test("a degenerate classifier is refused at validation, naming the regime and its variance", async () => {
    const path = join(t.dataDir, "degenerate.json");
    await writeFile(
      path,
      JSON.stringify({
        format: "ballast.builtin/v1",
        kind: "hmm",
        window: 250,
        regimes: {
          method: "hmm",
          labels: ["calm", "turbulent"],
          transition: [
            [0.9, 0.1],
            [0.1, 0.9],
          ],
          means: [0, 0],
          variances: [1e-10, 1],
          scale: 100,
        },
      }),
    );
    const model = await asInput({
      file: path,
      kind: "model",
      meta: { flavor: "builtin", task: "regime", column: "ret" },
    });
    const v = await contextFor(
      validateStep,
      { model: "train.model", holdout: "split.holdout" },
      { inputs: { "train.model": model, "split.holdout": holdout } },
    );
    await assert.rejects(
      validateStep.run(v.ctx),
      /validation failed: the candidate does not load: regimes: regime 0 \(calm\) is degenerate: its variance 1\.000e-10/,
    );
  });

  test("a classifier worse than the champion on the holdout is refused", async () => {
    const path = join(t.dataDir, "worse.json");
    await writeFile(
      path,
      JSON.stringify({
        format: "ballast.builtin/v1",
        kind: "hmm",
        window: 250,
        regimes: {
          method: "hmm",
          labels: ["turbulent", "calm"],
          transition: [
            [0.5, 0.5],
            [0.5, 0.5],
          ],
          means: [0, 0],
          variances: [30, 20],
          scale: 100,
        },
      }),
    );
    const model = await asInput({
      file: path,
      kind: "model",
      meta: { flavor: "builtin", task: "regime", column: "ret" },
    });
    const v = await contextFor(
      validateStep,
      { model: "train.model", holdout: "split.holdout", deployment: "regimes" },
      { inputs: { "train.model": model, "split.holdout": holdout }, server: serverFor(t) },
    );
    await assert.rejects(
      validateStep.run(v.ctx),
      /holdout log-likelihood per return \(.*\) is below the champion's .*regimes v1/,
    );
  });

  test("regime-rules: the step checks the rules and writes the classifier; validation has no likelihood to compare", async () => {
    const rules = {
      indicator: "realized",
      window: 20,
      lookback: 250,
      enter: { turbulent: 0.8 },
      exit: { turbulent: 0.6 },
      minDuration: 5,
    };
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "regime-rules", column: "ret", window: 300, rules } },
      { inputs: { data: train } },
    );
    const trained = await trainStep.run(ctx);
    const model = JSON.parse(await readFile(trained.outputs.model?.file as string, "utf8"));
    assert.equal(model.kind, "regime-rules");
    assert.deepEqual(model.regimes.rules, rules);
    const v = await contextFor(
      validateStep,
      { model: "train.model", holdout: "split.holdout" },
      { inputs: { "train.model": await asInput(trained.outputs.model as never), "split.holdout": holdout } },
    );
    const report = JSON.parse(
      await readFile((await validateStep.run(v.ctx)).outputs.metrics?.file as string, "utf8"),
    );
    assert.equal(report.candidate.loglik, null);
    const bad = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "regime-rules", column: "ret", window: 100, rules } },
      { inputs: { data: train } },
    );
    await assert.rejects(trainStep.run(bad.ctx), /window must be an integer from 269/);
  });

  test("the spec names bad fields; alignTo on a worker (no server) fails rather than skip alignment", async () => {
    assert.throws(
      () =>
        trainStep.parse(
          { input: "data", builtin: { kind: "hmm", column: "ret", switchingVariance: true } },
          "steps[1].train",
        ),
      /steps\[1\]\.train\.builtin\.switchingVariance/,
    );
    assert.throws(
      () =>
        trainStep.parse(
          { input: "data", builtin: { kind: "regime-rules", column: "ret" } },
          "steps[1].train",
        ),
      /steps\[1\]\.train\.builtin\.rules/,
    );
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "hmm", column: "ret", scale: 100, alignTo: "regimes" } },
      { inputs: { data: train } },
    );
    await assert.rejects(
      trainStep.run(ctx),
      /alignTo regimes: the champion is read from the registry, which only the server has/,
    );
  });
});
