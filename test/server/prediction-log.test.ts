import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";

const infer = (s: TestServer, requestId: string, amount: number) =>
  s.app.inject({
    method: "POST",
    url: "/v1/models/fraud:predict",
    headers: { "x-request-id": requestId },
    payload: { instances: [{ amount, hour: 3, night: 1 }] },
  });

describe("prediction log and feedback", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  });
  after(async () => s.close());

  test("every inference is logged and feedback joins by request id, even when it came first", async () => {
    // The label arrives before the prediction row is flushed: it is kept and joined later.
    await infer(s, "r-1", 1.5);
    const early = await s.app.inject({
      method: "POST",
      url: "/v1/feedback",
      payload: {
        feedback: [
          { request_id: "r-1", label: 1 },
          { request_id: "r-1", event: "click" },
        ],
      },
    });
    assert.equal(early.statusCode, 200, early.body);
    // Still in the log's buffer, not in the store: served, so it counts as matched.
    assert.deepEqual(early.json(), { accepted: 2, matched: 2, unmatched: 0, unmatchedIds: [] });
    s.clock.advance(60_000);
    await infer(s, "r-2", 4.0);
    assert.equal(s.ballast.predictionLog.stats().buffered, 2);
    await s.ballast.predictionLog.flush();

    const res = await s.app.inject("/api/v1/predictions?deployment=fraud");
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.count, 2);
    const [newest, oldest] = body.predictions;
    assert.equal(newest.requestId, "r-2");
    assert.equal(oldest.requestId, "r-1");
    assert.equal(oldest.modelVersion, 1);
    assert.equal(oldest.variant, "stable");
    assert.deepEqual(oldest.inputs, { instances: [{ amount: 1.5, hour: 3, night: 1 }] });
    assert.equal(oldest.outputs.length, 2);
    assert.ok(oldest.latencyMs >= 0);
    assert.deepEqual(
      oldest.feedback.map((f: { row: number; kind: string; label: unknown; value: unknown }) => [
        f.row,
        f.kind,
        f.label,
        f.value,
      ]),
      [
        [0, "click", null, 1],
        [0, "label", 1, null],
      ],
    );
    assert.deepEqual(newest.feedback, []);
    assert.equal(body.log.written, 2);
    assert.equal(body.log.dropped, 0);
  });

  test("feedback for a request id never served is kept, reported as unmatched and counted", async () => {
    await s.ballast.predictionLog.flush();
    const res = await s.app.inject({
      method: "POST",
      url: "/v1/feedback",
      payload: {
        feedback: [
          { request_id: "r-2", label: 0 },
          { request_id: "never-served", label: 1 },
          { request_id: "never-served", row: 1, label: 0 },
          { request_id: "also-unknown", event: "click" },
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), {
      accepted: 4,
      matched: 1,
      unmatched: 3,
      unmatchedIds: ["never-served", "also-unknown"],
    });
    const metrics = await (await s.app.inject("/metrics")).body;
    assert.match(metrics, /^ballast_feedback_unmatched_total 3$/m);
  });

  test("filters by time range, version and limit", async () => {
    const t0 = s.clock.now() - 60_000;
    const only = (q: string) => s.app.inject(`/api/v1/predictions?${q}`).then((r) => r.json());
    assert.equal((await only(`since=${t0}&until=${t0 + 1}`)).count, 1);
    assert.equal((await only(`since=${new Date(t0 + 1).toISOString()}`)).count, 1);
    assert.equal((await only("version=1&limit=1")).count, 1);
    assert.equal((await only("version=2")).count, 0);
    assert.equal((await only("deployment=other")).count, 0);
    const bad = await s.app.inject("/api/v1/predictions?since=yesterday");
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /since/);
    assert.equal((await s.app.inject("/api/v1/predictions?limit=0")).statusCode, 400);
    assert.equal((await s.app.inject("/api/v1/predictions?colour=red")).statusCode, 400);
  });

  test("feedback is idempotent per (request id, kind): a repeat replaces, never duplicates", async () => {
    for (const label of [0, 1, 1]) {
      const r = await s.app.inject({
        method: "POST",
        url: "/v1/feedback",
        payload: { request_id: "r-2", label },
      });
      assert.equal(r.statusCode, 200);
    }
    await s.app.inject({
      method: "POST",
      url: "/v1/feedback",
      payload: [{ request_id: "r-2", event: "conversion", value: 19.99 }],
    });
    const rows = await s.ballast.store.db
      .selectFrom("feedback")
      .selectAll()
      .where("request_id", "=", "r-2")
      .execute();
    assert.equal(rows.length, 2);
    const body = (await s.app.inject("/api/v1/predictions?limit=1")).json();
    const kinds = Object.fromEntries(body.predictions[0].feedback.map((f: { kind: string }) => [f.kind, f]));
    assert.equal(kinds.label.label, 1);
    assert.equal(kinds.conversion.value, 19.99);
  });

  test("feedback for one row of a batched request is kept apart from the other rows", async () => {
    s.clock.advance(1000);
    await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "x-request-id": "batch-1" },
      payload: {
        instances: [
          { amount: 1, hour: 1, night: 1 },
          { amount: 2, hour: 12, night: 0 },
          { amount: 3, hour: 20, night: 0 },
        ],
      },
    });
    await s.ballast.predictionLog.flush();
    const feedback = [
      { request_id: "batch-1", row: 2, label: 1 },
      { request_id: "batch-1", row: 0, label: 0 },
      { request_id: "batch-1", row: 2, event: "chargeback", value: 120 },
    ];
    assert.equal(
      (await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } })).statusCode,
      200,
    );
    const body = (await s.app.inject("/api/v1/predictions?limit=1")).json();
    assert.equal(body.predictions[0].requestId, "batch-1");
    assert.deepEqual(
      body.predictions[0].feedback.map((f: { row: number; kind: string; label: unknown }) => [
        f.row,
        f.kind,
        f.label,
      ]),
      [
        [0, "label", 0],
        [2, "chargeback", null],
        [2, "label", 1],
      ],
    );
  });

  test("malformed feedback is refused and names the item", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ feedback: [] }, /must not be empty/],
      [{ feedback: [{ label: 1 }] }, /feedback\[0\]\.request_id/],
      [{ feedback: [{ request_id: "x" }] }, /needs a label, a value or an event/],
      [{ feedback: [{ request_id: "x", event: "label" }] }, /event must be a name/],
      [{ feedback: [{ request_id: "x", value: "high" }] }, /value must be a finite number/],
      [{ feedback: [{ request_id: "x", label: { a: 1 } }] }, /label must be/],
      [{ feedback: [{ request_id: "x", label: 1, timestamp: "soon" }] }, /timestamp/],
      [{ feedback: [{ request_id: "x", label: 1, row: -1 }] }, /row must be the index/],
      [{ feedback: [{ request_id: "x", label: 1, row: 1.5 }] }, /row must be the index/],
    ];
    for (const [payload, pattern] of cases) {
      const r = await s.app.inject({ method: "POST", url: "/v1/feedback", payload: payload as object });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error, pattern);
    }
  });
});

