/**
 * The "Bad input" list through whole runs of the real step kinds on a real Ballast
 * (SQLite): a missing source, an empty one, a command that fails, one that writes no artifact,
 * a constant label. Each: a Failed run whose reason names the step and why, the steps after it
 * Skipped, nothing registered, nothing deployed, and the deployment still serving v1.
 * (Step-level details — messages, hangs killed at their timeout — are in test/pipelines/steps.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readManifests } from "../../src/resources/manifest.js";
import { FRAUD_FEATURES, startTestServer, type TestServer } from "../helpers/app.js";
import { driveRun, post, rolloutOf, servedVersions } from "./harness.js";

const TAIL = `
    - { name: split, split: { input: data, holdout: 0.25, seed: 1 } }
    - name: validate
      validate: { model: train.model, holdout: split.holdout, deployment: fraud, gates: [{ metric: auc, threshold: 0.5 }] }
    - { name: register, register: { model: fraud, from: train.model, validation: validate, deployment: fraud } }
    - { name: deploy, deploy: { deployment: fraud, mode: canary } }
`;
const LOG = `{ name: data, source: { log: { deployment: fraud, window: 1h, label: required, labelColumn: y } } }`;
const BUILTIN = `{ name: train, train: { input: split.train, builtin: { kind: logistic, features: [amount, hour, night], label: y } } }`;
const command = (js: string) =>
  `{ name: train, train: { input: split.train, command: { run: [node, -e, ${JSON.stringify(js)}], features: [amount, hour, night], label: y } } }`;

const pipeline = (name: string, data: string, train: string) => `apiVersion: ballast/v1
kind: Pipeline
metadata: { name: ${name} }
spec:
  steps:
    - ${data}
    - ${train}${TAIL}`;

const CASES: Array<{ name: string; data: string; train: string; step: string; reason: RegExp }> = [
  {
    name: "missing-source",
    data: `{ name: data, source: { files: { path: "no-such-dir/*.csv" } } }`,
    train: BUILTIN,
    step: "data",
    reason: /no file matches/,
  },
  {
    name: "empty-source",
    data: `{ name: data, source: { log: { deployment: fraud, window: 1h, label: required, labelColumn: y, segment: { night: 7 } } } }`,
    train: BUILTIN,
    step: "data",
    reason: /no rows/,
  },
  {
    name: "failing-command",
    data: LOG,
    train: command("process.exit(3)"),
    step: "train",
    reason: /exit(ed)?( with)?( code)? 3|code 3/i,
  },
  {
    name: "no-artifact",
    data: LOG,
    train: command("0"),
    step: "train",
    reason: /exited 0 but wrote no artifact/,
  },
  {
    name: "constant-label",
    data: LOG,
    train: BUILTIN.replace("label: y", "label: constant"),
    step: "train",
    reason: /label .constant. has one value \(0\)/,
  },
];

describe("bad input through a run: failed with the reason, nothing registered or deployed", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({
      ballast: { pipelineTicker: false, triggerTicker: false, rolloutTicker: false },
    });
    const d = await s.ballast.deployments.get("fraud");
    const { createdAt: _c, updatedAt: _u, ...declared } = d;
    await s.ballast.changes.apply(
      { ...declared, strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } } },
      { strategy: "skip" },
    );
    // Labelled traffic in the last hour; `constant` is an input always 0 (the constant label).
    for (let r = 0; r < 4; r++) {
      const id = `bad-${r}`;
      const rows = Array.from({ length: 100 }, (_, i) => ({
        amount: (i % 10) / 3,
        hour: i % 24,
        night: i % 2,
        constant: 0,
      }));
      await post(s, "/v1/models/fraud:predict", { instances: rows }, { "x-request-id": id });
      await post(s, "/v1/feedback", {
        feedback: rows.map((x, row) => ({
          request_id: id,
          row,
          label: (x.amount > 1.5 ? 1 : 0) ^ (row % 7 === 0 ? 1 : 0),
        })),
      });
    }
    await s.ballast.predictionLog.flush();
    s.clock.advance(60_000);
    const text = CASES.map((c) => pipeline(c.name, c.data, c.train)).join("\n---\n");
    const resources = readManifests(text, "bad.yaml").map((m) => ({
      manifest: m.manifest,
      origin: m.origin,
    }));
    const res = await s.app.inject({ method: "POST", url: "/api/v1/apply", payload: { resources } });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => s.close());

  for (const c of CASES) {
    test(c.name, async () => {
      const started = await s.ballast.pipelines.start(c.name, {
        trigger: { kind: "manual", reason: "test" },
      });
      assert.ok(started.started, JSON.stringify(started));
      const run = await driveRun(s, started.runId);
      assert.equal(run.state, "Failed");
      const failed = run.steps.find((st) => st.state === "Failed");
      assert.equal(
        failed?.step,
        c.step,
        JSON.stringify(run.steps.map((st) => [st.step, st.state, st.error])),
      );
      assert.match(`${run.reason ?? ""} ${failed?.error ?? ""}`, c.reason);
      assert.match(run.reason ?? "", new RegExp(c.step));
      for (const st of run.steps.filter((x) => x.step === "register" || x.step === "deploy"))
        assert.equal(st.state, "Skipped");
      assert.equal(run.registered ?? null, null);
      assert.equal(run.deployed ?? null, null);
      assert.equal((await s.ballast.registry.listVersions("fraud")).length, 1);
      assert.equal((await rolloutOf(s, "fraud")).rollout, null);
      assert.deepEqual(await servedVersions(s, "fraud"), [1]);
      const served = await s.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        payload: { instances: [Object.fromEntries(FRAUD_FEATURES.map((f) => [f, 1]))] },
      });
      assert.equal(served.statusCode, 200, served.body);
    });
  }
});
