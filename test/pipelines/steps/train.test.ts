import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { DatasetWriter } from "../../../src/pipelines/datasets.js";
import { trainStep } from "../../../src/pipelines/steps/train.js";
import {
  builtinRuntime,
  trainLinearRegression,
  trainLogisticRegression,
} from "../../../src/runtimes/builtin/index.js";
import { parseBuiltinModel, type LinearBuiltinModel } from "../../../src/runtimes/builtin/format.js";
import { asInput, contextFor, seeded, type Input } from "./context.js";

async function dataset(rows: Record<string, number>[]): Promise<Input> {
  const dir = await mkdtemp(join(tmpdir(), "ballast-train-"));
  const writer = new DatasetWriter(join(dir, "data.jsonl"));
  await writer.write(rows);
  await writer.close();
  return asInput({ file: join(dir, "data.jsonl"), kind: "dataset" });
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function fraudRows(n: number, seed: number): Record<string, number>[] {
  const random = seeded(seed);
  return Array.from({ length: n }, () => {
    const amount = random() * 500;
    const hour = Math.floor(random() * 24);
    const p = sigmoid(-3 + 0.008 * amount + (hour < 6 ? 1.2 : 0));
    return { amount, hour, is_fraud: random() < p ? 1 : 0 };
  });
}

/** Probabilities of a model file loaded through the builtin runtime (the serving path's loader). */
async function servedProbabilities(
  path: string,
  rows: Record<string, number>[],
  features: string[],
): Promise<number[]> {
  const model = await builtinRuntime.load({ artifactPath: path, signature: null, timeoutMs: 1000 });
  const data = new Float32Array(rows.length * features.length);
  rows.forEach((r, i) => features.forEach((f, j) => (data[i * features.length + j] = r[f] as number)));
  const [out] = await model.infer(
    [{ name: "input", datatype: "FP32", shape: [rows.length, features.length], data }],
    {
      outputs: ["probability"],
    },
  );
  return Array.from(out?.data as Float32Array);
}

describe("train step: builtin", () => {
  test("streamed logistic regression gives the in-memory trainer's model", async () => {
    const rows = fraudRows(3000, 11);
    const data = await dataset(rows);
    const spec = {
      input: "data",
      builtin: { kind: "logistic", features: ["amount", "hour"], label: "is_fraud", l2: 1 },
    };
    const { ctx } = await contextFor(trainStep, spec, { inputs: { data } });
    const result = await trainStep.run(ctx);
    const streamed = parseBuiltinModel(
      await readFile(result.outputs.model?.file as string, "utf8"),
    ) as LinearBuiltinModel;
    const exact = trainLogisticRegression(
      rows.map((r) => [r.amount as number, r.hour as number]),
      rows.map((r) => r.is_fraud as number),
      { features: ["amount", "hour"], l2: 1, standardize: true },
    );
    streamed.weights.forEach((w, i) =>
      assert.ok(Math.abs(w - (exact.weights[i] as number)) < 1e-8, `w${i} ${w} vs ${exact.weights[i]}`),
    );
    assert.ok(Math.abs(streamed.intercept - exact.intercept) < 1e-8);
    assert.equal(result.outputs.model?.meta?.task, "classification");
    assert.equal(result.outputs.model?.meta?.flavor, "builtin");
  });

  test("streamed linear regression gives the in-memory normal equations' model", async () => {
    const random = seeded(5);
    const rows = Array.from({ length: 2000 }, () => {
      const a = random() * 10;
      const b = random() * 3;
      return { a, b, y: 2 + 1.5 * a - 4 * b + (random() - 0.5) };
    });
    const data = await dataset(rows);
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "linear", features: ["a", "b"], label: "y", l2: 0.5 } },
      { inputs: { data } },
    );
    const result = await trainStep.run(ctx);
    const streamed = parseBuiltinModel(
      await readFile(result.outputs.model?.file as string, "utf8"),
    ) as LinearBuiltinModel;
    const exact = trainLinearRegression(
      rows.map((r) => [r.a as number, r.b as number]),
      rows.map((r) => r.y as number),
      { features: ["a", "b"], l2: 0.5, standardize: true },
    );
    streamed.weights.forEach((w, i) => assert.ok(Math.abs(w - (exact.weights[i] as number)) < 1e-9));
    assert.ok(Math.abs(streamed.intercept - exact.intercept) < 1e-9);
  });

  test("a constant label fails with what it is and how many rows", async () => {
    const data = await dataset(
      Array.from({ length: 5000 }, (_, i) => ({ amount: i, hour: i % 24, is_fraud: 0 })),
    );
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "logistic", features: ["amount", "hour"], label: "is_fraud" } },
      { inputs: { data } },
    );
    await assert.rejects(trainStep.run(ctx), /label 'is_fraud' has one value \(0\) in 5000 rows/);
  });

  test("a missing feature value fails naming the row and the feature", async () => {
    const data = await dataset([{ amount: 1, is_fraud: 0 }, { is_fraud: 1 } as Record<string, number>]);
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", builtin: { kind: "logistic", features: ["amount"], label: "is_fraud" } },
      { inputs: { data } },
    );
    await assert.rejects(trainStep.run(ctx), /row 2: feature 'amount' is null/);
  });

  test("gbt learns what logistic cannot (an XOR of signs), and its file round-trips through the runtime", async () => {
    const make = (n: number, seed: number) => {
      const random = seeded(seed);
      return Array.from({ length: n }, () => {
        const x1 = random() * 2 - 1;
        const x2 = random() * 2 - 1;
        const clean = x1 * x2 > 0 ? 1 : 0;
        return { x1, x2, y: random() < 0.05 ? 1 - clean : clean };
      });
    };
    const train = await dataset(make(4000, 21));
    const holdout = make(2000, 22);
    const accuracy = (p: number[]) =>
      p.filter((v, i) => (v >= 0.5 ? 1 : 0) === holdout[i]?.y).length / holdout.length;
    const run = async (kind: string) => {
      const { ctx } = await contextFor(
        trainStep,
        { input: "data", builtin: { kind, features: ["x1", "x2"], label: "y" } },
        { inputs: { data: train } },
      );
      const result = await trainStep.run(ctx);
      return servedProbabilities(result.outputs.model?.file as string, holdout, ["x1", "x2"]);
    };
    const logistic = accuracy(await run("logistic"));
    const gbt = accuracy(await run("gbt"));
    // Logistic is near chance on XOR; trees reach the 95% the noise allows.
    assert.ok(logistic < 0.7, `logistic ${logistic}`);
    assert.ok(gbt > 0.9 && gbt - logistic > 0.2, `gbt ${gbt}, logistic ${logistic}`);
  });
});

