import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BallastError } from "../../src/domain/errors.js";
import type { Signature } from "../../src/domain/model.js";
import type { Datatype, Tensor } from "../../src/domain/tensor.js";
import { onnxRuntime } from "../../src/runtimes/onnx.js";

interface ExpectedTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: (number | string)[];
}
interface ExpectedModel {
  file: string;
  signature: Signature;
  inputs: ExpectedTensor[];
  outputs: ExpectedTensor[];
}

const fixture = (file: string): string => fileURLToPath(new URL(`../fixtures/onnx/${file}`, import.meta.url));
const expected = JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as {
  models: Record<string, ExpectedModel>;
};

function model(name: string): ExpectedModel {
  const found = expected.models[name];
  assert.ok(found, `expected.json has no model ${name}`);
  return found;
}

function toTensor(t: ExpectedTensor): Tensor {
  switch (t.datatype) {
    case "FP32":
      return { ...t, data: Float32Array.from(t.data as number[]) };
    case "FP64":
      return { ...t, data: Float64Array.from(t.data as number[]) };
    case "INT64":
      return { ...t, data: BigInt64Array.from(t.data as string[], (v) => BigInt(v)) };
    default:
      throw new Error(`no conversion for ${t.datatype} in this test`);
  }
}

function assertOutputsMatch(actual: Tensor[], wanted: ExpectedTensor[]): void {
  assert.deepEqual(
    actual.map((t) => t.name),
    wanted.map((t) => t.name),
  );
  wanted.forEach((w, k) => {
    const a = actual[k] as Tensor;
    assert.equal(a.datatype, w.datatype, `datatype of ${w.name}`);
    assert.deepEqual(a.shape, w.shape, `shape of ${w.name}`);
    if (w.datatype === "INT64") {
      assert.ok(a.data instanceof BigInt64Array, `${w.name} is a BigInt64Array`);
      assert.deepEqual(
        Array.from(a.data),
        w.data.map((v) => BigInt(v)),
        `values of ${w.name}`,
      );
      return;
    }
    assert.equal(a.data.length, w.data.length);
    w.data.forEach((v, i) => {
      const got = (a.data as Float32Array)[i] as number;
      assert.ok(Math.abs(got - (v as number)) <= 1e-5, `${w.name}[${i}]: ${got} vs expected ${v}`);
    });
  });
}

async function load(name: string, signature: Signature | null = null) {
  return onnxRuntime.load({ artifactPath: fixture(model(name).file), signature, timeoutMs: 1000 });
}

const COMPARED = ["tree_classifier", "tree_regressor", "linear_classifier", "mlp", "multi_io", "big_int64"];

