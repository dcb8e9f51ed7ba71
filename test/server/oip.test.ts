import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, expectedProbability, type TestServer } from "../helpers/app.js";

describe("Open Inference Protocol v2 over HTTP", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => s.close());

  test("health, server metadata", async () => {
    assert.deepEqual((await s.app.inject("/v2/health/live")).json(), { live: true });
    const ready = await s.app.inject("/v2/health/ready");
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true });
    const meta = (await s.app.inject("/v2")).json();
    assert.equal(meta.name, "ballast");
    assert.ok(Array.isArray(meta.extensions));
  });

  test("model metadata lists tensors with datatypes, -1 dims and feature names", async () => {
    for (const url of ["/v2/models/fraud", "/v2/models/fraud/versions/1"]) {
      const res = await s.app.inject(url);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.name, "fraud");
      assert.deepEqual(body.versions, ["1"]);
      assert.equal(body.platform, "ballast_builtin");
      assert.deepEqual(body.inputs, [{ name: "input", datatype: "FP32", shape: [-1, 3] }]);
      assert.deepEqual(
        body.outputs.map((o: { name: string; datatype: string }) => [o.name, o.datatype]),
        [
          ["probability", "FP32"],
          ["label", "INT64"],
        ],
      );
      assert.deepEqual(body.parameters.features, ["amount", "hour", "night"]);
    }
    const ready = await s.app.inject("/v2/models/fraud/ready");
    assert.deepEqual(ready.json(), { name: "fraud", ready: true });
    assert.equal((await s.app.inject("/v2/models/fraud/versions/1/ready")).statusCode, 200);
    assert.equal((await s.app.inject("/v2/models/fraud/versions/7/ready")).statusCode, 404);
  });

  test("infer with flat and nested data gives the same row-major outputs and echoes id", async () => {
    const rows = [
      [2.5, 3, 1],
      [0.1, 14, 0],
    ];
    const flat = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      payload: {
        id: "req-42",
        inputs: [{ name: "input", datatype: "FP32", shape: [2, 3], data: rows.flat() }],
      },
    });
    assert.equal(flat.statusCode, 200, flat.body);
    const nested = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/versions/1/infer",
      payload: { inputs: [{ name: "input", datatype: "FP32", shape: [2, 3], data: rows }] },
    });
    const a = flat.json();
    const b = nested.json();
    assert.equal(a.id, "req-42");
    assert.equal(a.model_name, "fraud");
    assert.equal(a.model_version, "1");
    assert.deepEqual(a.outputs, b.outputs);
    const prob = a.outputs.find((o: { name: string }) => o.name === "probability");
    assert.deepEqual(prob.shape, [2]);
    rows.forEach((r, i) => assert.ok(Math.abs(prob.data[i] - expectedProbability(r)) < 1e-6));
    const label = a.outputs.find((o: { name: string }) => o.name === "label");
    assert.deepEqual(
      label.data,
      rows.map((r) => (expectedProbability(r) >= 0.5 ? 1 : 0)),
    );
    // Without an id in the body, the response id is the request id.
    assert.equal(b.id, nested.headers["x-request-id"]);
  });

  test("outputs selection returns only the named outputs", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      payload: {
        inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }],
        outputs: [{ name: "label" }],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      res.json().outputs.map((o: { name: string }) => o.name),
      ["label"],
    );
  });

  test("request id is taken from x-request-id or generated", async () => {
    const given = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "x-request-id": "abc-123" },
      payload: { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }] },
    });
    assert.equal(given.headers["x-request-id"], "abc-123");
    const generated = await s.app.inject("/v2/health/live");
    // A ULID: time-ordered, so ids generated later sort later.
    assert.match(String(generated.headers["x-request-id"]), /^[0-9A-HJKMNP-TV-Z]{26}$/);
    const later = await s.app.inject("/v2/health/live");
    assert.ok(String(later.headers["x-request-id"]) > String(generated.headers["x-request-id"]));
  });

  test("named-feature endpoint maps instances through feature names", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: {
        instances: [{ amount: 2.5, hour: 3, night: 1, merchant_category: "travel" }, [0.1, 14, 0]],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.model_version, "1");
    assert.equal(body.predictions.length, 2);
    assert.ok(Math.abs(body.predictions[0].probability - expectedProbability([2.5, 3, 1])) < 1e-6);
    assert.ok(Math.abs(body.predictions[1].probability - expectedProbability([0.1, 14, 0])) < 1e-6);
    assert.equal(body.request_id, res.headers["x-request-id"]);
  });

  test("bad requests get 4xx with an error naming what is wrong", async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ["POST", "/v2/models/nope/infer", { inputs: [] }, 404, /not deployed/],
      ["GET", "/v2/models/nope", undefined, 404, /not deployed/],
      ["POST", "/v2/models/fraud/versions/9/infer", { inputs: [] }, 404, /version 9/],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "input", datatype: "FP99", shape: [1], data: [1] }] },
        400,
        /datatype/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2] }] },
        400,
        /2 elements.*needs 3/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "input", datatype: "INT64", shape: [1, 3], data: [1, 2, 3] }] },
        400,
        /must be FP32/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "input", datatype: "FP32", shape: [3], data: [1, 2, 3] }] },
        400,
        /does not fit/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] },
        400,
        /'x' is not an input/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, "a", 3] }] },
        400,
        /data\[1\]/,
      ],
      [
        "POST",
        "/v2/models/fraud/infer",
        {
          inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }],
          outputs: [{ name: "zzz" }],
        },
        400,
        /'zzz'/,
      ],
      [
        "POST",
        "/v1/models/fraud:predict",
        { instances: [{ amount: 1, hour: 2 }] },
        400,
        /missing feature 'night'/,
      ],
      [
        "POST",
        "/v1/models/fraud:predict",
        { instances: [{ amount: "x", hour: 2, night: 0 }] },
        400,
        /amount must be a finite number/,
      ],
      ["POST", "/v1/models/fraud:explain", { instances: [] }, 404, /:predict/],
    ];
    for (const [method, url, payload, status, pattern] of cases) {
      const res = await s.app.inject({
        method: method as "GET" | "POST",
        url,
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      assert.match(res.json().error, pattern, url);
      assert.ok(res.headers["x-request-id"], `${url}: errors carry a request id too`);
    }
  });

  test("broken JSON is a 400 and a body over the limit a 413", async () => {
    const broken = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "content-type": "application/json" },
      payload: '{"inputs": [',
    });
    assert.equal(broken.statusCode, 400);
    assert.match(broken.json().error, /not valid JSON/);
    const small = await startTestServer({ app: { bodyLimit: 1024 } });
    try {
      const big = await small.app.inject({
        method: "POST",
        url: "/v2/models/fraud/infer",
        payload: {
          inputs: [{ name: "input", datatype: "FP32", shape: [1000, 3], data: new Array(3000).fill(1.5) }],
        },
      });
      assert.equal(big.statusCode, 413);
      assert.match(big.json().error, /larger than/);
    } finally {
      await small.close();
    }
  });
});
