/**
 * Error answers carry a stable `code` beside the message (and, for a client's own mistakes, the
 * field at fault), so clients match on codes instead of statuses; nothing from behind the server
 * rides along in `details`.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { errorFrom } from "../../src/cli/client.js";
import { publicDetails } from "../../src/server/errors.js";

describe("error bodies", () => {
  let s: TestServer;
  before(async () => (s = await startTestServer()));
  after(async () => s.close());

  const call = async (method: "GET" | "POST" | "PUT", url: string, payload?: Record<string, unknown>) => {
    const r = await s.app.inject({ method, url, ...(payload === undefined ? {} : { payload }) });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> };
  };

  test("Ballast's own errors: message, code and the field at fault", async () => {
    const missing = await call("GET", "/api/v1/models/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, "not_found");
    assert.equal(typeof missing.body.error, "string");

    const bad = await call("PUT", "/api/v1/deployments/fraud", { model: "fraud", version: 1, timeoutMs: -5 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, "invalid_argument");
    assert.match(String(bad.body.error), /timeoutMs/);
  });

  test("the protocol's routes keep {error} and gain the same fields", async () => {
    const r = await call("POST", "/v2/models/fraud/infer", {
      inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2] }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, "invalid_argument");
    assert.equal(typeof r.body.error, "string");
  });

  test("Fastify's own refusals and unknown routes get codes too", async () => {
    const notJson = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      headers: { "content-type": "application/json" },
      payload: "{",
    });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().code, "invalid_argument");
    const noRoute = await call("GET", "/v3/nothing");
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body.code, "not_found");
  });
});

test("details: only short values under names that describe the client's own input", () => {
  assert.deepEqual(
    publicDetails({
      field: "spec.variants[0].weight",
      version: 3,
      artifactPath: "/var/lib/ballast/artifacts/ab/cd",
      remoteError: "internal page",
      detail: "ENOENT /root/x",
    }),
    { field: "spec.variants[0].weight", version: 3 },
  );
  assert.equal(publicDetails({ field: "x".repeat(500) }), undefined);
  assert.equal(publicDetails({ detail: "anything" }), undefined);
});

test("the CLI takes the server's code over the status, and the status when there is none", () => {
  const coded = errorFrom({ status: 400, statusText: "Bad Request" }, { error: "in use", code: "conflict" });
  assert.equal(coded.code, "conflict");
  assert.equal(coded.message, "in use");
  const proxy = errorFrom({ status: 503, statusText: "Service Unavailable" }, "<html>busy</html>");
  assert.equal(proxy.code, "unavailable");
  assert.equal(proxy.message, "503 Service Unavailable");
  const unknownCode = errorFrom(
    { status: 404, statusText: "Not Found" },
    { error: "gone", code: "no_such_code" },
  );
  assert.equal(unknownCode.code, "not_found");
});
