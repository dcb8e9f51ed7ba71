/**
 * Remote models and alert receivers are URLs the server calls from inside the network. These
 * tests stand up a real "internal" HTTP server with a secret page and check that nothing a
 * client can register reaches it, reads it, or tells its open ports from closed ones.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { parseAllowList } from "../../src/domain/remote-access.js";
import { createHttpRuntime } from "../../src/runtimes/http.js";
import { createNotifier } from "../../src/alerts/notifiers/index.js";

const SECRET = "SECRET-admin-key-4242";

/** An internal server: an admin page with a secret, and an OIP model whose infer misbehaves on demand. */
interface Internal {
  server: Server;
  port: number;
  hits: string[];
  mode: "ok" | "error" | "redirect";
}

async function internalServer(): Promise<Internal> {
  const state: Internal = { server: createServer(), port: 0, hits: [], mode: "ok" };
  state.server.on("request", (req, res) => {
    const url = req.url ?? "";
    state.hits.push(`${req.method} ${url}`);
    req.resume();
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.startsWith("/admin/keys")) {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(SECRET);
    }
    if (url === "/v2/models/moved") {
      res.writeHead(301, { location: "/admin/keys" });
      return res.end();
    }
    if (url === "/v2/models/fraud") {
      return json(200, {
        name: "fraud",
        inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3] }],
        outputs: [{ name: "probability", datatype: "FP32", shape: [-1] }],
        parameters: { features: ["amount", "hour", "night"] },
      });
    }
    if (url === "/v2/models/fraud/ready") return json(200, { ready: true });
    if (url === "/v2/models/fraud/infer") {
      if (state.mode === "error") return json(500, { error: `${SECRET} in the upstream's own words` });
      if (state.mode === "redirect") {
        res.writeHead(307, { location: "/admin/keys" });
        return res.end();
      }
      return json(200, {
        model_name: "fraud",
        outputs: [{ name: "probability", datatype: "FP32", shape: [1], data: [0.25] }],
      });
    }
    json(404, { error: `${SECRET}: no route ${url}` });
  });
  await new Promise<void>((resolve) => state.server.listen(0, "127.0.0.1", resolve));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

function stop(internal: Internal): Promise<void> {
  internal.server.closeAllConnections();
  return new Promise((resolve) => internal.server.close(() => resolve()));
}

/** Uploads a `ballast.http/v1` artifact pointing at `url` and registers it over the API. */
async function registerRemote(s: TestServer, name: string, url: string, model = "fraud") {
  const path = join(s.dataDir, `${name}-${Math.random()}.json`);
  await writeFile(path, JSON.stringify({ format: "ballast.http/v1", url, model }));
  const uploaded = await s.app.inject({
    method: "POST",
    url: "/api/v1/artifacts",
    headers: { "content-type": "application/octet-stream" },
    payload: await import("node:fs/promises").then((fs) => fs.readFile(path)),
  });
  assert.equal(uploaded.statusCode, 201, uploaded.body);
  await rm(path);
  return s.app.inject({
    method: "POST",
    url: `/api/v1/models/${name}/versions`,
    payload: { artifact: uploaded.json().artifact },
  });
}

const predict = (s: TestServer, name: string) =>
  s.app.inject({
    method: "POST",
    url: `/v1/models/${name}:predict`,
    payload: { instances: [{ amount: 1, hour: 2, night: 0 }] },
  });

/** A client's answer with its own request id taken out, to compare two answers. */
const shape = (res: { statusCode: number; body: string; headers: Record<string, unknown> }) => ({
  status: res.statusCode,
  body: res.body.replace(String(res.headers["x-request-id"]), "<id>"),
});

