/**
 * Nothing a client sends can stop the prediction log (issue 8, item 6): free-form JSON is
 * bounded before it is logged, a row the store refuses is set aside with its reason while the
 * rest of its batch is written, on SQLite and on PostgreSQL alike.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { describeStores, type StoreCase } from "../helpers/stores.js";
import type { PredictionRecord } from "../../src/domain/prediction.js";

/** JSON text of an object nested `depth` levels deep (built as text: JSON.stringify overflows). */
const deepJson = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

const tensorBody = (parameters: string) =>
  `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":[1,2,3],"parameters":${parameters}}]}`;

async function serverOn(c: StoreCase): Promise<{ s: TestServer; cleanup: () => Promise<void> }> {
  const opened = await c.open();
  try {
    const s = await startTestServer({
      ballast: {
        predictionLog: { flushIntervalMs: 60_000 },
        ...(opened.url ? { storeUrl: opened.url } : {}),
      },
    });
    return {
      s,
      cleanup: async () => {
        await s.close();
        await opened.cleanup();
      },
    };
  } catch (error) {
    await opened.cleanup();
    throw error;
  }
}

const loggedIds = async (s: TestServer): Promise<string[]> =>
  (await s.ballast.store.db.selectFrom("predictions").select("request_id").execute()).map(
    (r) => r.request_id,
  );

describeStores("prediction log integrity", (c) => {
  let s: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => ({ s, cleanup } = await serverOn(c)));
  after(async () => cleanup());

  test("parameters nested deeper than the log keeps are logged as truncated, and the 100 requests after are logged", async () => {
    // 5,000 levels never get past the body parser (nesting is capped at 64); the log's own
    // bound (32) is what holds for everything between.
    const refused = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "content-type": "application/json", "x-request-id": "deep-0" },
      payload: tensorBody(deepJson(5000)),
    });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(refused.json().error, /deeper than 64 levels/);
    const deep = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "content-type": "application/json", "x-request-id": "deep-1" },
      payload: tensorBody(deepJson(60)),
    });
    assert.equal(deep.statusCode, 200, deep.body);
    const wide = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "content-type": "application/json", "x-request-id": "deep-2" },
      payload: `{"instances":[{"amount":1,"hour":2,"night":0,"note":${deepJson(60)},"big":{"s":"${"x".repeat(20_000)}"},"small":{"k":[1,2]}}]}`,
    });
    assert.equal(wide.statusCode, 200, wide.body);
    for (let i = 0; i < 100; i++) {
      const r = await s.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        headers: { "x-request-id": `after-${i}` },
        payload: { instances: [{ amount: i, hour: 3, night: 1 }] },
      });
      assert.equal(r.statusCode, 200);
    }
    await s.ballast.predictionLog.flush();
    const stats = s.ballast.predictionLog.stats();
    assert.equal(stats.written, 102, JSON.stringify(stats));
    assert.equal(stats.buffered, 0);
    assert.equal(stats.writeFailures, 0);
    const ids = await loggedIds(s);
    assert.equal(ids.length, 102);
    const rows = await s.ballast.store.db
      .selectFrom("predictions")
      .select(["request_id", "inputs"])
      .where("request_id", "in", ["deep-1", "deep-2"])
      .orderBy("request_id")
      .execute();
    const [tensors, instances] = rows.map((r) => JSON.parse(r.inputs));
    assert.deepEqual(tensors.tensors[0].parameters, { truncated: "parameters deeper than 32 levels" });
    assert.deepEqual(tensors.tensors[0].data, [1, 2, 3]);
    assert.deepEqual(instances.instances[0].note, { truncated: "note deeper than 32 levels" });
    assert.deepEqual(instances.instances[0].big, { truncated: "big larger than 16384 bytes" });
    assert.deepEqual(instances.instances[0].small, { k: [1, 2] }, "values within bounds are kept");
    assert.equal(instances.instances[0].amount, 1);
  });

  test("a deep value where a feature belongs is a 400 naming it, not a 500", async () => {
    for (const [url, payload] of [
      ["/v1/models/fraud:predict", `{"instances":[{"amount":1,"hour":2,"night":${deepJson(60)}}]}`],
      [
        "/v2/models/fraud/infer",
        `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":[1,2,${deepJson(60)}]}]}`,
      ],
      [
        "/v2/models/fraud/infer",
        `{"inputs":[{"name":"input","datatype":${deepJson(60)},"shape":[1,3],"data":[1,2,3]}]}`,
      ],
      [
        "/v2/models/fraud/infer",
        `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,${deepJson(60)}],"data":[1,2,3]}]}`,
      ],
    ] as const) {
      const r = await s.app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json" },
        payload,
      });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(r.json().error, /too large to show/);
    }
  });

  test("a row the store refuses is set aside with its reason; the rest of its batch is written", async () => {
    const before = s.ballast.predictionLog.stats();
    const row = (id: string, extra: Partial<PredictionRecord> = {}): PredictionRecord => ({
      requestId: id,
      deployment: "fraud",
      model: "fraud",
      modelVersion: 1,
      variant: "stable",
      inputs: { instances: [{ amount: 1 }] },
      outputs: [],
      latencyMs: 1,
      createdAt: s.clock.now(),
      ...extra,
    });
    // A value each database refuses: SQLite's NOT NULL takes NaN for null; PostgreSQL's integer
    // column stops at 2^31.
    const invalid = c.name === "sqlite" ? { latencyMs: Number.NaN } : { modelVersion: 2 ** 40 };
    const log = s.ballast.predictionLog;
    log.record(row("good-1"));
    log.record(row("bigint", { inputs: { n: 1n } }));
    log.record(row("good-2"));
    log.record(row("invalid", invalid));
    for (let i = 3; i <= 6; i++) log.record(row(`good-${i}`));
    await log.flush();
    const stats = (await s.app.inject("/api/v1/prediction-log")).json();
    assert.equal(stats.written - before.written, 6);
    assert.equal(stats.buffered, 0);
    assert.equal(stats.writeFailures, before.writeFailures, "a row's fault is no store failure");
    assert.equal(stats.rejected.unserialisable, 1);
    assert.equal(stats.rejected.invalid_value, 1);
    assert.deepEqual(
      stats.recentRejections.map((r: { requestId: string; reason: string }) => [r.requestId, r.reason]),
      [
        ["bigint", "unserialisable"],
        ["invalid", "invalid_value"],
      ],
    );
    assert.match(stats.recentRejections[0].message, /BigInt/);
    const ids = await loggedIds(s);
    for (let i = 1; i <= 6; i++) assert.ok(ids.includes(`good-${i}`), `good-${i} is logged`);
    assert.ok(!ids.includes("bigint") && !ids.includes("invalid"));
    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(metrics, /^ballast_prediction_log_rejected_rows_total\{reason="unserialisable"\} 1$/m);
    assert.match(metrics, /^ballast_prediction_log_rejected_rows_total\{reason="invalid_value"\} 1$/m);
  });
});

