/**
 * The recsys story closes its loop, unattended and in-process: a day of impressions before the
 * holiday and one after (src/sim/recsys.ts with holiday fatigue: usual tastes count less, gifts
 * sell), one 1-minute bucket per day on a manual clock. The click-through KPI drops below its
 * bound, the `kpi` trigger of `recsys-retrain` (examples/recsys/retrain.yaml) retrains on the
 * labelled impressions of the last window; the candidate beats the champion on the holdout
 * (AUC and log loss on the same rows) and on click-through in the canary, and is promoted.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRandom } from "../../src/sim/random.js";
import { createWorld, recsysModel, shownIndex } from "../../src/sim/recsys.js";
import type { TestServer } from "../helpers/app.js";

/** sha256 of nothing: what a fingerprint over no datasets would be. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
import {
  applyFile,
  driveRun,
  evaluateMonitors,
  loopServer,
  post,
  register,
  rolloutOf,
  runsOf,
  servedVersions,
} from "./harness.js";

const DAY_MS = 60_000;
const IMPRESSIONS = 2000;
const world = createWorld(7, 2000, 500, { holidayFatigue: 0.6 });
const rng = createRandom(8);
let sent = 0;

/** Impressions: the top-scored of five candidates is shown; its click (or not) is the label. */
async function impressions(s: TestServer, n: number, holiday: boolean): Promise<void> {
  const feedback: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const { user, candidates } = world.impression(rng, holiday);
    const id = `imp-${++sent}`;
    const res = (await post(
      s,
      "/v1/models/recsys:predict",
      { instances: candidates.map((c) => c.features) },
      { "x-request-id": id, "x-user-id": user.id },
    )) as { predictions: Array<Record<string, number>> };
    const shown = shownIndex(res.predictions.map((p) => p.probability ?? 0));
    const clicked = rng.bernoulli(world.clickProbability(user, candidates[shown]!.item, holiday));
    feedback.push({ request_id: id, row: shown, label: clicked });
    if (clicked === 1) feedback.push({ request_id: id, row: shown, event: "click" });
  }
  for (let i = 0; i < feedback.length; i += 500)
    await post(s, "/v1/feedback", { feedback: feedback.slice(i, i + 500) });
  await s.ballast.predictionLog.flush();
}

async function day(s: TestServer, holiday: boolean): Promise<void> {
  const start = Math.ceil(s.clock.now() / DAY_MS) * DAY_MS;
  s.clock.t = start + 40_000;
  await impressions(s, IMPRESSIONS, holiday);
  s.clock.t = start + DAY_MS - 1000;
  await evaluateMonitors(s);
}

describe("the recsys loop", () => {
  let s: TestServer;
  before(async () => {
    s = await loopServer();
    const file = join(s.dataDir, "recsys-stable.json");
    await writeFile(file, JSON.stringify(recsysModel("stable")));
    assert.equal(await register(s, "recsys", file), 1);
    await applyFile(s, "examples/recsys/retrain.yaml");
    await s.ballast.endpoints.sync();
  });
  after(async () => s.close());

  test("the holiday drops click-through; the KPI trigger retrains; the candidate wins on the holdout and in the canary", async () => {
    await day(s, false);
    assert.deepEqual(
      (await runsOf(s, "recsys-retrain")).map((r) => r.trigger.reason),
      [],
      "no breach before the holiday",
    );
    await day(s, true);
    const runs = await runsOf(s, "recsys-retrain");
    assert.equal(runs.length, 1, "the KPI trigger started one run");
    const [first] = runs;
    assert.equal(first!.trigger.kind, "kpi");
    assert.match(
      first!.trigger.reason,
      /^KPI event_rate of click on deployment recsys is 0\.\d+, below 0\.024/,
    );

    const run = await driveRun(s, first!.id);
    assert.equal(run.state, "Succeeded", run.reason ?? "");
    const validate = run.steps.find((st) => st.step === "validate")!;
    const summary = JSON.stringify(validate.summary);
    assert.ok(validate.summary !== undefined && validate.summary !== null, summary);
    const v2 = await s.ballast.registry.getVersion("recsys", 2);
    assert.equal(v2.lineage.runId, run.id);
    assert.equal(v2.lineage.parentVersion, 1);
    assert.match(String(v2.lineage.dataFingerprint), /^[0-9a-f]{64}$/);
    assert.notEqual(v2.lineage.dataFingerprint, EMPTY_SHA256, "the fingerprint covers the training data");
    assert.match(JSON.stringify(v2.lineage.parameters), /"source":\{"log":"recsys"/);
    assert.ok((v2.metrics.auc ?? 0) > 0.5, JSON.stringify(v2.metrics));

    assert.equal((await rolloutOf(s, "recsys")).rollout?.canary.version, 2);
    let view = await rolloutOf(s, "recsys");
    for (
      let round = 0;
      round < 40 && ["Progressing", "Paused"].includes(view.rollout?.phase ?? "");
      round++
    ) {
      await impressions(s, 200, true);
      s.clock.advance(5000);
      await s.ballast.rollouts.tick();
      view = await rolloutOf(s, "recsys");
    }
    assert.equal(view.rollout?.phase, "Succeeded", JSON.stringify(view));
    const clicks = view.gates.find((g) => g.gate === "event_rate(click)") as unknown as {
      observed: { canaryRate: number; stableRate: number };
    };
    assert.ok(clicks.observed.canaryRate > clicks.observed.stableRate, JSON.stringify(clicks));
    assert.deepEqual(await servedVersions(s, "recsys"), [2]);
  });
});
