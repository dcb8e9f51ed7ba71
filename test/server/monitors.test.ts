/**
 * The fraud story in miniature: a monitor on the deployment, a reference profile on the version,
 * live traffic through the API; a shifted week fires an alert at a real webhook receiver, the
 * drift shows in the API and /metrics, and a return to normal resolves it.
 */
import { fraudRows } from "../helpers/traffic.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { startTestServer } from "../helpers/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";

test("a monitor fires on a shifted window, at a real webhook, and resolves when traffic returns to normal", async () => {
  const received: Array<{ status: string; labels: Record<string, string> }> = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      received.push(JSON.parse(body) as { status: string; labels: Record<string, string> });
      res.end("ok");
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const s = await startTestServer();
  try {
    const builder = new ProfileBuilder();
    builder.add(fraudRows(1, 5000, 1));
    await s.ballast.registry.attachReference("fraud", 1, builder.finish());

    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/fraud-drift",
      payload: {
        deployment: "fraud",
        features: ["amount", "hour"],
        test: "psi",
        window: { kind: "tumbling", by: "count", size: 500 },
        minSamples: 200,
        severity: "critical",
        // Resolve on the first normal window (the default waits for 3 clear windows).
        alert: { clearAfter: 1 },
        notifiers: [{ kind: "webhook", name: "hook", url: hook }],
      },
    });
    assert.equal(put.statusCode, 200, put.body);

    const send = async (batch: ReturnType<typeof fraudRows>) => {
      for (let i = 0; i < batch.length; i += 50) {
        const r = await s.app.inject({
          method: "POST",
          url: "/v1/models/fraud:predict",
          payload: { instances: batch.slice(i, i + 50) },
        });
        assert.equal(r.statusCode, 200);
        await s.ballast.monitors.settled();
      }
    };
    await send(fraudRows(2, 500, 1)); // a normal window
    await send(fraudRows(3, 500, 3)); // amounts tripled
    await s.ballast.monitors.settled();

    const status = (await s.app.inject("/api/v1/monitors/fraud-drift")).json();
    assert.equal(status.rowsObserved, 1000);
    const latest = status.variants[0].latest;
    assert.equal(latest.rows, 500);
    const byFeature = Object.fromEntries(
      latest.drift.features.map((f: { feature: string; drifted: boolean }) => [f.feature, f.drifted]),
    );
    assert.deepEqual(byFeature, { amount: true, hour: false });

    const firing = received.filter((n) => n.status === "firing");
    assert.deepEqual(
      firing.map((n) => [n.labels.alertname, n.labels.feature ?? null, n.labels.severity]),
      [
        ["BallastFeatureDrift", "amount", "critical"],
        // 1 of the 2 features is the default share (0.5): the dataset alert fires too.
        ["BallastDatasetDrift", null, "critical"],
      ],
      JSON.stringify(received),
    );
    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      /ballast_feature_drifted\{monitor="fraud-drift",deployment="fraud",variant="stable",segment="",feature="amount",test="psi"\} 1/,
    );
    assert.match(
      metrics,
      /ballast_feature_drift_score\{monitor="fraud-drift",deployment="fraud",variant="stable",segment="",feature="hour",test="psi"\} 0\.\d+/,
    );

    await send(fraudRows(4, 500, 1)); // back to normal
    await s.ballast.monitors.settled();
    assert.deepEqual(
      received
        .filter((n) => n.status === "resolved")
        .map((n) => [n.labels.alertname, n.labels.feature ?? null]),
      [
        ["BallastFeatureDrift", "amount"],
        ["BallastDatasetDrift", null],
      ],
    );
  } finally {
    await s.close();
    receiver.close();
  }
});

test("monitor API: bad specs are refused naming the field; monitors survive a restart; unknown ones are 404", async () => {
  const s = await startTestServer();
  try {
    const bad: Array<[unknown, RegExp]> = [
      [{ deployment: "fraud", test: "t-test" }, /test must be auto or one of/],
      [{ deployment: "fraud", window: { kind: "tumbling", by: "count", size: 0 } }, /window\.size/],
      [{ deployment: "fraud", test: "auto", threshold: 0.2 }, /threshold needs a named test/],
      [{ deployment: "fraud", notifiers: [{ kind: "pager" }] }, /notifiers\[0\]\.kind/],
      [
        {
          deployment: "fraud",
          notifiers: [
            { kind: "webhook", name: "ops", url: "http://127.0.0.1:9/a" },
            { kind: "slack", name: "ops", url: "http://127.0.0.1:9/b" },
          ],
        },
        /notifiers\[1\]\.name: another notifier is already named "ops"/,
      ],
      [{ deployment: "fraud", colour: "red" }, /unknown field 'colour'/],
    ];
    for (const [payload, pattern] of bad) {
      const r = await s.app.inject({ method: "PUT", url: "/api/v1/monitors/m1", payload: payload as object });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error, pattern);
    }
    const ok = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/m1",
      payload: { deployment: "fraud" },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await s.app.inject("/api/v1/monitors/nope")).statusCode, 404);
    const specs = await s.ballast.monitorStore.list();
    assert.deepEqual(
      specs.map((m) => [m.name, m.deployment, m.window]),
      [["m1", "fraud", { kind: "tumbling", by: "count", size: 1000 }]],
    );
    assert.equal((await s.app.inject({ method: "DELETE", url: "/api/v1/monitors/m1" })).statusCode, 200);
    assert.deepEqual(await s.ballast.monitorStore.list(), []);
  } finally {
    await s.close();
  }
});
