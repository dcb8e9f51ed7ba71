/**
 * ONNX models end to end over HTTP: uploaded, registered and deployed through the API, then
 * served over OIP v2, against outputs computed independently (numpy, test/fixtures/onnx).
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startTestServer, type TestServer } from "../helpers/app.js";

interface Fixture {
  file: string;
  inputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }>;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<number | string> }>;
}
const expected = JSON.parse(await readFile("test/fixtures/onnx/expected.json", "utf8")) as {
  models: Record<string, Fixture>;
};

async function deployOnnx(s: TestServer, name: string): Promise<void> {
  const bytes = await readFile(`test/fixtures/onnx/${expected.models[name]!.file}`);
  const up = await s.app.inject({
    method: "POST",
    url: "/api/v1/artifacts",
    headers: { "content-type": "application/octet-stream" },
    payload: bytes,
  });
  assert.equal(up.statusCode, 201, up.body);
  const reg = await s.app.inject({
    method: "POST",
    url: `/api/v1/models/${name}/versions`,
    payload: { artifact: up.json().artifact },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  assert.equal(reg.json().version.flavor, "onnx");
  const dep = await s.app.inject({
    method: "PUT",
    url: `/api/v1/deployments/${name}`,
    payload: { model: name, version: 1 },
  });
  assert.equal(dep.statusCode, 200, dep.body);
  assert.equal(dep.json().status.ready, true, dep.body);
}

describe("ONNX models over the Open Inference Protocol", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ deploy: false });
    for (const name of ["tree_classifier", "tree_regressor", "linear_classifier", "multi_io"])
      await deployOnnx(s, name);
  });
  after(async () => s.close());

  // multi_io's fixture carries INT64 values beyond 2^53, which JSON cannot; it is tested below.
  for (const name of ["tree_classifier", "tree_regressor", "linear_classifier"]) {
    test(`${name}: outputs match the independent reference`, async () => {
      const fixture = expected.models[name]!;
      const res = await s.app.inject({
        method: "POST",
        url: `/v2/models/${name}/infer`,
        payload: { inputs: fixture.inputs.map((i) => ({ ...i, data: i.data.map(Number) })) },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { outputs: Fixture["outputs"] };
      for (const want of fixture.outputs) {
        const got = body.outputs.find((o) => o.name === want.name);
        assert.ok(got, `output ${want.name}`);
        assert.equal(got.datatype, want.datatype);
        assert.deepEqual(got.shape, want.shape);
        const exact = want.datatype.includes("INT");
        want.data.forEach((w, i) => {
          if (exact) assert.equal(got.data[i], Number(w), `${want.name}[${i}]`);
          else
            assert.ok(
              Math.abs((got.data[i] as number) - Number(w)) < 1e-5,
              `${want.name}[${i}]: ${got.data[i]} vs ${w}`,
            );
        });
      }
    });
  }

  test("multi_io: FP32 -> FP64 and INT64 + 1, row-major", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/multi_io/infer",
      payload: {
        inputs: [
          {
            name: "x",
            datatype: "FP32",
            shape: [2, 3],
            data: [
              [0.5, 1, 2],
              [3, 4, 5.25],
            ],
          },
          { name: "k", datatype: "INT64", shape: [2, 2], data: [1, -7, 2 ** 40, 0] },
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const [xd, k1] = res.json().outputs;
    assert.deepEqual(xd, {
      name: "x_double",
      datatype: "FP64",
      shape: [2, 3],
      data: [0.5, 1, 2, 3, 4, 5.25],
    });
    assert.deepEqual(k1, {
      name: "k_plus_one",
      datatype: "INT64",
      shape: [2, 2],
      data: [2, -6, 2 ** 40 + 1, 1],
    });
  });

  test("KServe V1: instances and inputs as arrays reach a model without feature names", async () => {
    const fixture = expected.models.tree_regressor!;
    const input = fixture.inputs[0]!;
    const width = input.shape[1]!;
    const rows = Array.from({ length: input.shape[0]! }, (_, i) =>
      input.data.slice(i * width, (i + 1) * width).map(Number),
    );
    const want = fixture.outputs[0]!.data.map(Number);
    for (const payload of [{ instances: rows }, { inputs: rows }, { inputs: { input: rows } }]) {
      const res = await s.app.inject({ method: "POST", url: "/v1/models/tree_regressor:predict", payload });
      assert.equal(res.statusCode, 200, `${JSON.stringify(payload).slice(0, 40)}: ${res.body}`);
      const predictions = res.json().predictions as number[];
      assert.equal(predictions.length, want.length);
      predictions.forEach((p, i) => assert.ok(Math.abs(p - want[i]!) < 1e-5, `row ${i}: ${p} vs ${want[i]}`));
    }
    const wrongWidth = await s.app.inject({
      method: "POST",
      url: "/v1/models/tree_regressor:predict",
      payload: { instances: [[1, 2, 3]] },
    });
    assert.equal(wrongWidth.statusCode, 400);
    assert.match(wrongWidth.json().error, /shape \[3\] but input 'input' takes \[4\]/);
    const named = await s.app.inject({
      method: "POST",
      url: "/v1/models/tree_regressor:predict",
      payload: { instances: [{ a: 1 }] },
    });
    assert.equal(named.statusCode, 400);
    assert.match(named.json().error, /no feature names/);
  });

  test("metadata maps ONNX types to protocol datatypes with -1 for variable dims", async () => {
    const meta = (await s.app.inject("/v2/models/multi_io")).json();
    assert.equal(meta.platform, "onnxruntime_onnx");
    assert.deepEqual(meta.inputs, [
      { name: "x", datatype: "FP32", shape: [-1, 3] },
      { name: "k", datatype: "INT64", shape: [-1, -1] },
    ]);
    assert.deepEqual(meta.outputs, [
      { name: "x_double", datatype: "FP64", shape: [-1, 3] },
      { name: "k_plus_one", datatype: "INT64", shape: [-1, -1] },
    ]);
  });

  test("an INT64 result beyond 2^53 is an error, never a silently rounded number", async () => {
    const edge = Number.MAX_SAFE_INTEGER; // k + 1 = 2^53 cannot be sent exactly as a JSON number
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/multi_io/infer",
      payload: {
        inputs: [
          { name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] },
          { name: "k", datatype: "INT64", shape: [1, 1], data: [edge] },
        ],
        outputs: [{ name: "k_plus_one" }],
      },
    });
    assert.equal(res.statusCode, 500);
    // The detail goes to the server log; the client gets the request id to find it.
    assert.equal(
      res.json().error,
      `model multi_io failed (request ${res.headers["x-request-id"]}); see the server log`,
    );
    const tooBig = await s.app.inject({
      method: "POST",
      url: "/v2/models/multi_io/infer",
      payload: {
        inputs: [
          { name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] },
          { name: "k", datatype: "INT64", shape: [1, 1], data: [2 ** 60] },
        ],
      },
    });
    assert.equal(tooBig.statusCode, 400);
    assert.match(tooBig.json().error, /input 'k': data\[0\].*±2\^53/);
  });

  test("a version in use cannot be deleted; the same bytes register once", async () => {
    const del = await s.app.inject({ method: "DELETE", url: "/api/v1/models/tree_classifier/versions/1" });
    assert.equal(del.statusCode, 409);
    assert.match(del.json().error, /tree_classifier/);
    const bytes = await readFile("test/fixtures/onnx/tree_classifier.onnx");
    const up = await s.app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { "content-type": "application/octet-stream" },
      payload: bytes,
    });
    const again = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/tree_classifier/versions",
      payload: { artifact: up.json().artifact },
    });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().created, false);
    assert.equal(again.json().version.version, 1);
  });
});
