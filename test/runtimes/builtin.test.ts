import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Tensor } from "../../src/domain/tensor.js";
import {
  builtinRuntime,
  parseBuiltinModel,
  serializeBuiltinModel,
  type BuiltinModel,
} from "../../src/runtimes/builtin/index.js";

interface ReferenceCase {
  name: string;
  kind: "logistic_regression" | "linear_regression";
  data: "logistic" | "linear";
  intercept: number;
  weights: number[];
  scaling?: { mean: number[]; std: number[] };
  firstRows: { probability?: number[]; label?: number[]; prediction?: number[] };
}

const fixtures = (file: string): string =>
  fileURLToPath(new URL(`../fixtures/builtin/${file}`, import.meta.url));
const reference = JSON.parse(readFileSync(fixtures("reference.json"), "utf8")) as { cases: ReferenceCase[] };
const training = JSON.parse(readFileSync(fixtures("training-data.json"), "utf8")) as {
  features: string[];
  logistic: { x: number[][] };
  linear: { x: number[][] };
};

const dir = mkdtempSync(join(tmpdir(), "ballast-builtin-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const valid = {
  format: "ballast.builtin/v1",
  kind: "logistic_regression",
  features: ["amount", "age", "score", "hour"],
  weights: [0.5, -0.25, 1, 0],
  intercept: -0.1,
};

function writeModel(name: string, model: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof model === "string" ? model : JSON.stringify(model));
  return path;
}

function rowsTensor(rows: number[][]): Tensor {
  return {
    name: "input",
    datatype: "FP32",
    shape: [rows.length, rows[0]?.length ?? 0],
    data: Float32Array.from(rows.flat()),
  };
}