describeStores("reused request ids", (c) => {
  let s: TestServer;
  let cleanup: () => Promise<void>;
  before(async () => ({ s, cleanup } = await serverOn(c)));
  after(async () => cleanup());

  const predict = (id: string, amount: number) =>
    s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "x-request-id": id },
      payload: { instances: [{ amount, hour: 3, night: 1 }] },
    });

  test("an id used before is logged under a fresh one that the response carries; feedback joins each", async () => {
    const first = await predict("dup-1", 1);
    assert.equal(first.headers["x-request-id"], "dup-1");
    assert.equal(first.headers["x-ballast-request-id-reused"], undefined);
    const second = await predict("dup-1", 5);
    assert.equal(second.statusCode, 200);
    const fresh = second.headers["x-request-id"] as string;
    assert.notEqual(fresh, "dup-1");
    assert.match(fresh, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(second.headers["x-ballast-request-id-reused"], "dup-1");
    assert.equal(second.json().request_id, fresh);
    // The OIP response's id is the logged one too (when the body names none).
    const oip = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "x-request-id": "dup-1" },
      payload: { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [2, 3, 1] }] },
    });
    const oipId = oip.headers["x-request-id"] as string;
    assert.notEqual(oipId, "dup-1");
    assert.equal(oip.json().id, oipId);
    assert.equal(oip.headers["x-ballast-request-id-reused"], "dup-1");
    // A failed request does not use its id up: the retry keeps it.
    const bad = await predict("retry-1", Number.NaN);
    assert.equal(bad.statusCode, 400);
    assert.equal((await predict("retry-1", 2)).headers["x-request-id"], "retry-1");

    const before = s.ballast.predictionLog.stats().written;
    await s.ballast.predictionLog.flush();
    assert.equal(s.ballast.predictionLog.stats().written - before, 4);
    const feedback = await s.app.inject({
      method: "POST",
      url: "/v1/feedback",
      payload: {
        feedback: [
          { request_id: "dup-1", label: 0 },
          { request_id: fresh, label: 1 },
        ],
      },
    });
    assert.equal(feedback.statusCode, 200, feedback.body);
    const logged = (await s.app.inject("/api/v1/predictions?limit=100")).json().predictions as Array<{
      requestId: string;
      inputs: { instances?: Array<{ amount: number }> };
      feedback: Array<{ label: unknown }>;
    }>;
    const byId = new Map(logged.map((p) => [p.requestId, p]));
    assert.equal(byId.get("dup-1")?.inputs.instances?.[0]?.amount, 1);
    assert.deepEqual(
      byId.get("dup-1")?.feedback.map((f) => f.label),
      [0],
    );
    assert.equal(byId.get(fresh)?.inputs.instances?.[0]?.amount, 5);
    assert.deepEqual(
      byId.get(fresh)?.feedback.map((f) => f.label),
      [1],
    );
    assert.ok(byId.has(oipId));
  });

  test("reuse the server cannot see on the request path is refused at write time and counted, not counted as written", async () => {
    // Logged earlier by another replica sharing the store (or before a restart).
    await s.ballast.predictions.write([
      {
        requestId: "elsewhere-1",
        deployment: "fraud",
        model: "fraud",
        modelVersion: 1,
        variant: "stable",
        inputs: {},
        outputs: [],
        latencyMs: 1,
        createdAt: s.clock.now(),
      },
    ]);
    const before = s.ballast.predictionLog.stats();
    const r = await predict("elsewhere-1", 3);
    assert.equal(r.statusCode, 200);
    await predict("elsewhere-2", 3);
    await s.ballast.predictionLog.flush();
    const stats = (await s.app.inject("/api/v1/prediction-log")).json();
    assert.equal(stats.written - before.written, 1);
    assert.equal(stats.rejected.duplicate_request_id - before.rejected.duplicate_request_id, 1);
    const last = stats.recentRejections.at(-1);
    assert.equal(last.requestId, "elsewhere-1");
    assert.equal(last.reason, "duplicate_request_id");
    assert.match(
      (await s.app.inject("/metrics")).body,
      /^ballast_prediction_log_rejected_rows_total\{reason="duplicate_request_id"\} 1$/m,
    );
  });
});

