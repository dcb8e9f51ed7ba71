/**
 * The fraud story closes its loop, unattended and in-process: six simulated weeks of labelled
 * traffic (src/sim/fraud.ts, one 1-minute bucket per week on a manual clock) through the API; the
 * performance monitor's alert when the concept drifts in week 5 starts `fraud-retrain`
 * (examples/fraud/retrain.yaml), which trains on the last window of labelled production data,
 * beats the champion on the holdout, registers with lineage and canaries; the canary is
 * promoted and the deployment ends on the new version. Also: a retrain in a stable week stopped
 * at validation (nothing registered or deployed), and a candidate that passes validation but
 * fails its canary's accuracy gate rolled back (examples/fraud/misfit.yaml).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { FRAUD_FEATURES, generateFraudWeek, type FraudTransaction } from "../../src/sim/fraud.js";
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

const WEEK_MS = 60_000;
const ROWS = 4000;
const SEED = 42;

function request(t: FraudTransaction): Record<string, unknown> {
  const row: Record<string, unknown> = { merchant_category: t.merchant_category };
  for (const f of FRAUD_FEATURES) row[f] = t[f];
  return row;
}

/** One week: requests in the first seconds of the week's bucket, every row labelled. */
async function sendWeek(s: TestServer, week: number, rows = ROWS): Promise<void> {
  const weekStart = Math.ceil(s.clock.now() / WEEK_MS) * WEEK_MS;
  s.clock.t = weekStart + 40_000;
  const txns = generateFraudWeek({ seed: SEED, week, rows });
  for (let i = 0; i < txns.length; i += 250) {
    const batch = txns.slice(i, i + 250);
    const id = `w${week}-${i}`;
    await post(s, "/v1/models/fraud:predict", { instances: batch.map(request) }, { "x-request-id": id });
    await post(s, "/v1/feedback", {
      feedback: batch.map((t, row) => ({ request_id: id, row, label: t.is_fraud })),
    });
    s.clock.advance(250);
  }
  // Judged near the end of the week's bucket, when its labels are in.
  s.clock.t = weekStart + WEEK_MS - 1000;
  await s.ballast.predictionLog.flush();
  await evaluateMonitors(s);
}

/** Canary traffic with labels until the rollout ends (each round a few seconds of clock). */
let canaries = 0;
async function driveCanary(s: TestServer, week: number, rounds = 40): Promise<string> {
  canaries += 1;
  const txns = generateFraudWeek({ seed: SEED + 1000 * canaries, week, rows: rounds * 250 });
  for (let r = 0; r < rounds; r++) {
    const view = await rolloutOf(s, "fraud");
    if (view.rollout === null || !["Progressing", "Paused"].includes(view.rollout.phase))
      return view.rollout?.phase ?? "none";
    const batch = txns.slice(r * 250, (r + 1) * 250);
    const id = `canary${canaries}-${week}-${r}`;
    for (let i = 0; i < batch.length; i += 25) {
      const rid = `${id}-${i}`;
      const part = batch.slice(i, i + 25);
      await post(s, "/v1/models/fraud:predict", { instances: part.map(request) }, { "x-request-id": rid });
      await post(s, "/v1/feedback", {
        feedback: part.map((t, row) => ({ request_id: rid, row, label: t.is_fraud })),
      });
    }
    await s.ballast.predictionLog.flush();
    s.clock.advance(5000);
    await s.ballast.rollouts.tick();
  }
  return (await rolloutOf(s, "fraud")).rollout?.phase ?? "none";
}