describe("builtin model format", () => {
  test("serialize then parse gives the same model", () => {
    const model: BuiltinModel = {
      format: "ballast.builtin/v1",
      kind: "logistic_regression",
      features: ["a", "b"],
      weights: [0.1, 1 / 3],
      intercept: -2.5e-7,
      scaling: { mean: [1, 2], std: [0.5, 3] },
      classes: [-1, 1],
      training: { rows: 10 },
    };
    const text = serializeBuiltinModel(model);
    assert.deepEqual(parseBuiltinModel(text), model);
    assert.equal(JSON.parse(text).weights[1], 1 / 3);
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["weights of the wrong length", { weights: [1, 2, 3] }, /^weights has 3 entries but features has 4$/],
    ["wrong format", { format: "ballast.builtin/v2" }, /format must be "ballast.builtin\/v1"/],
    ["unknown kind", { kind: "tree" }, /kind must be one of logistic_regression, linear_regression/],
    ["unknown field", { bias: 1 }, /unknown field 'bias'/],
    ["non-finite weight", { weights: [1, NaN, 0, 0] }, /weights\[1\] must be a finite number/],
    ["missing intercept", { intercept: undefined }, /intercept must be a finite number/],
    ["repeated feature", { features: ["a", "a", "b", "c"] }, /features\[1\] repeats 'a'/],
    ["empty features", { features: [], weights: [] }, /features must be a non-empty array/],
    ["scaling of the wrong length", { scaling: { mean: [0], std: [1] } }, /scaling.mean has 1 entries/],
    ["zero std", { scaling: { mean: [0, 0, 0, 0], std: [1, 0, 1, 1] } }, /scaling.std\[1\] must be positive/],
    ["equal classes", { classes: [1, 1] }, /classes must be two different integers/],
    ["classes on a linear model", { kind: "linear_regression", classes: [0, 1] }, /classes is only allowed/],
    ["training not an object", { training: [1] }, /training must be an object/],
  ];
  for (const [what, change, message] of cases) {
    test(`rejects ${what}, naming the field`, () => {
      assert.throws(() => parseBuiltinModel({ ...valid, ...change }), { code: "invalid_argument", message });
    });
  }

  test("rejects text that is not JSON", () => {
    assert.throws(() => parseBuiltinModel("{ weights: "), {
      code: "invalid_argument",
      message: /not valid JSON/,
    });
  });
});

describe("builtin inference", () => {
  for (const c of reference.cases) {
    test(`${c.name}: outputs match the numpy reference on the first rows`, async () => {
      const model = {
        format: "ballast.builtin/v1",
        kind: c.kind,
        features: training.features,
        weights: c.weights,
        intercept: c.intercept,
        ...(c.scaling ? { scaling: c.scaling } : {}),
      };
      const loaded = await builtinRuntime.load({
        artifactPath: writeModel(`${c.name}.json`, model),
        signature: null,
        timeoutMs: 100,
      });
      const x = training[c.data].x.slice(0, 12);
      const outputs = await loaded.infer([rowsTensor(x)]);
      const byName = new Map(outputs.map((t) => [t.name, t]));
      if (c.kind === "logistic_regression") {
        const probability = byName.get("probability");
        assert.equal(probability?.datatype, "FP32");
        assert.deepEqual(probability?.shape, [12]);
        c.firstRows.probability?.forEach((p, i) => {
          const got = (probability?.data as Float32Array)[i] as number;
          assert.ok(Math.abs(got - p) < 1e-6, `probability[${i}] ${got} vs ${p}`);
        });
        const label = byName.get("label");
        assert.equal(label?.datatype, "INT64");
        assert.deepEqual(Array.from(label?.data as BigInt64Array), c.firstRows.label?.map(BigInt));
      } else {
        const prediction = byName.get("prediction");
        assert.equal(prediction?.datatype, "FP32");
        c.firstRows.prediction?.forEach((p, i) => {
          const got = (prediction?.data as Float32Array)[i] as number;
          // FP32 output: compare relative to the value's size.
          assert.ok(Math.abs(got - p) <= 1e-6 * Math.max(1, Math.abs(p)), `prediction[${i}] ${got} vs ${p}`);
        });
      }
      await loaded.unload();
    });
  }

  test("labels use the model's classes; exactly P = 0.5 stays negative", async () => {
    const model = { ...valid, features: ["x"], weights: [2], intercept: 0, classes: [-1, 7] };
    const loaded = await builtinRuntime.load({
      artifactPath: writeModel("classes.json", model),
      signature: null,
      timeoutMs: 100,
    });
    const [probability, label] = await loaded.infer([rowsTensor([[-1], [0], [1]])]);
    // sigmoid(-2), sigmoid(0), sigmoid(2), computed by hand: 1 / (1 + e^2) = 0.11920292202211755.
    assert.deepEqual(Array.from(probability?.data as Float32Array), [
      Math.fround(0.11920292202211755),
      0.5,
      Math.fround(0.8807970779778823),
    ]);
    assert.deepEqual(Array.from(label?.data as BigInt64Array), [-1n, -1n, 7n]);
  });

  test("the runtime reads the signature, selects outputs and checks inputs", async () => {
    const path = writeModel("valid.json", valid);
    const signature = await builtinRuntime.inspect(path);
    assert.deepEqual(signature, {
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 4] }],
      outputs: [
        { name: "probability", datatype: "FP32", shape: [-1] },
        { name: "label", datatype: "INT64", shape: [-1] },
      ],
      features: valid.features,
    });
    const loaded = await builtinRuntime.load({ artifactPath: path, signature: null, timeoutMs: 100 });
    await loaded.warm();
    const only = await loaded.infer([rowsTensor([[1, 2, 3, 4]])], { outputs: ["label"] });
    assert.deepEqual(
      only.map((t) => t.name),
      ["label"],
    );
    // 0.5 - 0.5 + 3 + 0 - 0.1 = 2.9 > 0: positive.
    assert.deepEqual(Array.from(only[0]?.data as BigInt64Array), [1n]);
    await assert.rejects(loaded.infer([rowsTensor([[1, 2, 3]])]), {
      code: "invalid_argument",
      message: /input 'input' has shape \[1, 3\] but the model expects \[-1, 4\]/,
    });
    await loaded.unload();
    await assert.rejects(loaded.infer([rowsTensor([[1, 2, 3, 4]])]), { code: "unavailable" });
  });

  test("a bad file is invalid at inspect and load", async () => {
    const path = writeModel("bad.json", { ...valid, weights: [1] });
    await assert.rejects(builtinRuntime.inspect(path), {
      message: /weights has 1 entries but features has 4/,
    });
    await assert.rejects(
      builtinRuntime.load({ artifactPath: join(dir, "missing.json"), signature: null, timeoutMs: 1 }),
      {
        code: "invalid_argument",
        message: /cannot read the builtin model/,
      },
    );
  });
});