describe("train step: command", () => {
  const script = async (body: string) => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-cmd-"));
    const path = join(dir, "train.mjs");
    await writeFile(path, body);
    return path;
  };
  const data = () => dataset(fraudRows(200, 3));

  test("a program gets the paths and params, writes a builtin model, and its output lands in the log", async () => {
    const path = await script(`
      import { readFileSync, writeFileSync } from "node:fs";
      const rows = readFileSync(process.env.BALLAST_TRAIN, "utf8").trim().split("\\n").length;
      const params = JSON.parse(process.env.BALLAST_PARAMS);
      console.log("rows " + rows + " l2 " + params.l2 + " window " + params.window + " secret " + (process.env.BALLAST_SECRET_X ?? "none"));
      writeFileSync(process.env.BALLAST_OUTPUT, JSON.stringify({ format: "ballast.builtin/v1", kind: "logistic_regression", features: ["amount", "hour"], weights: [0.01, 0], intercept: -3 }));
    `);
    process.env.BALLAST_SECRET_X = "leaked";
    try {
      const { ctx, lines } = await contextFor(
        trainStep,
        {
          input: "data",
          command: {
            run: [process.execPath, path],
            params: { l2: 2 },
            output: "model.json",
            flavor: "builtin",
            label: "is_fraud",
          },
        },
        { inputs: { data: await data() }, params: { window: "7d" } },
      );
      const result = await trainStep.run(ctx);
      assert.ok(lines.includes("rows 200 l2 2 window 7d secret none"), lines.join("\n"));
      assert.equal(result.outputs.model?.meta?.flavor, "builtin");
      assert.equal(result.outputs.model?.meta?.label, "is_fraud");
    } finally {
      delete process.env.BALLAST_SECRET_X;
    }
  });

  test("exit 1 fails with the code, stderr kept in the log", async () => {
    const path = await script(`console.error("no GPU here"); process.exit(1);`);
    const { ctx, lines } = await contextFor(
      trainStep,
      { input: "data", command: { run: [process.execPath, path] } },
      { inputs: { data: await data() } },
    );
    await assert.rejects(trainStep.run(ctx), /exited with code 1/);
    assert.ok(lines.includes("stderr: no GPU here"));
  });

  test("exit 0 without writing the artifact fails", async () => {
    const path = await script(`console.log("forgot to save");`);
    const { ctx } = await contextFor(
      trainStep,
      { input: "data", command: { run: [process.execPath, path], output: "model.onnx" } },
      { inputs: { data: await data() } },
    );
    await assert.rejects(
      trainStep.run(ctx),
      /exited 0 but wrote no artifact at BALLAST_OUTPUT \(model\.onnx\)/,
    );
  });

  test("a hang is killed at the timeout, its whole process group with it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ballast-hang-"));
    const pidFile = join(dir, "child.pid");
    // The shell starts a grandchild that would outlive a kill of the shell alone.
    const { ctx } = await contextFor(
      trainStep,
      {
        input: "data",
        command: { run: ["sh", "-c", `sleep 300 & echo $! > ${pidFile}; wait`], timeout: "300ms" },
      },
      { inputs: { data: await data() } },
    );
    await assert.rejects(trainStep.run(ctx), /did not finish within 0\.3s; its process group was killed/);
    const pid = Number(await readFile(pidFile, "utf8"));
    // Killed means gone or a zombie (state Z) left for init to reap: not running either way.
    const state = await readFile(`/proc/${pid}/stat`, "utf8").then(
      (text) => text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3),
      () => "gone",
    );
    assert.ok(state === "gone" || state === "Z", `grandchild ${pid} is in state ${state}`);
  });

  test("cancel kills it too", async () => {
    const { ctx, abort } = await contextFor(
      trainStep,
      { input: "data", command: { run: ["sleep", "300"] } },
      { inputs: { data: await data() } },
    );
    const running = trainStep.run(ctx);
    setImmediate(() => abort.abort(new Error("run cancelled")));
    await assert.rejects(running, /run cancelled/);
  });

  test("spec errors name the field", () => {
    assert.throws(
      () => trainStep.parse({ input: "data" }, "steps[2].train"),
      /steps\[2\]\.train: expected exactly one of builtin, command/,
    );
    assert.throws(
      () => trainStep.parse({ input: "data", command: { run: ["x"], timeout: 5 } }, "steps[2].train"),
      /steps\[2\]\.train\.command\.timeout/,
    );
    assert.throws(
      () => trainStep.parse({ input: "data", command: { run: ["x"], output: "../x" } }, "steps[2].train"),
      /command\.output/,
    );
    assert.throws(
      () =>
        trainStep.parse(
          { input: "data", builtin: { kind: "svm", features: ["a"], label: "y" } },
          "steps[2].train",
        ),
      /builtin\.kind/,
    );
  });
});