test("the log's byte bound drops and counts rows; rows left at shutdown are counted as unflushed", async () => {
  const s = await startTestServer({
    ballast: { predictionLog: { flushIntervalMs: 60_000, capacityBytes: 64 * 1024 } },
  });
  try {
    // About 20 KB per row (1,500 inputs, 1,000 outputs at 8 bytes): the fourth no longer fits.
    const data = Array.from({ length: 500 * 3 }, (_, i) => i % 7);
    for (let i = 0; i < 8; i++) {
      const r = await s.app.inject({
        method: "POST",
        url: "/v2/models/fraud/infer",
        payload: { inputs: [{ name: "input", datatype: "FP32", shape: [500, 3], data }] },
      });
      assert.equal(r.statusCode, 200);
    }
    let stats = (await s.app.inject("/api/v1/prediction-log")).json();
    assert.equal(stats.buffered, 3, JSON.stringify(stats));
    assert.equal(stats.dropped, 5);
    assert.ok(stats.bufferedBytes <= 64 * 1024 && stats.bufferedBytes > 48 * 1024);
    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(metrics, /^ballast_prediction_log_buffer_capacity_bytes 65536$/m);
    // The store goes away before shutdown: what is buffered is counted, not lost in silence.
    await s.ballast.store.db.schema.dropTable("predictions").execute();
    const buffered = stats.buffered;
    await s.ballast.predictionLog.stop();
    stats = s.ballast.predictionLog.stats();
    assert.equal(stats.unflushed, buffered);
    assert.equal(stats.buffered, 0);
    assert.match(String(stats.lastError), /no such table/);
    assert.match(
      (await s.app.inject("/metrics")).body,
      new RegExp(`^ballast_prediction_log_unflushed_rows_total ${buffered}$`, "m"),
    );
  } finally {
    await s.close();
  }
});