describe("the fraud loop", () => {
  let s: TestServer;
  before(async () => {
    s = await loopServer();
    assert.equal(await register(s, "fraud", "examples/fraud/model/fraud-logreg.json"), 1);
    await applyFile(s, "examples/fraud/retrain.yaml");
    await applyFile(s, "examples/fraud/misfit.yaml");
    await s.ballast.endpoints.sync();
  });
  after(async () => s.close());

  test("a retrain in a stable week is stopped at validation: every failing gate, nothing registered or deployed", async () => {
    await sendWeek(s, 1);
    await sendWeek(s, 2);
    assert.equal((await runsOf(s, "fraud-retrain")).length, 0, "no alert in a stable week");
    const started = await s.ballast.pipelineTriggers.manual("fraud-retrain", { by: "test" });
    assert.equal(started.action, "started", JSON.stringify(started));
    const [first] = await runsOf(s, "fraud-retrain");
    const run = await driveRun(s, first!.id);
    assert.equal(run.state, "Failed");
    const validate = run.steps.find((st) => st.step === "validate")!;
    assert.equal(validate.state, "Failed");
    assert.match(validate.error ?? "", /auc .*(change|champion)/i);
    assert.deepEqual(
      run.steps.filter((st) => st.step === "register" || st.step === "deploy").map((st) => st.state),
      ["Skipped", "Skipped"],
    );
    assert.equal(run.registered ?? null, null);
    assert.equal((await s.ballast.registry.listVersions("fraud")).length, 1);
    assert.equal((await rolloutOf(s, "fraud")).rollout, null);
    assert.deepEqual(await servedVersions(s, "fraud"), [1]);
  });

  test("the concept drifts in week 5: the AUC alert retrains, validates, registers with lineage, canaries once, promotes", async () => {
    for (const week of [3, 4]) await sendWeek(s, week);
    assert.equal((await runsOf(s, "fraud-retrain")).length, 1, "covariate shift alone keeps the AUC");
    await sendWeek(s, 5);
    const runs = await runsOf(s, "fraud-retrain");
    assert.equal(runs.length, 2, "the AUC alert started one run");
    const latest = runs.find((r) => r.trigger.kind === "alert")!;
    assert.match(latest.trigger.reason, /^alert fraud-auc firing \(critical\) on deployment fraud/);
    const run = await driveRun(s, latest.id);
    assert.equal(run.state, "Succeeded", run.reason ?? "");
    const registered = run.registered as { model: string; version: number };
    assert.equal(registered.model, "fraud");
    assert.equal(registered.version, 2);
    const v2 = await s.ballast.registry.getVersion("fraud", 2);
    assert.equal(v2.lineage.runId, run.id);
    assert.equal(v2.lineage.parentVersion, 1);
    assert.match(String(v2.lineage.dataFingerprint), /^[0-9a-f]{64}$/);
    assert.notEqual(v2.lineage.dataFingerprint, EMPTY_SHA256, "the fingerprint covers the training data");
    assert.match(JSON.stringify(v2.lineage.parameters), /"source":\{"log":"fraud"/);
    assert.equal(v2.tags["ballast.pipeline"], "fraud-retrain");
    assert.ok((v2.metrics.auc ?? 0) > 0.7, JSON.stringify(v2.metrics));

    const deployed = await rolloutOf(s, "fraud");
    assert.equal(deployed.rollout?.canary.version, 2);
    const phase = await driveCanary(s, 6);
    assert.equal(phase, "Succeeded", JSON.stringify(await rolloutOf(s, "fraud")));
    assert.deepEqual(await servedVersions(s, "fraud"), [2]);
    const started = (await s.ballast.events.list({ name: "fraud" })).filter((e) =>
      /RolloutStarted|Started/.test(e.reason),
    );
    assert.equal(started.length, 1, started.map((e) => e.message).join("\n"));
  });

  test("a candidate that passes validation but fails its canary is rolled back", async () => {
    await sendWeek(s, 6);
    const started = await s.ballast.pipelineTriggers.manual("fraud-retrain-misfit", { by: "test" });
    assert.equal(started.action, "started", JSON.stringify(started));
    const [latest] = await runsOf(s, "fraud-retrain-misfit");
    const run = await driveRun(s, latest!.id);
    assert.equal(run.state, "Succeeded", run.reason ?? "");
    assert.equal((run.registered as { version: number }).version, 3);
    assert.equal((await rolloutOf(s, "fraud")).rollout?.canary.version, 3);
    const phase = await driveCanary(s, 6);
    const view = await rolloutOf(s, "fraud");
    assert.equal(phase, "Aborted", JSON.stringify(view));
    assert.match(view.rollout?.message ?? "", /accuracy/);
    assert.deepEqual(await servedVersions(s, "fraud"), [2]);
  });
});
