/**
 * The serving path on each store: predictions logged in batches, feedback upserted and joined,
 * retention — the same queries on SQLite and PostgreSQL.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { startTestServer, type TestServer } from "../helpers/app.js";

describeStores("serving and the prediction log", (c) => {
  let opened: OpenedStore & { url?: string };
  let s: TestServer;
  before(async () => {
    opened = await c.open();
    s = await startTestServer({
      ballast: { storeUrl: opened.url, predictionLog: { flushIntervalMs: 60_000, batchSize: 7 } },
    });
  });
  after(async () => {
    await s.close();
    await opened.cleanup();
  });

  test("a thousand predictions are written in batches and read back with their feedback", async () => {
    for (let i = 0; i < 1000; i++) {
      const res = await s.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        headers: { "x-request-id": `req-${String(i).padStart(4, "0")}` },
        payload: { instances: [{ amount: i / 100, hour: i % 24, night: i % 24 < 6 ? 1 : 0 }] },
      });
      assert.equal(res.statusCode, 200);
      if (i % 100 === 0) s.clock.advance(1000);
    }
    const feedback = Array.from({ length: 300 }, (_, i) => ({
      request_id: `req-${String(i * 3).padStart(4, "0")}`,
      label: i % 2,
    }));
    assert.equal(
      (await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } })).statusCode,
      200,
    );
    await s.ballast.predictionLog.flush();
    assert.equal(s.ballast.predictionLog.stats().written, 1000);

    const page = (await s.app.inject("/api/v1/predictions?deployment=fraud&limit=10000")).json();
    assert.equal(page.count, 1000);
    const byId = new Map(page.predictions.map((p: { requestId: string }) => [p.requestId, p]));
    const p3 = byId.get("req-0003") as { feedback: Array<{ kind: string; label: number }>; inputs: unknown };
    assert.deepEqual(
      p3.feedback.map((f) => [f.kind, f.label]),
      [["label", 1]],
    );
    assert.deepEqual(p3.inputs, { instances: [{ amount: 0.03, hour: 3, night: 1 }] });
    assert.deepEqual((byId.get("req-0004") as { feedback: unknown[] }).feedback, []);
    const labelled = page.predictions.filter((p: { feedback: unknown[] }) => p.feedback.length > 0).length;
    assert.equal(labelled, 300);
  });

  test("time filters and retention use the same clock on every store", async () => {
    const now = s.clock.now();
    const recent = (await s.app.inject(`/api/v1/predictions?since=${now}&limit=10000`)).json();
    assert.equal(recent.count, 99, "requests 901…999 came after the last clock step");
    const { RetentionSweeper } = await import("../../src/serving/retention.js");
    const sweeper = new RetentionSweeper(s.ballast.predictions, s.clock, 1);
    assert.deepEqual(await sweeper.sweep(), { predictions: 901, feedback: 0 });
    s.clock.advance(2);
    assert.deepEqual(await sweeper.sweep(), { predictions: 99, feedback: 300 });
  });
});
