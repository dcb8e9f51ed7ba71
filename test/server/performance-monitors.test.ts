/**
 * Performance monitors end to end: predictions through the API, labels arriving late through
 * /v1/feedback, evaluations driven by the injected clock, alerts at a real webhook receiver.
 * Expected accuracies are exact by construction (each label is set equal to, or opposite of,
 * the model's decision computed here from its formula).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fraudRows } from "../helpers/traffic.js";
import { fraudLabels, fraudScore, predictFraud, type FraudRow } from "../helpers/fraud-requests.js";
import { FRAUD_ACCURACY, stepMonitors } from "../helpers/monitors.js";
import { FRAUD_MODEL, ManualClock, startTestServer, type TestServer } from "../helpers/app.js";
import { openBallast } from "../../src/ballast.js";
import { buildApp } from "../../src/server/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { buildCalibration } from "../../src/monitoring/profile/calibration.js";
import { CbpeAccumulator } from "../../src/monitoring/performance/cbpe.js";
import { createRandom } from "../../src/sim/random.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;

interface Received {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Hook {
  url: string;
  received: Received[];
  close(): void;
}

async function receiver(): Promise<Hook> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      received.push(JSON.parse(body) as Received);
      res.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => server.close(),
  };
}

const predict = (s: TestServer, requestId: string, rows: FraudRow[]) =>
  predictFraud(s, rows, { "x-request-id": requestId });

/** Labels for rows [from, to) of a request: right (the model's decision) or wrong (its opposite). */
async function label(
  s: TestServer,
  requestId: string,
  rows: FraudRow[],
  from: number,
  to: number,
  right: (i: number) => boolean,
): Promise<void> {
  const feedback = fraudLabels(requestId, rows, from, to, right);
  const r = await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } });
  assert.equal(r.statusCode, 200, r.body);
}

/**
 * A server whose prediction log flushes every minute, its clock at `at`, and a webhook receiver
 * for the monitors' alerts; both closed after `body`.
 */
async function withHook(at: number, body: (s: TestServer, hook: Hook) => Promise<void>): Promise<void> {
  const hook = await receiver();
  const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  try {
    s.clock.t = at;
    await body(s, hook);
  } finally {
    await s.close();
    hook.close();
  }
}

interface StatusBucket {
  start: number;
  predictions: number;
  labelled: number;
  coverage: number | null;
  value: number | null;
  estimated: number | null;
  basis: string | null;
  reason?: string;
}

async function variant(s: TestServer, name: string) {
  const status = (await s.app.inject(`/api/v1/monitors/${name}`)).json();
  return status.latest.variants[0] as {
    variant: string;
    buckets: StatusBucket[];
    judged: StatusBucket | null;
    breached: boolean | null;
    coverage: number | null;
  };
}

