// The volatility specialists as builtin models, registered and served through the normal path
// (openBallast + buildApp + POST /v2/models/{name}/infer), checked against garch.ts.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { fitGarch, forecastVariance } from "../../src/markets/garch.js";
import { fitHarRv } from "../../src/markets/specialists.js";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { fixture, series } from "./data.js";

const WINDOW = 250;
const HORIZON = 5;

async function deploy(s: TestServer, name: string, model: object): Promise<void> {
  const path = join(s.dataDir, `${name}.json`);
  await writeFile(path, serializeBuiltinModel(parseBuiltinModel(model)));
  const { version } = await s.ballast.registry.registerVersion({ model: name, artifactPath: path });
  await s.ballast.deployments.put({
    name,
    variants: [{ name: "stable", model: name, ref: { version: version.version }, weight: 100 }],
  });
  await s.ballast.endpoints.sync();
}

async function infer(s: TestServer, name: string, rows: number[][], datatype = "FP64") {
  return s.app.inject({
    method: "POST",
    url: `/v2/models/${name}/infer`,
    payload: {
      inputs: [{ name: "returns", datatype, shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() }],
    },
  });
}

describe("volatility specialists served as builtin models", () => {
  let s: TestServer;
  const dem = series("dem2gbp.csv", "ret");
  const fit = fitGarch(dem, { standardErrors: false });
  before(async () => {
    s = await startTestServer({ deploy: false });
    await deploy(s, "garch", {
      format: "ballast.builtin/v1",
      kind: "garch",
      window: WINDOW,
      horizon: HORIZON,
      garch: fit.model,
    });
    await deploy(s, "ewma", { format: "ballast.builtin/v1", kind: "ewma", window: 3, lambda: 0.9 });
    await deploy(s, "ewma32", {
      format: "ballast.builtin/v1",
      kind: "ewma",
      window: 3,
      input_datatype: "FP32",
    });
    await deploy(s, "last", { format: "ballast.builtin/v1", kind: "last-value", window: 2, horizon: 2 });
    await deploy(s, "har", {
      format: "ballast.builtin/v1",
      kind: "har-rv",
      window: 22,
      horizon: 2,
      coefficients: { intercept: -1, daily: 0, weekly: 0, monthly: 0 },
    });
  });
  after(async () => s.close());

  test("the served GARCH forecast from the last 250 returns of dem2gbp is garch.ts's to 1e-12", async () => {
    const expected = forecastVariance(fit.model, HORIZON);
    const res = await infer(s, "garch", [dem.slice(-WINDOW), dem.slice(-WINDOW - 1, -1)]);
    assert.equal(res.statusCode, 200, res.body);
    const out = res.json().outputs[0];
    assert.equal(out.name, "variance");
    assert.equal(out.datatype, "FP64");
    assert.deepEqual(out.shape, [2, HORIZON]);
    for (let k = 0; k < HORIZON; k++) {
      assert.ok(
        Math.abs(out.data[k] - (expected[k] as number)) < 1e-12,
        `step ${k + 1}: ${out.data[k]} vs ${expected[k]}`,
      );
    }
    // The second row ends a day earlier: a different (smaller-information) forecast, same model.
    assert.notEqual(out.data[HORIZON], out.data[0]);
  });

  test("the signature names the input `returns` [-1, window] and the output `variance` [-1, horizon]", async () => {
    const meta = (await s.app.inject("/v2/models/garch")).json();
    assert.deepEqual(meta.inputs, [{ name: "returns", datatype: "FP64", shape: [-1, WINDOW] }]);
    assert.deepEqual(meta.outputs, [{ name: "variance", datatype: "FP64", shape: [-1, HORIZON] }]);
  });

  test("EWMA and last-value give the hand-computed numbers", async () => {
    // EWMA, lambda 0.9, window [1, -2, 0.5]: start at mean square 1.75, then three updates.
    let v = (1 + 4 + 0.25) / 3;
    for (const r of [1, -2, 0.5]) v = 0.9 * v + 0.1 * r * r;
    const ewma = (await infer(s, "ewma", [[1, -2, 0.5]])).json().outputs[0];
    assert.ok(Math.abs(ewma.data[0] - v) < 1e-15);
    const last = (await infer(s, "last", [[3, -1]])).json().outputs[0];
    assert.deepEqual(last.data, [5, 5]);
  });

  test("a negative or zero variance is an error naming the model and row, never a number", async () => {
    const har = await infer(s, "har", [Array.from({ length: 22 }, () => 0.5)]);
    assert.equal(har.statusCode, 400, har.body);
    assert.match(
      har.json().error,
      /har-rv forecast a variance of -1 for step 1 \(row 1\); a variance must be a positive finite number/,
    );
    const zero = await infer(s, "last", [
      [0.2, 0.1],
      [0, 0],
    ]);
    assert.equal(zero.statusCode, 400);
    assert.match(zero.json().error, /last-value forecast a variance of 0 for step 1 \(row 2\)/);
  });

  test("FP32 sent to an FP64 model is widened (same answer), INT64 is refused, an FP32 model is served", async () => {
    const wide = await infer(s, "ewma", [[0.5, -0.25, 1]], "FP32");
    const exact = await infer(s, "ewma", [[0.5, -0.25, 1]], "FP64");
    assert.equal(wide.statusCode, 200, wide.body);
    assert.deepEqual(wide.json().outputs[0].data, exact.json().outputs[0].data);
    const res = await infer(s, "ewma", [[1, 2, 3]], "INT64");
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /'returns'.*FP64.*INT64/);
    const fp32 = await infer(s, "ewma32", [[0.5, -0.25, 1]], "FP32");
    assert.equal(fp32.statusCode, 200, fp32.body);
    let v = (0.25 + 0.0625 + 1) / 3;
    for (const r of [0.5, -0.25, 1]) v = 0.94 * v + 0.06 * r * r;
    assert.ok(
      Math.abs(fp32.json().outputs[0].data[0] - v) < 1e-15,
      "FP32 inputs exact in binary are forecast in float64",
    );
  });

  test("the HAR-RV fit on dem2gbp is R's lm() to 1e-9", () => {
    const ref = fixture<{
      n: number;
      intercept: number;
      daily: number;
      weekly: number;
      monthly: number;
      r_squared: number;
    }>("har-rv-dem2gbp.json");
    const got = fitHarRv(dem);
    assert.equal(got.n, ref.n);
    for (const k of ["intercept", "daily", "weekly", "monthly"] as const) {
      assert.ok(Math.abs(got.coefficients[k] - ref[k]) < 1e-9, `${k}: ${got.coefficients[k]} vs R ${ref[k]}`);
    }
    assert.ok(Math.abs(got.rSquared - ref.r_squared) < 1e-9);
  });
});