const NO_PYTHON = spawnSync("python3", ["--version"]).status !== 0 ? "python3 is not installed" : false;

describe("train step: the Python example (stdlib)", { skip: NO_PYTHON }, () => {
  test("examples/fraud/train_stdlib.py trains a model the builtin runtime serves", async () => {
    const rows = fraudRows(400, 9);
    const data = await dataset(rows);
    const script = new URL("../../../examples/fraud/train_stdlib.py", import.meta.url).pathname;
    const { ctx, lines } = await contextFor(
      trainStep,
      {
        input: "data",
        command: {
          run: ["python3", script],
          output: "model.json",
          flavor: "builtin",
          timeout: "2m",
          params: { features: ["amount", "hour"], label: "is_fraud", epochs: 100 },
        },
      },
      { inputs: { data } },
    );
    const result = await trainStep.run(ctx);
    assert.ok(
      lines.some((l) => l.startsWith("400 rows; weights")),
      lines.join("\n"),
    );
    const p = await servedProbabilities(result.outputs.model?.file as string, rows, ["amount", "hour"]);
    // Fraud rises with the amount in this data: the model must have learnt that direction.
    const big = p.filter((_, i) => (rows[i]?.amount as number) > 400);
    const small = p.filter((_, i) => (rows[i]?.amount as number) < 100);
    assert.ok(big.reduce((s, v) => s + v, 0) / big.length > small.reduce((s, v) => s + v, 0) / small.length);
  });
});
