/**
 * A regimeLoss trigger end to end: a Router over two builtin specialists bound to an instrument,
 * bars arriving through observeBars with an answer at each, and a Pipeline that refits on the
 * router's per-regime loss. While `ewma` forecasts well nothing starts; once its deployment
 * serves a model that forecasts a variance far too small, its calm QLIKE over the latest rounds
 * jumps above the rounds before and a run of the pipeline starts with that reason. Seeded returns
 * and a manual clock: no timing.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { createRandom } from "../../src/sim/random.js";
import type { TestServer } from "../helpers/app.js";
import { loopServer, post, runsOf } from "./harness.js";
import { CLASSIFIER, W } from "../helpers/router-fixtures.js";

async function deploy(s: TestServer, name: string, model: object): Promise<void> {
  const path = join(s.dataDir, `${name}-${Date.now()}-${Math.random()}.json`);
  await writeFile(path, serializeBuiltinModel(parseBuiltinModel(model)));
  const { version } = await s.ballast.registry.registerVersion({ model: name, artifactPath: path });
  await s.ballast.deployments.put({
    name,
    variants: [{ name: "stable", model: name, ref: { version: version.version }, weight: 100 }],
  });
  await s.ballast.endpoints.sync();
}

describe("a regimeLoss trigger starts a refit when a specialist degrades in its regime", () => {
  let s: TestServer;
  const random = createRandom(11);
  const returns: number[] = Array.from({ length: W }, () => random.normal(0, 0.005));
  let time = 0;

  /** One bar: its return joins the previous answer's outcome; then the router answers at it. */
  async function bar(): Promise<void> {
    const r = random.normal(0, 0.005);
    returns.push(r);
    time += 1;
    await s.ballast.routers.observeBars("spx", [{ time, return: r }]);
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/vol/infer",
      payload: { inputs: [{ name: "returns", datatype: "FP64", shape: [1, W], data: returns.slice(-W) }] },
    });
    assert.equal(res.statusCode, 200, res.body);
  }

  async function judge(): Promise<void> {
    await s.ballast.replica.leases.renew();
    await s.ballast.pipelineTriggers.tick();
    await s.ballast.pipelineTriggers.settled();
  }

  before(async () => {
    s = await loopServer();
    await deploy(s, "ewma", { format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.94 });
    await deploy(s, "last", { format: "ballast.builtin/v1", kind: "last-value", window: W });
    const path = join(s.dataDir, "regimes.json");
    await writeFile(path, JSON.stringify(CLASSIFIER));
    await s.ballast.registry.registerVersion({ model: "regimes", artifactPath: path });
    await post(s, "/api/v1/apply", {
      source: { via: "cli" },
      resources: [
        {
          manifest: {
            apiVersion: "ballast/v1",
            kind: "Router",
            metadata: { name: "vol" },
            spec: {
              classifier: { model: "regimes", version: 1 },
              regimes: ["calm", "turbulent"],
              specialists: [
                { name: "ewma", deployment: "ewma" },
                { name: "last", deployment: "last" },
              ],
              weights: { calm: { route: "ewma" }, turbulent: { route: "ewma" } },
              instrument: "spx",
              scale: 1,
            },
          },
        },
        {
          manifest: {
            apiVersion: "ballast/v1",
            kind: "Pipeline",
            metadata: { name: "refit-ewma" },
            spec: {
              cooldown: "1h",
              steps: [{ name: "data", source: { files: { path: "bars.csv", format: "csv" } } }],
              triggers: [
                {
                  regimeLoss: {
                    router: "vol",
                    specialist: "ewma",
                    regime: "calm",
                    ratio: 2,
                    recent: 20,
                    baseline: 60,
                    minSamples: 20,
                  },
                },
              ],
            },
          },
        },
      ],
    });
    await s.ballast.routers.observeBars("spx", [{ time, return: null }]);
  });
  after(async () => s.close());

  test("healthy: judged and quiet; degraded: a run starts with the reason, once", async () => {
    for (let i = 0; i < 80; i++) await bar();
    await judge();
    assert.equal((await runsOf(s, "refit-ewma")).length, 0);
    const perf = (await s.app.inject({ url: "/api/v1/routers/vol/performance?by=regime" })).json();
    const calm = (perf.regimes.calm as Array<{ model: string; n: number }>).find((r) => r.model === "ewma");
    // 80 answers, the last one's outcome still to come with the next bar.
    assert.equal(calm?.n, 79, JSON.stringify(perf.regimes.calm));

    // ewma's deployment now serves a model far too calm: 1e-8 against returns of 0.005 squared.
    await deploy(s, "ewma", {
      format: "ballast.builtin/v1",
      kind: "har-rv",
      window: W,
      coefficients: { intercept: 1e-8, daily: 0, weekly: 0, monthly: 0 },
    });
    for (let i = 0; i < 20; i++) await bar();
    await judge();
    const runs = await runsOf(s, "refit-ewma");
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.trigger.kind, "regimeLoss");
    assert.match(
      runs[0]?.trigger.reason ?? "",
      /^regime loss degraded on router vol: ewma in calm, QLIKE [\d.]+ over the last 20 rounds is [\d.]+× its [\d.]+ over the 60 before \(threshold 2×\)$/,
    );
    const events = await s.ballast.events.list({ kind: "Pipeline", name: "refit-ewma" });
    assert.ok(events.some((e) => e.reason === "TriggerFired"));
    // Still degraded on the next judgement: the breach is held, no second run.
    await bar();
    await judge();
    assert.equal((await runsOf(s, "refit-ewma")).length, 1);
  });
});