describe("prediction log buffer", () => {
  test("overflow is counted, visible in the API and /metrics, and never fails the request", async () => {
    const s = await startTestServer({ ballast: { predictionLog: { capacity: 2, flushIntervalMs: 60_000 } } });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await infer(s, `o-${i}`, i)).statusCode, 200);
      const stats = (await s.app.inject("/api/v1/prediction-log")).json();
      assert.equal(stats.buffered, 2);
      assert.equal(stats.dropped, 3);
      const metrics = (await s.app.inject("/metrics")).body;
      assert.match(metrics, /^ballast_prediction_log_dropped_rows_total 3$/m);
      assert.match(metrics, /^ballast_prediction_log_buffer_rows 2$/m);
    } finally {
      await s.close();
    }
  });

  test("retention deletes rows older than the period", async () => {
    const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
    try {
      await infer(s, "old", 1);
      s.clock.advance(3 * 86_400_000);
      await infer(s, "new", 1);
      await s.ballast.predictionLog.flush();
      const { RetentionSweeper } = await import("../../src/serving/retention.js");
      const sweeper = new RetentionSweeper(s.ballast.predictions, s.clock, 86_400_000);
      assert.deepEqual(await sweeper.sweep(), { predictions: 1, feedback: 0 });
      const left = (await s.app.inject("/api/v1/predictions")).json();
      assert.deepEqual(
        left.predictions.map((p: { requestId: string }) => p.requestId),
        ["new"],
      );
    } finally {
      await s.close();
    }
  });
});