describe("onnx runtime", () => {
  for (const name of COMPARED) {
    test(`${name}: inspect reads the signature (datatypes mapped, variable dims -1)`, async () => {
      const signature = await onnxRuntime.inspect(fixture(model(name).file));
      assert.deepEqual(signature, model(name).signature);
    });

    test(`${name}: outputs match the numpy reference`, async () => {
      const loaded = await load(name);
      try {
        const outputs = await loaded.infer(model(name).inputs.map(toTensor));
        assertOutputsMatch(outputs, model(name).outputs);
      } finally {
        await loaded.unload();
      }
    });
  }

  test("concurrent calls on one session each get their own answer", async () => {
    const m = model("linear_classifier");
    const loaded = await load("linear_classifier");
    const input = toTensor(m.inputs[0] as ExpectedTensor);
    const rows = input.shape[0] as number;
    const columns = input.shape[1] as number;
    // Row r alone, many times over, all in flight together.
    const calls = Array.from({ length: 40 }, (_, k) => {
      const r = k % rows;
      const data = (input.data as Float32Array).slice(r * columns, (r + 1) * columns);
      return loaded.infer([{ ...input, shape: [1, columns], data }], { outputs: ["label"] });
    });
    const labels = (await Promise.all(calls)).map(([label]) => (label?.data as BigInt64Array)[0]);
    const wanted = (m.outputs[0] as ExpectedTensor).data.map((v) => BigInt(v));
    assert.deepEqual(
      labels,
      labels.map((_, k) => wanted[k % rows]),
    );
    await loaded.unload();
  });

  test("INT64 values beyond 2^53 pass through exactly", async () => {
    const loaded = await load("big_int64");
    const values = BigInt64Array.from([2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]);
    const [out] = await loaded.infer([{ name: "values", datatype: "INT64", shape: [3], data: values }]);
    assert.deepEqual(Array.from(out?.data as BigInt64Array), [2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]);
    await loaded.unload();
  });

  test("ZipMap's non-tensor output is left out of the signature and the results", async () => {
    const zipmap = model("tree_classifier_zipmap");
    const loaded = await load("tree_classifier_zipmap");
    assert.deepEqual(loaded.signature, zipmap.signature);
    assert.deepEqual(
      loaded.signature.outputs.map((o) => o.name),
      ["label"],
    );
    const outputs = await loaded.infer(zipmap.inputs.map(toTensor));
    assertOutputsMatch(outputs, zipmap.outputs);
    await loaded.unload();
  });

  test("only the requested outputs are computed and returned, in the requested order", async () => {
    const m = model("tree_classifier");
    const loaded = await load("tree_classifier");
    const only = await loaded.infer(m.inputs.map(toTensor), { outputs: ["probabilities"] });
    assertOutputsMatch(
      only,
      m.outputs.filter((o) => o.name === "probabilities"),
    );
    const reversed = await loaded.infer(m.inputs.map(toTensor), { outputs: ["probabilities", "label"] });
    assert.deepEqual(
      reversed.map((t) => t.name),
      ["probabilities", "label"],
    );
    await assert.rejects(loaded.infer(m.inputs.map(toTensor), { outputs: ["nope"] }), {
      code: "invalid_argument",
      message: /unknown output 'nope'; the model gives 'label', 'probabilities'/,
    });
    await loaded.unload();
  });

  test("bad inputs are rejected with the input named, before onnxruntime sees them", async () => {
    const loaded = await load("multi_io");
    const x: Tensor = { name: "x", datatype: "FP32", shape: [1, 3], data: new Float32Array(3) };
    const k: Tensor = { name: "k", datatype: "INT64", shape: [1, 2], data: new BigInt64Array(2) };
    await assert.rejects(loaded.infer([x]), { code: "invalid_argument", message: /missing input 'k'/ });
    await assert.rejects(loaded.infer([x, { ...k, datatype: "INT32", data: new Int32Array(2) }]), {
      message: /input 'k' is INT32 but the model expects INT64/,
    });
    await assert.rejects(loaded.infer([{ ...x, shape: [1, 4], data: new Float32Array(4) }, k]), {
      message: /input 'x' has shape \[1, 4\] but the model expects \[-1, 3\]/,
    });
    await assert.rejects(loaded.infer([{ ...x, data: new Float32Array(2) }, k]), {
      message: /input 'x' has shape \[1, 3\] \(3 values\) but 2 data values/,
    });
    await assert.rejects(loaded.infer([{ ...x, data: new Float64Array(3) }, k]), {
      message: /input 'x' is FP32 but its data is a Float64Array/,
    });
    await assert.rejects(loaded.infer([x, k, { ...x, name: "extra" }]), { message: /unknown input 'extra'/ });
    // The unknown second dimension of k takes any size.
    const [, kPlus] = await loaded.infer([x, { ...k, shape: [1, 5], data: new BigInt64Array(5) }]);
    assert.deepEqual(kPlus?.shape, [1, 5]);
    await loaded.unload();
  });

  test("warm runs a batch of zeros, variable dimensions set to 1", async () => {
    const loaded = await load("multi_io");
    await loaded.warm();
    const mlp = await load("mlp");
    await mlp.warm();
    await Promise.all([loaded.unload(), mlp.unload()]);
  });

  test("features from the registered signature are kept when they fit", async () => {
    const features = ["a", "b", "c", "d"];
    const registered: Signature = { inputs: [], outputs: [], features };
    const loaded = await load("tree_regressor", registered);
    assert.deepEqual(loaded.signature.features, features);
    assert.deepEqual(loaded.signature.inputs, model("tree_regressor").signature.inputs);
    await loaded.unload();
    await assert.rejects(load("tree_regressor", { inputs: [], outputs: [], features: ["a", "b"] }), {
      code: "invalid_argument",
      message: /names 2 features but the model's first input 'input' has 4 columns/,
    });
  });

  test("after unload the model answers unavailable", async () => {
    const loaded = await load("mlp");
    await loaded.unload();
    await loaded.unload();
    await assert.rejects(loaded.infer(model("mlp").inputs.map(toTensor)), { code: "unavailable" });
  });

  test("an aborted caller stops waiting; unload still waits for the run", async () => {
    const loaded = await load("mlp");
    const rows = 20_000;
    const input: Tensor = {
      name: "input",
      datatype: "FP32",
      shape: [rows, 8],
      data: new Float32Array(rows * 8),
    };
    const controller = new AbortController();
    const pending = loaded.infer([input], { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof BallastError);
      assert.equal(error.code, "timeout");
      return true;
    });
    await loaded.unload();

    const again = await load("mlp");
    const reason = new BallastError("timeout", "deadline of deployment fraud passed");
    await assert.rejects(
      again.infer([input], { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    await again.unload();
  });

  test("a file that is not an ONNX model is invalid", async () => {
    const notOnnx = fixture("expected.json");
    await assert.rejects(onnxRuntime.inspect(notOnnx), {
      code: "invalid_argument",
      message: /cannot load the ONNX/,
    });
    await assert.rejects(onnxRuntime.load({ artifactPath: notOnnx, signature: null, timeoutMs: 100 }), {
      code: "invalid_argument",
    });
  });
});