test("accuracy on late labels: too few labels are not judged; a drop goes pending, fires, and resolves on recovery", async () => {
  await withHook(100 * HOUR, async (s, hook) => {
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/fraud-accuracy",
      payload: {
        ...FRAUD_ACCURACY,
        severity: "critical",
        // Resolve on the first clear evaluation and re-send every minute (the defaults: 3, 4 h).
        alert: { forMs: 10 * MINUTE, clearAfter: 1, repeatIntervalMs: MINUTE },
        notifiers: [{ kind: "webhook", name: "hook", url: hook.url }],
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.json().spec.type, "performance");
    await stepMonitors(s, 0);

    const a = fraudRows(11, 40);
    await predict(s, "A", a); // bucket 100h
    await stepMonitors(s, HOUR);
    let v = await variant(s, "fraud-accuracy");
    assert.equal(v.buckets.length, 1);
    assert.equal(v.buckets[0]?.predictions, 40);
    assert.equal(v.buckets[0]?.basis, null);
    assert.match(v.buckets[0]?.reason ?? "", /0 labelled rows, fewer than minSamples \(20\)/);
    assert.equal(v.judged, null);

    const b = fraudRows(12, 40);
    await predict(s, "B", b); // bucket 101h
    await label(s, "A", a, 0, 10, () => true); // 10 labels: still too few
    await stepMonitors(s, MINUTE);
    v = await variant(s, "fraud-accuracy");
    assert.equal(v.buckets[0]?.labelled, 10);
    assert.equal(v.buckets[0]?.coverage, 0.25);
    assert.equal(v.buckets[0]?.basis, null);
    assert.equal(v.coverage, 10 / 80);

    await label(s, "A", a, 10, 40, () => true);
    await stepMonitors(s, MINUTE);
    v = await variant(s, "fraud-accuracy");
    assert.equal(v.judged?.start, 100 * HOUR);
    assert.equal(v.judged?.basis, "labels");
    assert.equal(v.judged?.value, 1);
    assert.equal(v.breached, false);

    // B's labels arrive: every other one contradicts the model, so accuracy is exactly 0.5.
    await label(s, "B", b, 0, 40, (i) => i % 2 === 0);
    await stepMonitors(s, MINUTE);
    v = await variant(s, "fraud-accuracy");
    assert.equal(v.judged?.start, 101 * HOUR);
    assert.equal(v.judged?.value, 0.5);
    assert.equal(v.breached, true);
    let status = (await s.app.inject("/api/v1/monitors/fraud-accuracy")).json();
    assert.deepEqual(
      status.alerts.map((x: { phase: string }) => x.phase),
      ["pending"],
    );
    assert.equal(hook.received.length, 0);

    await stepMonitors(s, 10 * MINUTE); // the breach has lasted forMs
    status = (await s.app.inject("/api/v1/monitors/fraud-accuracy")).json();
    assert.deepEqual(
      status.alerts.map((x: { phase: string }) => x.phase),
      ["firing"],
    );
    assert.equal(hook.received.length, 1);
    const firing = hook.received[0] as Received;
    assert.equal(firing.status, "firing");
    assert.deepEqual(
      [firing.labels.alertname, firing.labels.metric, firing.labels.variant, firing.labels.severity],
      ["BallastPerformanceDegraded", "accuracy", "stable", "critical"],
    );
    assert.equal(firing.annotations.estimated, "false");
    assert.equal(firing.annotations.coverage, "1");
    assert.equal(firing.annotations.score, "0.5");
    assert.equal(firing.annotations.threshold, "0.8");

    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      /ballast_model_performance\{monitor="fraud-accuracy",deployment="fraud",variant="stable",segment="",metric="accuracy",estimated="false"\} 0\.5/,
    );
    assert.match(
      metrics,
      /ballast_model_label_coverage\{monitor="fraud-accuracy",deployment="fraud",variant="stable",segment=""\} 1/,
    );
    assert.match(metrics, /ballast_monitor_alerts\{monitor="fraud-accuracy",phase="firing"\} 1/);

    // A fresh hour of predictions, all labelled right: the newest judged bucket recovers.
    const c = fraudRows(13, 30);
    await predict(s, "C", c); // bucket 101h still (101h12m)
    await stepMonitors(s, HOUR); // 102h12m
    const d = fraudRows(14, 30);
    await predict(s, "D", d); // bucket 102h
    await label(s, "D", d, 0, 30, () => true);
    await stepMonitors(s, MINUTE);
    v = await variant(s, "fraud-accuracy");
    assert.equal(v.judged?.start, 102 * HOUR);
    assert.equal(v.judged?.value, 1);
    // Bucket 101h now holds B and C; C has no labels, so its coverage is 40 of 70.
    assert.equal(v.buckets.find((x) => x.start === 101 * HOUR)?.coverage, 40 / 70);
    // Still breached an hour on (bucket 101h judged again): re-sent after repeatIntervalMs, once.
    assert.deepEqual(
      hook.received.map((n) => n.status),
      ["firing", "firing", "resolved"],
    );
  });
});

