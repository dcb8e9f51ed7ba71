// Regime classifiers as builtin models, registered and served through the normal path
// (openBallast + buildApp + POST /v2/models/{name}/infer), checked against regime-classifier.ts;
// a degenerate classifier is refused at registration.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { classifyWindow, parseRegimeModel } from "../../src/markets/regime-classifier.js";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { series } from "./data.js";

const SWITCHING = {
  labels: ["calm", "turbulent"],
  transition: [
    [0.9887821638987552, 0.011217836101244886],
    [0.04753218770374541, 0.9524678122962545],
  ],
  means: [0.05475158139733519, -0.13636759273165464],
  variances: [0.4614964022251546, 4.938642993094513],
  scale: 100,
};
const RULES = {
  method: "rules",
  labels: ["calm", "turbulent"],
  scale: 1,
  rules: {
    indicator: "realized",
    window: 20,
    lookback: 100,
    enter: { turbulent: 0.8 },
    exit: { turbulent: 0.6 },
    minDuration: 5,
  },
};
const MODELS: Record<string, { kind: string; window: number; regimes: object }> = {
  ms: { kind: "markov-switching", window: 250, regimes: { method: "markov-switching", ...SWITCHING } },
  hmm: { kind: "hmm", window: 250, regimes: { method: "hmm", ...SWITCHING } },
  rules: { kind: "regime-rules", window: 150, regimes: RULES },
};

async function deploy(s: TestServer, name: string, model: object): Promise<void> {
  const path = join(s.dataDir, `${name}.json`);
  await writeFile(path, JSON.stringify(model));
  const { version } = await s.ballast.registry.registerVersion({ model: name, artifactPath: path });
  await s.ballast.deployments.put({
    name,
    variants: [{ name: "stable", model: name, ref: { version: version.version }, weight: 100 }],
  });
  await s.ballast.endpoints.sync();
}

describe("regime classifiers served as builtin models", () => {
  let s: TestServer;
  const sp = series("sp500dge.csv", "ret");
  const crash = sp.findIndex((r) => r < -0.2);
  before(async () => {
    s = await startTestServer({ deploy: false });
    for (const [name, m] of Object.entries(MODELS))
      await deploy(s, name, { format: "ballast.builtin/v1", ...m, training: { note: "test" } });
  });
  after(async () => s.close());

  for (const name of Object.keys(MODELS)) {
    test(`${name}: probabilities [n, 2] and regime [n] are classifyWindow's, row by row`, async () => {
      const m = MODELS[name] as (typeof MODELS)[string];
      const ends = [1000, crash + 1, crash + 200];
      const rows = ends.map((end) => sp.slice(end - m.window, end));
      const res = await s.app.inject({
        method: "POST",
        url: `/v2/models/${name}/infer`,
        payload: {
          inputs: [{ name: "returns", datatype: "FP64", shape: [rows.length, m.window], data: rows.flat() }],
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as {
        outputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }>;
      };
      const probabilities = body.outputs.find((o) => o.name === "probabilities");
      const regime = body.outputs.find((o) => o.name === "regime");
      assert.deepEqual(probabilities?.shape, [3, 2]);
      assert.equal(probabilities?.datatype, "FP64");
      assert.deepEqual(regime?.shape, [3]);
      assert.equal(regime?.datatype, "INT64");
      const model = parseRegimeModel((m as { regimes: object }).regimes);
      rows.forEach((row, r) => {
        const expected = classifyWindow(model, row);
        assert.equal(Number(regime?.data[r]), expected.regime, `row ${r}`);
        expected.probabilities.forEach((p, k) =>
          assert.ok(Math.abs((probabilities?.data[r * 2 + k] as number) - p) < 1e-12, `row ${r} regime ${k}`),
        );
      });
      // The crash's window reads turbulent whatever the method.
      assert.equal(Number(regime?.data[1]), 1);
    });
  }

  test("the signature declares returns [-1, window] in, probabilities and regime out", async () => {
    const res = await s.app.inject({ method: "GET", url: "/v2/models/rules" });
    assert.equal(res.statusCode, 200, res.body);
    const meta = res.json() as {
      inputs: Array<{ name: string; shape: number[] }>;
      outputs: Array<{ name: string }>;
    };
    assert.deepEqual(meta.inputs[0], { name: "returns", datatype: "FP64", shape: [-1, 150] });
    assert.deepEqual(
      meta.outputs.map((o) => o.name),
      ["probabilities", "regime"],
    );
  });

  test("a degenerate classifier is refused at registration, naming the regime and its variance", async () => {
    const path = join(s.dataDir, "degenerate.json");
    const bad = {
      format: "ballast.builtin/v1",
      kind: "hmm",
      window: 250,
      regimes: { method: "hmm", ...SWITCHING, variances: [1e-9, 4.9] },
    };
    await writeFile(path, JSON.stringify(bad));
    await assert.rejects(
      s.ballast.registry.registerVersion({ model: "degenerate", artifactPath: path }),
      /regimes: regime 0 \(calm\) is degenerate: its variance 1\.000e-9/,
    );
  });

  test("bad files name the field: a rules window shorter than its warm-up, a method that is not the kind's", () => {
    assert.throws(
      () =>
        parseBuiltinModel({ format: "ballast.builtin/v1", kind: "regime-rules", window: 50, regimes: RULES }),
      /window must be an integer from 119 to 20000 \(rules need window \+ lookback - 1 returns\)/,
    );
    assert.throws(
      () => parseBuiltinModel({ format: "ballast.builtin/v1", kind: "hmm", window: 50, regimes: RULES }),
      /regimes\.method is rules but kind hmm needs hmm/,
    );
    const text = serializeBuiltinModel(parseBuiltinModel({ format: "ballast.builtin/v1", ...MODELS.ms }));
    assert.deepEqual(
      parseBuiltinModel(text),
      parseBuiltinModel({ format: "ballast.builtin/v1", ...MODELS.ms }),
    );
  });
});
