// The shipped LSTM specialist (examples/markets/models/lstm.onnx, trained by train_lstm.py on
// the first 13,644 returns of sp500dge) registered and served through the normal path
// (onnxruntime-node, POST /v2/models/{name}/infer), under the builtin specialists' contract.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { qlike } from "../../src/markets/evaluation.js";
import { series } from "./data.js";

const MODEL = join(import.meta.dirname, "..", "..", "examples", "markets", "models", "lstm.onnx");
const WINDOW = 20;
const TRAINED_ON = 13_644;

async function infer(s: TestServer, rows: number[][], datatype = "FP32") {
  const res = await s.app.inject({
    method: "POST",
    url: "/v2/models/lstm/infer",
    payload: {
      inputs: [{ name: "returns", datatype, shape: [rows.length, WINDOW], data: rows.flat() }],
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  const out = res.json().outputs[0] as { name: string; shape: number[]; data: number[] };
  assert.equal(out.name, "variance");
  assert.deepEqual(out.shape, [rows.length, 1]);
  return out.data;
}

describe("the shipped LSTM specialist served over OIP", () => {
  let s: TestServer;
  const sp = series("sp500dge.csv", "ret", 100);
  before(async () => {
    s = await startTestServer({ deploy: false });
    const { version } = await s.ballast.registry.registerVersion({ model: "lstm", artifactPath: MODEL });
    await s.ballast.deployments.put({
      name: "lstm",
      variants: [{ name: "stable", model: "lstm", ref: { version: version.version }, weight: 100 }],
    });
    await s.ballast.endpoints.sync();
  });
  after(async () => s.close());

  test("its signature is the specialists' contract: returns [-1, 20] in, variance [-1, 1] out", async () => {
    const meta = (await s.app.inject("/v2/models/lstm")).json();
    assert.deepEqual(meta.inputs, [{ name: "returns", datatype: "FP32", shape: [-1, WINDOW] }]);
    assert.deepEqual(meta.outputs, [{ name: "variance", datatype: "FP32", shape: [-1, 1] }]);
  });

  test("500 held-out windows give positive finite variances that beat a constant forecast in QLIKE", async () => {
    // Returns after the training prefix: each window ends just before the return it forecasts.
    const rows: number[][] = [];
    const realized: number[] = [];
    for (let t = TRAINED_ON; rows.length < 500; t++) {
      const r = sp[t] as number;
      if (r === 0) continue; // QLIKE needs a non-zero realized variance
      rows.push(sp.slice(t - WINDOW, t));
      realized.push(r * r);
    }
    const variance = await infer(s, rows);
    for (const [i, v] of variance.entries())
      assert.ok(Number.isFinite(v) && v > 0, `row ${i + 1}: variance ${v}`);
    const train = sp.slice(0, TRAINED_ON);
    const constant = train.reduce((a, r) => a + r * r, 0) / train.length;
    const mean = (f: (i: number) => number) => realized.reduce((a, _, i) => a + f(i), 0) / realized.length;
    const lstm = mean((i) => qlike(realized[i] as number, variance[i] as number));
    const flat = mean((i) => qlike(realized[i] as number, constant));
    assert.ok(lstm < flat, `LSTM QLIKE ${lstm} should be below the constant's ${flat}`);
  });

  test("it reacts to volatility: the window of October 1987 forecasts more than a calm one", async () => {
    // The largest absolute return in the series is 19 October 1987.
    let crash = 0;
    sp.forEach((r, i) => {
      if (Math.abs(r) > Math.abs(sp[crash] as number)) crash = i;
    });
    const calm = sp.slice(TRAINED_ON - WINDOW, TRAINED_ON).map(() => 0.3);
    const [afterCrash, quiet] = await infer(s, [sp.slice(crash + 1 - WINDOW, crash + 1), calm]);
    assert.ok((afterCrash as number) > 4 * (quiet as number), `${afterCrash} vs ${quiet}`);
  });

  test("a batch gives each row what it gives alone (the batch axis is dynamic and rows independent)", async () => {
    const rows = [sp.slice(100, 120), sp.slice(5000, 5020), sp.slice(15000, 15020)];
    const together = await infer(s, rows);
    for (const [i, row] of rows.entries()) {
      const [alone] = await infer(s, [row]);
      assert.ok(Math.abs((alone as number) - (together[i] as number)) <= 1e-6 * (alone as number));
    }
  });

  test("FP64 returns (what a router forwards) are rounded to the model's FP32: the same answer", async () => {
    const rows = [sp.slice(100, 120), sp.slice(15000, 15020)];
    assert.deepEqual(await infer(s, rows, "FP64"), await infer(s, rows, "FP32"));
  });

  test("an integer tensor for the FP32 input is still refused, naming the input", async () => {
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/lstm/infer",
      payload: {
        inputs: [{ name: "returns", datatype: "INT64", shape: [1, WINDOW], data: Array(WINDOW).fill(1) }],
      },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().error, /input 'returns': datatype must be FP32, got INT64/);
  });
});