test("CBPE judges buckets without labels (flagged estimated) until their labels arrive", async () => {
  await withHook(200 * HOUR, async (s, hook) => {
    // A labelled, scored reference: labels drawn from the model's own probabilities, seeded.
    // Small amounts put the scores mid-range, where the model is unsure and CBPE has work to do.
    const reference = fraudRows(21, 4000, 0.1);
    const random = createRandom(22);
    const scores = reference.map(fraudScore);
    const labels = scores.map((p) => random.bernoulli(p));
    const builder = new ProfileBuilder();
    builder.add(reference);
    const calibration = buildCalibration({ score: "score", label: "is_fraud" }, scores, labels);
    await s.ballast.registry.attachReference("fraud", 1, { ...builder.finish(), calibration });

    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/fraud-f1",
      payload: {
        type: "performance",
        deployment: "fraud",
        metric: "accuracy",
        estimate: "cbpe",
        condition: { baseline: 0.95, maxDrop: 0.05 },
        window: { bucket: "1h", buckets: 3 },
        minSamples: 50,
        alert: { clearAfter: 1 },
        notifiers: [{ kind: "webhook", name: "hook", url: hook.url }],
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    await stepMonitors(s, 0);

    const rows = fraudRows(23, 200, 0.1);
    await predict(s, "E", rows);
    await stepMonitors(s, MINUTE);
    let v = await variant(s, "fraud-f1");
    const bucket = v.judged as StatusBucket;
    assert.equal(bucket.basis, "estimate");
    assert.equal(bucket.labelled, 0);
    assert.equal(bucket.value, null);
    // The engine's estimate is the accumulator's over the same scores and calibrator.
    const expected = new CbpeAccumulator(calibration.isotonic);
    for (const r of rows) expected.add(fraudScore(r));
    const want = expected.estimate(0.5).accuracy as number;
    assert.ok(Math.abs((bucket.estimated as number) - want) < 1e-9, `${bucket.estimated} vs ${want}`);
    // Unsure scores: expected accuracy well below the 0.9 the condition allows, so the alert fires
    // on the estimate.
    assert.ok(want > 0.5 && want < 0.85, String(want));
    assert.equal(v.breached, true);
    assert.equal(hook.received.length, 1);
    assert.equal(hook.received[0]?.annotations.estimated, "true");
    assert.equal(hook.received[0]?.annotations.threshold, String(0.95 - 0.05));
    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      /ballast_model_performance\{monitor="fraud-f1",deployment="fraud",variant="stable",segment="",metric="accuracy",estimated="true"\} 0\.\d+/,
    );
    assert.doesNotMatch(metrics, /ballast_model_performance\{monitor="fraud-f1"[^}]*estimated="false"\}/);

    // Labels arrive, all matching the model's decisions: judged on labels, the alert resolves.
    await label(s, "E", rows, 0, 200, () => true);
    await stepMonitors(s, MINUTE);
    v = await variant(s, "fraud-f1");
    assert.equal(v.judged?.basis, "labels");
    assert.equal(v.judged?.value, 1);
    assert.equal(v.judged?.estimated, 1); // labelled rows count with their labels in CBPE too
    assert.deepEqual(
      hook.received.map((n) => [n.status, n.annotations.estimated]),
      [
        ["firing", "true"],
        ["resolved", "false"],
      ],
    );
  });
});

