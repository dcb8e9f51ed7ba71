/**
 * Issue 9, item 8: the inference routes answer ordinary requests on a hot path that skips
 * Fastify's generic steps. The answers must be the route's own: each request here is sent once
 * as the hot path takes it (application/json, a Content-Length) and once as it leaves it to the
 * route (a vendor media type, which the app's catch-all parser reads as JSON all the same), and the two answers
 * must agree in status, body and headers.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";

type Way = "hot" | "route";

/** What must be the same both ways: ids and dates differ from request to request. */
function comparable(res: LightMyRequestResponse, ids: readonly string[]) {
  const headers: Record<string, unknown> = { ...res.headers };
  delete headers.date;
  let body = res.body;
  for (const id of ids) body = body.split(id).join("<id>");
  for (const name of ["x-request-id", "x-ballast-request-id-reused"]) {
    if (typeof headers[name] === "string") headers[name] = ids.includes(headers[name]) ? "<id>" : "<new>";
  }
  if (typeof headers["content-length"] === "string") {
    // The body length changes with the id put in; what matters is that it is the body's.
    assert.equal(Number(headers["content-length"]), Buffer.byteLength(res.body));
    delete headers["content-length"];
  }
  return { status: res.statusCode, headers, body };
}

describe("inference hot path", () => {
  let s: TestServer;
  let n = 0;
  before(async () => (s = await startTestServer()));
  after(async () => s.close());

  const send = (way: Way, url: string, payload: string, headers: Record<string, string> = {}) =>
    s.app.inject({
      method: "POST",
      url,
      payload,
      headers: {
        "content-type": way === "hot" ? "application/json" : "application/vnd.example+json",
        ...headers,
      },
    });

  /** The same request both ways, each under a fresh client id; their answers, made comparable. */
  async function both(url: string, payload: string, headers: Record<string, string> = {}) {
    const out = [];
    for (const way of ["hot", "route"] as const) {
      const id = `hot-test-${++n}`;
      const before = { ...s.app.inferenceHotPath };
      const res = await send(way, url, payload, { "x-request-id": id, ...headers });
      const after = s.app.inferenceHotPath;
      assert.equal(after.taken - before.taken, way === "hot" ? 1 : 0, `${way} ${url} ${payload}`);
      assert.equal(after.passed - before.passed, way === "hot" ? 0 : 1, `${way} ${url} ${payload}`);
      out.push(comparable(res, [id, res.headers["x-request-id"] as string]));
    }
    assert.deepEqual(out[0], out[1], `${url} ${payload}`);
    return out[0] as ReturnType<typeof comparable>;
  }

  const oip = JSON.stringify({
    inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }],
  });
  const v1 = JSON.stringify({ instances: [{ amount: 1, hour: 3, night: 1 }] });

  test("answers the three inference routes as the routes do", async () => {
    assert.equal((await both("/v2/models/fraud/infer", oip)).status, 200);
    assert.equal((await both("/v2/models/fraud/versions/1/infer", oip)).status, 200);
    const predicted = await both("/v1/models/fraud:predict", v1);
    assert.equal(predicted.status, 200);
    assert.match(predicted.body, /"probability":/);
  });

  test("refuses what the routes refuse, with the same status, body and headers", async () => {
    const cases: Array<[string, string]> = [
      ["/v2/models/fraud/infer", "{"], // not JSON: 400 and the connection closed
      ["/v2/models/fraud/infer", `${"[".repeat(65)}${"]".repeat(65)}`], // nested too deep
      [
        "/v2/models/fraud/infer",
        JSON.stringify({ inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2] }] }),
      ],
      ["/v2/models/fraud/infer", "[]"],
      ["/v2/models/nope/infer", oip],
      ["/v2/models/fraud/versions/7/infer", oip],
      ["/v2/models/fraud/versions/x/infer", oip],
      ["/v1/models/fraud:explain", v1],
      ["/v1/models/fraud:predict", JSON.stringify({ instances: [{ amount: "a" }] })],
    ];
    for (const [url, payload] of cases) {
      const answer = await both(url, payload);
      assert.ok(answer.status >= 400, `${url} ${payload}: ${answer.status}`);
      assert.match(answer.body, /"code":"[a-z_]+"/);
    }
    const notJson = await both("/v2/models/fraud/infer", "{");
    assert.equal(notJson.headers.connection, "close");
  });

  test("a client id used twice: the same new id and the same headers either way", async () => {
    for (const way of ["hot", "route"] as const) {
      const id = `twice-${way}`;
      const first = await send(way, "/v1/models/fraud:predict", v1, { "x-request-id": id });
      const second = await send(way, "/v1/models/fraud:predict", v1, { "x-request-id": id });
      assert.equal(first.headers["x-request-id"], id);
      assert.notEqual(second.headers["x-request-id"], id);
      assert.equal(second.headers["x-ballast-request-id-reused"], id);
      assert.match(second.body, new RegExp(`"request_id":"${second.headers["x-request-id"] as string}"`));
    }
  });

  test("leaves unusual requests to the route: no length, a body over the limit, other media types", async () => {
    const before = { ...s.app.inferenceHotPath };
    const chunked = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: v1,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    });
    assert.equal(chunked.statusCode, 200, chunked.body);
    const large = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: `{"instances": [], "pad": "${"x".repeat(s.app.initialConfig.bodyLimit as number)}"}`,
      headers: { "content-type": "application/json" },
    });
    assert.equal(large.statusCode, 413);
    const form = await send("route", "/v1/models/fraud:predict", "", {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(form.statusCode, 400);
    assert.deepEqual(s.app.inferenceHotPath, { taken: before.taken, passed: before.passed + 3 });
  });

  test("a Content-Length the body does not match is refused as Fastify refuses it", async () => {
    const taken = s.app.inferenceHotPath.taken;
    const short = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: v1,
      headers: { "content-type": "application/json", "content-length": String(v1.length + 5) },
    });
    assert.equal(short.statusCode, 400, short.body);
    assert.equal(short.headers.connection, "close");
    assert.equal((short.json() as { code: string }).code, "invalid_argument");
    assert.equal(s.app.inferenceHotPath.taken, taken + 1);
  });

  test("the prediction log rows are the same either way", async () => {
    const ids = ["log-hot", "log-route"];
    for (const [i, way] of (["hot", "route"] as const).entries()) {
      const res = await send(way, "/v1/models/fraud:predict", v1, { "x-request-id": ids[i] as string });
      assert.equal(res.statusCode, 200);
    }
    await s.ballast.predictionLog.flush();
    const rows = (await s.ballast.predictions.query({ deployment: "fraud", limit: 1000 })).filter((r) =>
      ids.includes(r.requestId),
    );
    assert.equal(rows.length, 2);
    const [hot, route] = ids.map((id) => rows.find((r) => r.requestId === id));
    assert.ok(hot !== undefined && route !== undefined);
    assert.deepEqual(
      { ...hot, requestId: "", latencyMs: 0, createdAt: 0 },
      { ...route, requestId: "", latencyMs: 0, createdAt: 0 },
    );
  });
});

describe("inference hot path behind tokens", () => {
  let s: TestServer;
  const tokens = parseTokenFile(
    `- {name: app, role: inference, sha256: ${hashToken("infer-t")}}`,
    "tokens.yaml",
  );
  before(async () => (s = await startTestServer({ app: { tokens } })));
  after(async () => s.close());

  test("the token check runs first: 401 without a token, the hot path's answer with one", async () => {
    const payload = JSON.stringify({ instances: [{ amount: 1, hour: 3, night: 1 }] });
    const headers = { "content-type": "application/json" };
    const anonymous = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload,
      headers,
    });
    assert.equal(anonymous.statusCode, 401, anonymous.body);
    assert.equal(anonymous.headers["www-authenticate"], "Bearer");
    assert.equal(s.app.inferenceHotPath.taken, 0);
    const allowed = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload,
      headers: { ...headers, authorization: "Bearer infer-t" },
    });
    assert.equal(allowed.statusCode, 200, allowed.body);
    assert.equal(s.app.inferenceHotPath.taken, 1);
  });
});