describe("remote models cannot reach into the network", () => {
  let internal: Internal;
  let s: TestServer;
  before(async () => {
    internal = await internalServer();
    s = await startTestServer({ deploy: false });
  });
  after(async () => {
    await s.close();
    await stop(internal);
  });

  test("a url with a query, fragment or user info is refused at registration with a 400 naming url", async () => {
    const base = `http://127.0.0.1:${internal.port}`;
    for (const url of [
      `${base}/admin/keys?x=`,
      `${base}/admin/keys?`,
      `${base}/#frag`,
      `http://admin:pw@127.0.0.1:${internal.port}`,
      `file:///etc/passwd`,
    ]) {
      const res = await registerRemote(s, "probe", url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.match(res.json().error, /^url: /, url);
      assert.doesNotMatch(res.body, new RegExp(SECRET));
    }
    assert.deepEqual(internal.hits, [], "nothing was fetched for a refused url");
  });

  test("calls go only to the protocol's own paths under the base url", async () => {
    internal.hits.length = 0;
    const res = await registerRemote(s, "remote", `http://127.0.0.1:${internal.port}/`);
    assert.equal(res.statusCode, 201, res.body);
    for (const model of ["..", "."]) {
      const dots = await registerRemote(s, "dots", `http://127.0.0.1:${internal.port}`, model);
      assert.equal(dots.statusCode, 400, dots.body);
    }
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/remote",
      payload: { model: "remote", version: 1, timeoutMs: 5000 },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal((await predict(s, "remote")).statusCode, 200);
    assert.ok(internal.hits.length > 0);
    for (const hit of internal.hits) assert.match(hit, /^(GET|POST) \/v2\/models\/fraud(\/ready|\/infer)?$/);
  });

  test("a failing model answers with a generic message and the request id; the upstream's words stay out", async () => {
    internal.mode = "error";
    const failed = await predict(s, "remote");
    assert.equal(failed.statusCode, 502, failed.body);
    assert.equal(
      failed.json().error,
      `model remote failed (request ${failed.headers["x-request-id"]}); see the server log`,
    );
    assert.doesNotMatch(failed.body, new RegExp(`${SECRET}|${internal.port}|127\\.0\\.0\\.1`));
    internal.mode = "ok";
  });

  test("a redirect is a model failure and is not followed", async () => {
    internal.mode = "redirect";
    internal.hits.length = 0;
    const res = await predict(s, "remote");
    assert.equal(res.statusCode, 502, res.body);
    assert.doesNotMatch(res.body, new RegExp(SECRET));
    assert.deepEqual(internal.hits, ["POST /v2/models/fraud/infer"], "the redirect's target got no hit");
    // At registration too: metadata that redirects is not followed.
    const moved = await registerRemote(s, "moved", `http://127.0.0.1:${internal.port}`, "moved");
    assert.notEqual(moved.statusCode, 201, moved.body);
    assert.doesNotMatch(moved.body, new RegExp(SECRET));
    assert.equal(internal.hits.filter((h) => h.includes("/admin/")).length, 0);
    internal.mode = "ok";
  });

  test("an upstream 500 and a closed port answer the client identically", async () => {
    internal.mode = "error";
    const open = shape(await predict(s, "remote"));
    await stop(internal);
    const closed = shape(await predict(s, "remote"));
    assert.deepEqual(closed, open);
    assert.equal(closed.status, 502);
    internal = await internalServer();
  });
});

describe("--allow-remote", () => {
  let allowed: Internal;
  let other: Internal;
  let s: TestServer;
  before(async () => {
    allowed = await internalServer();
    other = await internalServer();
    s = await startTestServer({
      deploy: false,
      ballast: { remoteAccess: parseAllowList(`127.0.0.1:${allowed.port}`) },
    });
  });
  after(async () => {
    await s.close();
    await stop(allowed);
    await stop(other);
  });

  test("a model outside the list is refused at registration, naming url; one inside is registered", async () => {
    const refused = await registerRemote(s, "elsewhere", `http://127.0.0.1:${other.port}`);
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(
      refused.json().error,
      new RegExp(`^url: 127\\.0\\.0\\.1:${other.port} is not an allowed remote host`),
    );
    assert.deepEqual(other.hits, []);
    const accepted = await registerRemote(s, "inside", `http://127.0.0.1:${allowed.port}`);
    assert.equal(accepted.statusCode, 201, accepted.body);
  });

  test("a model outside the list is refused at call time too (stored before the list narrowed)", async () => {
    const path = join(s.dataDir, "stored.json");
    await writeFile(
      path,
      JSON.stringify({ format: "ballast.http/v1", url: `http://127.0.0.1:${other.port}`, model: "fraud" }),
    );
    const runtime = createHttpRuntime(parseAllowList(`127.0.0.1:${allowed.port}`));
    await assert.rejects(runtime.load({ artifactPath: path, signature: null, timeoutMs: 1000 }), {
      code: "upstream",
      message: /is not an allowed remote host/,
    });
    assert.deepEqual(other.hits, []);
  });

  test("webhook notifiers outside the list are refused at registration and never called", async () => {
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/m",
      payload: {
        deployment: "fraud",
        notifiers: [{ kind: "webhook", name: "hook", url: `http://127.0.0.1:${other.port}/hook` }],
      },
    });
    assert.equal(put.statusCode, 400, put.body);
    assert.match(put.json().error, /^notifiers\[0\]\.url: .* is not an allowed remote host/);

    const access = parseAllowList(`127.0.0.1:${allowed.port}`);
    const notification = {
      status: "firing" as const,
      identity: "x",
      labels: { alertname: "Test" },
      annotations: {},
      startsAt: Date.now(),
    };
    const signal = new AbortController().signal;
    for (const kind of ["webhook", "slack", "alertmanager"]) {
      const outside = createNotifier(
        { kind, name: "n", url: `http://127.0.0.1:${other.port}/hook` },
        "notifier",
        access,
      );
      await assert.rejects(outside.send(notification, signal), { message: /not an allowed remote host/ });
      const inside = createNotifier(
        { kind, name: "n", url: `http://127.0.0.1:${allowed.port}/hook` },
        "notifier",
        access,
      );
      // The allowed receiver is called (it answers 404, which is its own business).
      await assert.rejects(inside.send(notification, signal), { code: "upstream" });
    }
    assert.deepEqual(other.hits, [], "the receiver outside the list got nothing");
    assert.equal(allowed.hits.filter((h) => h.startsWith("POST /hook")).length, 3);
  });
});

test("a missing artifact's absolute path never reaches the inference client", async () => {
  const s = await startTestServer({ deploy: false });
  try {
    const { version } = await s.ballast.registry.registerVersion({
      model: "fraud",
      artifactPath: s.modelPath,
    });
    await rm(s.ballast.artifacts.pathFor(version.artifactSha256));
    await s.ballast.deployments.put({
      name: "fraud",
      variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
    });
    await s.ballast.endpoints.sync();
    const res = await predict(s, "fraud");
    assert.ok(res.statusCode >= 500, res.body);
    assert.doesNotMatch(res.body, /ENOENT|\/artifacts\/|ballast-test-/);
    assert.match(res.json().error, /see the server log/);
    // Health is open to anyone too: it names the deployment, not the reason.
    const health = await s.app.inject("/v2/health/ready");
    assert.equal(health.statusCode, 503);
    assert.doesNotMatch(health.body, /ENOENT|\/artifacts\/|ballast-test-/);
    assert.match(health.json().error, /not serving: fraud/);
  } finally {
    await s.close();
  }
});
