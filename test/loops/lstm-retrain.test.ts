/**
 * The LSTM specialist in pipelines. First, an ONNX candidate (the shipped lstm.onnx, handed over
 * by a command step) validated against a builtin GARCH champion: the walk forward goes through
 * each model's runtime (onnxruntime and the builtin one) under the same `returns` -> `variance`
 * contract. Then train_lstm.py itself run by a `train: {command}` step in Debian's PyTorch and
 * registered as a version: skipped, saying why, when that Python cannot import torch.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { fitVolatilityModel } from "../../src/runtimes/builtin/volatility-fit.js";
import type { TestServer } from "../helpers/app.js";
import { series } from "../markets/data.js";
import { applyFile, driveRun, loopServer, register, runsOf } from "./harness.js";

const PYTHON = process.env["BALLAST_PYTHON"] ?? "/usr/bin/python3";
const SHIPPED = resolve("examples/markets/models/lstm.onnx");
const sp = series("sp500dge.csv", "ret", 100);
/** A slice of the series keeps the Python run short: 3,000 returns, the last 600 held out. */
const ROWS = 3000;

const torchMissing = ((): string | false => {
  const probe = spawnSync(PYTHON, ["-c", "import torch, onnx"], { encoding: "utf8", timeout: 60_000 });
  if (probe.error !== undefined) return `${PYTHON} cannot be run (${probe.error.message})`;
  if (probe.status !== 0)
    return `${PYTHON} cannot import torch and onnx (apt install python3-torch python3-onnx, or set BALLAST_PYTHON)`;
  return false;
})();

function pipeline(name: string, train: object, gates: object[]): string {
  return JSON.stringify({
    apiVersion: "ballast/v1",
    kind: "Pipeline",
    metadata: { name },
    spec: {
      steps: [
        { name: "data", source: { files: { path: "slice.csv", format: "csv" } } },
        { name: "split", split: { input: "data", by: "order", holdout: 0.2 } },
        { name: "train", train: { input: "split.train", holdout: "split.holdout", ...train } },
        {
          name: "validate",
          validate: {
            model: "train.model",
            train: "split.train",
            holdout: "split.holdout",
            deployment: "vol",
            column: "ret",
            scale: 100,
            metrics: ["qlike", "mse", "qlike_ratio", "dm_statistic", "dm_p_value_worse"],
            gates,
            smoke: { sample: 20, latencyBudgetMs: 1000 },
          },
        },
        {
          name: "register",
          register: { model: "vol-lstm", from: "train.model", validation: "validate", data: ["data"] },
        },
      ],
    },
  });
}

async function runOf(s: TestServer, name: string) {
  const started = await s.ballast.pipelineTriggers.manual(name, { by: "test" });
  assert.equal(started.action, "started", JSON.stringify(started));
  const [latest] = await runsOf(s, name);
  return driveRun(s, latest!.id, 80);
}

describe("the LSTM specialist in pipelines", () => {
  let s: TestServer;
  before(async () => {
    s = await loopServer();
    const rows = sp.slice(0, ROWS).map((r) => String(r / 100));
    await writeFile(join(s.dataDir, "slice.csv"), `ret\n${rows.join("\n")}\n`);
    // The champion: GARCH fitted on the slice's training part.
    const garch = fitVolatilityModel(sp.slice(0, ROWS * 0.8), { kind: "garch", window: 250 });
    const file = join(s.dataDir, "garch.json");
    await writeFile(file, serializeBuiltinModel(garch.model));
    assert.equal(await register(s, "vol", file), 1);
    const manifests = join(s.dataDir, "lstm.yaml");
    await writeFile(
      manifests,
      [
        JSON.stringify({
          apiVersion: "ballast/v1",
          kind: "Deployment",
          metadata: { name: "vol" },
          spec: { variants: [{ model: "vol", version: 1 }] },
        }),
        pipeline(
          "lstm-shipped",
          {
            command: {
              run: ["sh", "-c", 'cp "$SHIPPED" "$BALLAST_OUTPUT"'],
              env: { SHIPPED },
              output: "lstm.onnx",
              task: "volatility",
            },
          },
          [{ metric: "qlike", threshold: 5 }],
        ),
        pipeline(
          "lstm-train",
          {
            command: {
              run: [PYTHON, "examples/markets/train_lstm.py"],
              output: "lstm.onnx",
              task: "volatility",
              timeout: "5m",
              params: { column: "ret", scale: 100, window: 20, hidden: 8, epochs: 3, seed: 3 },
            },
          },
          [{ metric: "qlike", threshold: 5 }],
        ),
      ].join("\n---\n"),
    );
    await applyFile(s, manifests);
    await s.ballast.endpoints.sync();
  });
  after(async () => s.close());

  test("an ONNX LSTM candidate is walked forward against a builtin GARCH champion, each through its runtime", async () => {
    const run = await runOf(s, "lstm-shipped");
    assert.equal(run.state, "Succeeded", run.reason ?? "");
    const v1 = await s.ballast.registry.getVersion("vol-lstm", 1);
    assert.equal(v1.flavor, "onnx");
    const m = v1.metrics as Record<string, number>;
    // Every metric came out: the champion's forecasts too (qlike_ratio needs them).
    for (const k of ["qlike", "mse", "qlike_ratio", "dm_statistic", "dm_p_value_worse"])
      assert.ok(Number.isFinite(m[k]), `${k}: ${JSON.stringify(m)}`);
    assert.ok(m.qlike! > 0 && m.qlike_ratio! > 0.5 && m.qlike_ratio! < 2, JSON.stringify(m));
  });

  test(
    "train_lstm.py run by a train command step, validated and registered",
    { skip: torchMissing },
    async () => {
      const run = await runOf(s, "lstm-train");
      const train = run.steps.find((st) => st.step === "train")!;
      const log = (await s.ballast.pipelines.logs(run.id, "train")).map((l) => l.line);
      assert.equal(run.state, "Succeeded", `${train.error ?? ""}\n${log.join("\n")}`);
      const versions = await s.ballast.registry.listVersions("vol-lstm");
      const latest = versions.reduce((a, b) => (a.version > b.version ? a : b));
      assert.equal(latest.flavor, "onnx");
      assert.equal(latest.lineage.runId, run.id);
      assert.deepEqual(latest.signature?.inputs, [{ name: "returns", datatype: "FP32", shape: [-1, 20] }]);
      assert.ok(Number.isFinite((latest.metrics as Record<string, number>).qlike));
    },
  );
});
