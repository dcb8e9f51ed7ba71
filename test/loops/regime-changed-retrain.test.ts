/**
 * A Router's RegimeChanged alert starts a pipeline run through an `alert` trigger naming the
 * router: calm bars, then turbulent ones, reach the router bound to the instrument; its live
 * filter turns turbulent, and the pipeline hearing `RegimeChanged` of that router starts with
 * the alert in its reason, while one hearing another alert of it and one hearing another router
 * stay quiet. A trigger naming a Router that does not exist is refused at apply. Fixed bars and
 * a manual clock: no timing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TestServer } from "../helpers/app.js";
import { loopServer, runsOf } from "./harness.js";
import {
  apply,
  BASE,
  CLASSIFIER,
  deploy,
  registerClassifier,
  router,
  W,
} from "../helpers/router-fixtures.js";

function pipeline(name: string, alert: Record<string, unknown>) {
  return {
    apiVersion: "ballast/v1",
    kind: "Pipeline",
    metadata: { name },
    spec: {
      steps: [{ name: "data", source: { files: { path: "bars.csv", format: "csv" } } }],
      triggers: [{ alert }],
    },
  };
}

describe("an alert trigger naming a router starts a run on its RegimeChanged", () => {
  let s: TestServer;

  before(async () => {
    s = await loopServer();
    await deploy(s, "ewma", { format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.94 });
    await deploy(s, "last", { format: "ballast.builtin/v1", kind: "last-value", window: W });
    await registerClassifier(s, CLASSIFIER);
  });
  after(async () => s.close());

  test("a trigger naming a Router that does not exist is refused at apply, naming the field", async () => {
    const res = await apply(s, pipeline("refit", { router: "vol", alertname: "RegimeChanged" }));
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json();
    assert.equal(body.code, "invalid_argument");
    assert.match(body.error, /triggers\[0\]\.alert\.router: Router vol does not exist/);
    assert.equal((await runsOf(s, "refit")).length, 0);
  });

  test("the regime change starts the pipeline hearing it, once; the others stay quiet", async () => {
    const res = await apply(
      s,
      router("vol", { ...BASE, instrument: "spx", scale: 100 }),
      router("rates", { ...BASE, instrument: "tnx", scale: 100 }),
      pipeline("refit", { router: "vol", alertname: "RegimeChanged" }),
      pipeline("champion", { router: "vol", alertname: "RegimeChampionChanged" }),
      pipeline("rates-refit", { router: "rates", alertname: "RegimeChanged" }),
    );
    assert.equal(res.statusCode, 200, res.body);
    await s.ballast.replica.leases.renew();
    await s.ballast.pipelineTriggers.refresh();

    const calm = Array.from({ length: W }, (_, i) => 0.004 * Math.sin(1.7 * i + 1));
    const turbulent = Array.from({ length: W }, (_, i) => 0.03 * Math.sin(1.7 * i + 2));
    const bars = [...calm, ...turbulent].map((r, i) => ({ time: 1000 + i, return: i === 0 ? null : r }));
    await s.ballast.routers.observeBars("spx", bars);
    await s.ballast.alerts.idle();
    await s.ballast.pipelineTriggers.settled();

    const changes = await s.ballast.events.list({ kind: "Router", name: "vol" });
    assert.ok(
      changes.some((e) => e.reason === "RegimeChanged"),
      JSON.stringify(changes.map((e) => e.reason)),
    );
    const runs = await runsOf(s, "refit");
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.trigger.kind, "alert");
    assert.equal(
      runs[0]?.trigger.reason,
      "alert RegimeChanged of router vol firing (info): spx turned turbulent (from calm)",
    );
    assert.equal((await runsOf(s, "champion")).length, 0);
    assert.equal((await runsOf(s, "rates-refit")).length, 0);
    const fired = await s.ballast.events.list({ kind: "Pipeline", name: "refit" });
    assert.deepEqual(
      fired.map((e) => e.reason).filter((r) => r.startsWith("Trigger")),
      ["TriggerFired"],
    );
  });

  test("a regimeLoss trigger's router is checked alike: refused when missing, held while referenced", async () => {
    const losses = (name: string, router: string) => ({
      ...pipeline(name, {}),
      spec: {
        steps: [{ name: "data", source: { files: { path: "bars.csv", format: "csv" } } }],
        triggers: [{ regimeLoss: { router, specialist: "ewma", ratio: 1.2, recent: 50, baseline: 250 } }],
      },
    });
    const missing = await apply(s, losses("refit-loss", "nowhere"));
    assert.equal(missing.statusCode, 400, missing.body);
    assert.match(missing.json().error, /triggers\[0\]\.regimeLoss\.router: Router nowhere does not exist/);
    const held = await apply(
      s,
      router("held", { ...BASE, instrument: "dji", scale: 100 }),
      losses("refit-loss", "held"),
    );
    assert.equal(held.statusCode, 200, held.body);
    const res = await s.app.inject({ method: "DELETE", url: "/api/v1/resources/Router/held" });
    assert.equal(res.statusCode, 409, res.body);
    assert.match(
      res.json().error,
      /^Router held is used by Pipeline refit-loss \(triggers\[0\]\.regimeLoss\.router\)/,
    );
  });

  test("a Router a pipeline's trigger hears cannot be deleted from under it", async () => {
    const res = await s.app.inject({ method: "DELETE", url: "/api/v1/resources/Router/vol" });
    assert.equal(res.statusCode, 409, res.body);
    assert.match(
      res.json().error,
      /^Router vol is used by Pipeline (refit|champion) \(triggers\[0\]\.alert\.router\)/,
    );
  });
});
