/** Issue 8, item 5: slow and huge requests are bounded, and nothing a client nests can overflow a stack. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { MAX_JSON_DEPTH, parseJsonBody } from "../../src/server/json-body.js";
import { RateLimiter, take } from "../../src/server/rate-limit.js";
import { DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUTS } from "../../src/server/limits.js";

const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

describe("hardening: JSON bodies", () => {
  test("sliced parsing gives JSON.parse's value for any JSON, at any slice size", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.json({ depthSize: "medium" }),
        fc.integer({ min: 1, max: 64 }),
        async (text, slice) => {
          const expected: unknown = JSON.parse(text);
          const got = await parseJsonBody(text, { sliceChars: slice, pause: async () => {} });
          assert.deepEqual(got, expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("invalid JSON is refused at any slice size", async () => {
    for (const text of ["[1,2", "[1 2]", '{"a" 1}', '{"a":1,}', "[1,]", "{,}", '"abc', "[1]x", "", "  "]) {
      await assert.rejects(parseJsonBody(text, { sliceChars: 2, pause: async () => {} }), SyntaxError, text);
      await assert.rejects(parseJsonBody(text), SyntaxError, text);
    }
  });

  test("__proto__ stays an own key, as with JSON.parse", async () => {
    const text = `{"a": [1, 2, 3], "__proto__": {"polluted": true}, "b": "${"x".repeat(50)}"}`;
    const got = (await parseJsonBody(text, { sliceChars: 8, pause: async () => {} })) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(got), ["a", "__proto__", "b"]);
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("a large body yields to the event loop every slice, so no parse holds it for long", async () => {
    const body = JSON.stringify({
      inputs: [{ data: Array.from({ length: 100_000 }, (_, i) => [i, [i / 3]]) }],
    });
    let pauses = 0;
    const got = await parseJsonBody(body, { sliceChars: 64 * 1024, pause: async () => void pauses++ });
    assert.deepEqual(got, JSON.parse(body));
    // Each pause follows ≤ 64 KiB of JSON.parse work (plus one element run).
    assert.ok(pauses >= Math.floor(body.length / (128 * 1024)), `${pauses} pauses for ${body.length} chars`);
  });

  test("nesting beyond the limit is refused before any walker sees it", async () => {
    await assert.rejects(parseJsonBody(nested(MAX_JSON_DEPTH + 1)), /nests deeper than 64/);
    assert.deepEqual(await parseJsonBody(nested(MAX_JSON_DEPTH)), JSON.parse(nested(MAX_JSON_DEPTH)));
    const big = `{"pad": "${"x".repeat(300_000)}", "deep": ${nested(5000)}}`;
    await assert.rejects(parseJsonBody(big), /nests deeper/);
  });
});

describe("hardening: the server", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ app: { feedbackRate: 100 } });
  });
  after(async () => server.close());

  test("5,000-deep parameters are a 400, and inference and the prediction log go on", async () => {
    const payload = `{"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 3], "data": [1, 3, 1],
      "parameters": {"x": ${nested(5000)}}}]}`;
    const res = await server.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      payload,
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.match((res.json() as { error: string }).error, /nests deeper than 64/);
    const ok = await server.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: { instances: [{ amount: 1, hour: 3, night: 1 }] },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    await server.ballast.predictionLog.flush();
    const rows = await server.app.inject({ url: "/api/v1/predictions?deployment=fraud" });
    assert.equal(rows.statusCode, 200, rows.body);
  });

  test("timeouts and the body limit are set: no socket is held forever", () => {
    const http = server.app.server;
    assert.equal(http.requestTimeout, DEFAULT_TIMEOUTS.requestMs);
    assert.equal(http.headersTimeout, DEFAULT_TIMEOUTS.headersMs);
    assert.equal(http.keepAliveTimeout, DEFAULT_TIMEOUTS.keepAliveMs);
    assert.equal(http.timeout, DEFAULT_TIMEOUTS.idleMs);
    assert.ok(http.requestTimeout > 0 && http.headersTimeout > 0);
    assert.equal(http.maxConnections, 1000);
    assert.equal(server.app.initialConfig.bodyLimit, DEFAULT_BODY_LIMIT);
    assert.ok(DEFAULT_BODY_LIMIT <= 4 * 1024 * 1024);
  });

  test("a body over the limit is a 413 naming --body-limit", async () => {
    const res = await server.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: `{"instances": [], "pad": "${"x".repeat(DEFAULT_BODY_LIMIT)}"}`,
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.statusCode, 413);
    assert.match((res.json() as { error: string }).error, /--body-limit/);
  });

  test("feedback over a client's rate gets 429 with Retry-After, counted; time refills it", async () => {
    const send = (n: number) =>
      server.app.inject({
        method: "POST",
        url: "/v1/feedback",
        payload: { feedback: Array.from({ length: n }, (_, i) => ({ request_id: `rl-${i}`, label: 1 })) },
      });
    // Burst: one full call (10,000 items) fits; then 100 items a second.
    assert.equal((await send(10_000)).statusCode, 200);
    const refused = await send(200);
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.headers["retry-after"], "2");
    assert.match((refused.json() as { error: string }).error, /--feedback-rate/);
    server.clock.advance(2000);
    assert.equal((await send(200)).statusCode, 200);
    const metrics = (await server.app.inject({ url: "/metrics" })).body;
    assert.match(metrics, /ballast_rate_limited_requests_total\{route="\/v1\/feedback"\} 1/);
    assert.match(metrics, /ballast_rate_limited_units_total\{route="\/v1\/feedback"\} 200/);
  });
});

describe("hardening: token buckets", () => {
  test("refill by time, capped at the burst; retry-after says when the cost fits", () => {
    const first = take(undefined, 0, 10, 5, 10);
    assert.equal(first.allowed, true);
    assert.equal(first.bucket.tokens, 0);
    const refused = take(first.bucket, 1000, 10, 5, 10);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterMs, 1000);
    assert.equal(take(refused.bucket, 2000, 10, 5, 10).allowed, true);
    assert.equal(take({ tokens: 0, at: 0 }, 1e9, 1, 5, 10).bucket.tokens, 9);
  });

  test("the client table is bounded and forgetting is counted", () => {
    let evicted = 0;
    const limiter = new RateLimiter({ rate: 1, burst: 1, maxClients: 3, onEvict: () => evicted++ });
    for (let i = 0; i < 10; i++) limiter.take(`c${i}`, 0, 1);
    assert.equal(limiter.size, 3);
    assert.equal(evicted, 7);
  });
});
