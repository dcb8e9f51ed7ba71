/** Closed windows are kept; an open window resumes after a restart, and what it missed is counted. */
import { fraudRows } from "../helpers/traffic.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBallast, type Ballast } from "../../src/ballast.js";
import { buildApp } from "../../src/server/app.js";
import { FRAUD_MODEL, ManualClock } from "../helpers/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";

async function send(ballast: Ballast, batch: ReturnType<typeof fraudRows>, size = 50): Promise<void> {
  const app = await buildApp(ballast);
  for (let i = 0; i < batch.length; i += size) {
    const r = await app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: { instances: batch.slice(i, i + size) },
    });
    assert.equal(r.statusCode, 200);
  }
  await ballast.monitors.settled();
}

/** fraud v1 registered with a reference profile of seeded rows, deployed, and monitor `m` put. */
async function monitorFraud(ballast: Ballast, dataDir: string, monitor: Record<string, unknown>) {
  const modelPath = join(dataDir, "fraud.json");
  await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 3000));
  await ballast.registry.registerVersion({
    model: "fraud",
    artifactPath: modelPath,
    referenceProfile: builder.finish(),
  });
  const app = await buildApp(ballast);
  await app.inject({
    method: "PUT",
    url: "/api/v1/deployments/fraud",
    payload: { model: "fraud", version: 1 },
  });
  return app.inject({ method: "PUT", url: "/api/v1/monitors/m", payload: monitor });
}

test("a restart keeps closed windows, resumes the open one, and counts the requests it missed", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-restart-"));
  const clock = new ManualClock();
  const open = () =>
    openBallast({ dataDir, clock, defaultMetrics: false, predictionLog: { flushIntervalMs: 60_000 } });
  try {
    const a = await open();
    const put = await monitorFraud(a, dataDir, {
      deployment: "fraud",
      window: { kind: "tumbling", by: "count", size: 300 },
      minSamples: 100,
    });
    assert.equal(put.statusCode, 200, put.body);
    await send(a, fraudRows(2, 700));
    assert.equal(a.monitors.status("m").variants[0]?.openWindowRows, 100);
    clock.advance(1000);
    await a.close(); // checkpoints the open window

    clock.advance(1000);
    const b = await open();
    await b.monitors.settled();
    const resumed = b.monitors.status("m");
    assert.equal(resumed.variants[0]?.openWindowRows, 100, "the open window came back");
    assert.equal(resumed.requestsLostAtRestart, 0);
    const windows = (await (await buildApp(b)).inject("/api/v1/monitors/m/windows")).json().windows;
    assert.equal(windows.length, 2);
    assert.deepEqual(
      windows.map((w: { rows: number }) => w.rows),
      [300, 300],
    );
    assert.ok(windows[0].drift.features.length > 0);
    assert.equal(windows[0].deployment, "fraud");

    // B serves 3 requests that reach the log but no checkpoint, then "crashes": C, opened on the
    // same data, resumes from A's checkpoint and counts B's requests as missed.
    clock.advance(1000);
    await send(b, fraudRows(3, 150));
    await b.predictionLog.flush();
    const c = await open();
    await c.monitors.settled();
    assert.equal(c.monitors.status("m").requestsLostAtRestart, 3);
    assert.equal(c.monitors.status("m").variants[0]?.openWindowRows, 100);
    await c.close();
    await b.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("an alert firing before a restart is still firing after it, and is not fired again", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-restart-alerts-"));
  const clock = new ManualClock();
  const open = () => openBallast({ dataDir, clock, defaultMetrics: false, rolloutTicker: false });
  try {
    const a = await open();
    const put = await monitorFraud(a, dataDir, {
      deployment: "fraud",
      features: ["amount"],
      test: "psi",
      window: { kind: "tumbling", by: "count", size: 300 },
      minSamples: 100,
      alert: { forMs: 0 },
    });
    assert.equal(put.statusCode, 200, put.body);
    await send(a, fraudRows(2, 300, 4)); // amounts four times larger: drift
    const firing = a.monitors.status("m").alerts.filter((x) => x.phase === "firing");
    assert.equal(firing.length, 2, "the feature alert and the dataset alert");
    await a.close();

    const b = await open();
    await b.monitors.settled();
    const after = b.monitors.status("m").alerts.filter((x) => x.phase === "firing");
    assert.deepEqual(
      after.map((x) => [x.identity, x.since]),
      firing.map((x) => [x.identity, x.since]),
      "the same alert, firing since the same time",
    );
    await b.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