test("performance monitor API: bad specs name the field; a CBPE monitor without a calibration says so", async () => {
  const s = await startTestServer();
  try {
    const base = { type: "performance", deployment: "fraud", metric: "accuracy", condition: { below: 0.9 } };
    const bad: Array<[object, RegExp]> = [
      [{ ...base, metric: "precision_at_k" }, /metric must be one of accuracy, precision/],
      [{ ...base, condition: { under: 0.9 } }, /condition must be \{below: x\}.*got fields under/],
      [{ ...base, condition: { below: "high" } }, /condition\.below must be a number/],
      [{ ...base, metric: "event_rate" }, /event must name the feedback event/],
      [{ ...base, event: "click" }, /event applies only to metric event_rate/],
      [{ ...base, metric: "log_loss", estimate: "cbpe" }, /log_loss cannot be estimated without labels/],
      [{ ...base, window: { bucket: "1s" } }, /window\.bucket must be at least 1m/],
      [{ ...base, window: { bucket: "1h", buckets: 0 } }, /window\.buckets must be an integer/],
      [{ ...base, window: { size: 10 } }, /window has unknown field 'size'/],
      [{ ...base, minSamples: 0 }, /minSamples must be a positive integer/],
      [{ ...base, evaluateEvery: "soon" }, /evaluateEvery must be a duration/],
      [{ ...base, decisionThreshold: 2 }, /decisionThreshold must be a number in \[0, 1\]/],
      [{ ...base, severity: "loud" }, /severity must be one of/],
      [{ ...base, notifiers: [{ kind: "pager" }] }, /notifiers\[0\]\.kind/],
      [{ ...base, test: "psi" }, /unknown field 'test'/],
      [{ ...base, type: "latency" }, /type must be one of drift, performance/],
    ];
    for (const [payload, pattern] of bad) {
      const r = await s.app.inject({ method: "PUT", url: "/api/v1/monitors/p1", payload });
      assert.equal(r.statusCode, 400, `${JSON.stringify(payload)}: ${r.body}`);
      assert.match(r.json().error, pattern, JSON.stringify(payload));
    }

    const ok = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/p1",
      payload: { ...base, estimate: "cbpe", minSamples: 5 },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().spec.window, { bucket: "1h", buckets: 24 });
    await stepMonitors(s, 0);
    await predict(s, "F", fraudRows(31, 10));
    await stepMonitors(s, MINUTE);
    const v = await variant(s, "p1");
    assert.equal(v.judged, null);
    assert.match(v.buckets[0]?.reason ?? "", /no calibration in its reference profile/);

    const list = (await s.app.inject("/api/v1/monitors")).json().monitors;
    assert.deepEqual(
      list.map((m: { spec: { name: string; type?: string } }) => [m.spec.name, m.spec.type]),
      [["p1", "performance"]],
    );
    assert.equal((await s.app.inject({ method: "DELETE", url: "/api/v1/monitors/p1" })).statusCode, 200);
    assert.equal((await s.app.inject("/api/v1/monitors/p1")).statusCode, 404);
  } finally {
    await s.close();
  }
});

test("a performance monitor survives a restart, and replacing it with a drift monitor of the same name works", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-perf-restart-"));
  const clock = new ManualClock();
  const open = () => openBallast({ dataDir, clock, defaultMetrics: false });
  try {
    const a = await open();
    const modelPath = join(dataDir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    await a.registry.registerVersion({ model: "fraud", artifactPath: modelPath });
    const app = await buildApp(a);
    const put = await app.inject({
      method: "PUT",
      url: "/api/v1/monitors/ctr",
      payload: {
        type: "performance",
        deployment: "fraud",
        metric: "event_rate",
        event: "click",
        condition: { baseline: 0.1, maxDrop: 0.5, relative: true },
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    await app.close();
    await a.close();

    const b = await open();
    const app2 = await buildApp(b);
    const status = (await app2.inject("/api/v1/monitors/ctr")).json();
    assert.equal(status.spec.type, "performance");
    assert.equal(status.spec.event, "click");
    assert.deepEqual(status.spec.condition, { baseline: 0.1, maxDrop: 0.5, relative: true });
    // Same name, drift type: the performance monitor is replaced, not kept alongside.
    const drift = await app2.inject({
      method: "PUT",
      url: "/api/v1/monitors/ctr",
      payload: { deployment: "fraud" },
    });
    assert.equal(drift.statusCode, 200, drift.body);
    const list = (await app2.inject("/api/v1/monitors")).json().monitors;
    assert.equal(list.length, 1);
    assert.equal(list[0].spec.type, undefined);
    await app2.close();
    await b.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
