/** Issue 8, items 1 and 2: no spelling of a path passes the token check, and roles decide the rest. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { accessFor } from "../../src/server/access.js";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("security: the token check is on the matched route", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ app: { apiToken: "s3cret" } });
  });
  after(async () => server.close());

  for (const url of [
    "/%61pi/v1/deployments/fraud",
    "/a%70i/v1/deployments/fraud",
    "/api/%761/deployments/fraud",
    "/api/v1/%64eployments/fraud",
    "/api/v1/deployments/fr%61ud",
  ]) {
    test(`DELETE ${url} without a token is 401 and the deployment stays`, async () => {
      const res = await server.app.inject({ method: "DELETE", url });
      assert.equal(res.statusCode, 401, res.body);
      assert.match((res.json() as { error: string }).error, /needs an API token/);
      assert.equal(res.headers["www-authenticate"], "Bearer");
      const still = await server.app.inject({ url: "/api/v1/deployments/fraud", headers: bearer("s3cret") });
      assert.equal(still.statusCode, 200, still.body);
    });
  }

  test("with the token the same spelling reaches the handler", async () => {
    const res = await server.app.inject({
      method: "GET",
      url: "/%61pi/v1/deployments/fraud",
      headers: bearer("s3cret"),
    });
    assert.equal(res.statusCode, 200, res.body);
  });

  test("reads need the token too; health, /metrics and inference stay open", async () => {
    for (const url of [
      "/api/v1/deployments",
      "/api/v1/events",
      "/api/v1/resources/notifiers",
      "/api/v1/models",
    ]) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 401, `${url}: ${res.body}`);
    }
    for (const url of ["/v2/health/live", "/v2/health/ready", "/v2", "/metrics", "/v2/models/fraud"]) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    }
    const predict = await server.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: { instances: [{ amount: 1, hour: 3, night: 1 }] },
    });
    assert.equal(predict.statusCode, 200, predict.body);
  });
});

describe("security: roles", () => {
  let server: TestServer;
  const tokens = parseTokenFile(
    [
      `- {name: grafana, role: viewer, sha256: ${hashToken("view-t")}}`,
      `- {name: ci, role: operator, sha256: ${hashToken("op-t")}}`,
      `- {name: root, role: admin, sha256: ${hashToken("admin-t")}}`,
      `- {name: app, role: inference, sha256: ${hashToken("infer-t")}}`,
    ].join("\n"),
    "tokens.yaml",
  );
  before(async () => {
    server = await startTestServer({ app: { tokens } });
  });
  after(async () => server.close());

  const call = (method: "GET" | "POST" | "PUT" | "DELETE", url: string, token?: string, payload?: object) =>
    server.app.inject({
      method,
      url,
      ...(token === undefined ? {} : { headers: bearer(token) }),
      ...(payload === undefined ? {} : { payload }),
    });

  test("a viewer reads and changes nothing: 403 naming the role needed", async () => {
    assert.equal((await call("GET", "/api/v1/deployments", "view-t")).statusCode, 200);
    const denied = await call("DELETE", "/api/v1/deployments/fraud", "view-t");
    assert.equal(denied.statusCode, 403, denied.body);
    assert.match(
      (denied.json() as { error: string }).error,
      /needs role operator or admin; token 'grafana' has role viewer/,
    );
    const infer = await call("POST", "/v1/models/fraud:predict", "view-t", {
      instances: [{ amount: 1, hour: 3, night: 1 }],
    });
    assert.equal(infer.statusCode, 403, infer.body);
  });

  test("an operator deploys and sends feedback, but does not register models or notifiers", async () => {
    const put = await call("PUT", "/api/v1/deployments/other", "op-t", {
      variants: [{ name: "stable", model: "fraud", version: 1, weight: 100 }],
    });
    assert.equal(put.statusCode, 200, put.body);
    const feedback = await call("POST", "/v1/feedback", "op-t", {
      feedback: [{ request_id: "r1", label: 1 }],
    });
    assert.equal(feedback.statusCode, 200, feedback.body);
    const register = await call("POST", "/api/v1/models/fraud/versions", "op-t", {
      artifact: `sha256:${"0".repeat(64)}`,
    });
    assert.equal(register.statusCode, 403, register.body);
    const apply = await call("POST", "/api/v1/apply", "op-t", { resources: [] });
    assert.equal(apply.statusCode, 403, apply.body);
  });

  test("feedback needs a token once tokens are configured", async () => {
    const res = await call("POST", "/v1/feedback", undefined, { feedback: [{ request_id: "r1", label: 1 }] });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal((await call("POST", "/v1/feedback", "app", { feedback: [] })).statusCode, 401);
  });

  test("an inference token closes inference: anonymous 401, inference token 200, and it reads nothing", async () => {
    const payload = { instances: [{ amount: 1, hour: 3, night: 1 }] };
    assert.equal((await call("POST", "/v1/models/fraud:predict", undefined, payload)).statusCode, 401);
    assert.equal((await call("POST", "/v1/models/fraud:predict", "infer-t", payload)).statusCode, 200);
    assert.equal((await call("POST", "/v1/models/fraud:predict", "admin-t", payload)).statusCode, 200);
    assert.equal((await call("GET", "/api/v1/deployments", "infer-t")).statusCode, 403);
    assert.equal((await call("GET", "/v2/health/ready")).statusCode, 200);
  });

  test("an admin does everything; an unknown token is 401", async () => {
    assert.equal((await call("POST", "/api/v1/apply", "admin-t", { resources: [] })).statusCode, 400);
    assert.equal((await call("GET", "/api/v1/deployments", "nope")).statusCode, 401);
  });
});

describe("security: what each route needs", () => {
  test("the matched pattern decides; an unknown route is admin-only", () => {
    const cases: Array<[string, string | undefined, string]> = [
      ["GET", "/v2/health/live", "open"],
      ["GET", "/metrics", "open"],
      ["POST", "/v2/models/:name/infer", "infer"],
      ["GET", "/v2/models/:name", "infer"],
      ["POST", "/v1/models/:nameAndVerb", "infer"],
      ["POST", "/v1/feedback", "feedback"],
      ["GET", "/api/v1/events", "read"],
      ["HEAD", "/api/v1/resources/:kind", "read"],
      ["PUT", "/api/v1/deployments/:name", "operate"],
      ["POST", "/api/v1/deployments/:name/rollout/:action", "operate"],
      ["POST", "/api/v1/artifacts", "admin"],
      ["PUT", "/api/v1/models/:name/aliases/:alias", "admin"],
      ["POST", "/api/v1/apply", "admin"],
      ["PUT", "/api/v1/monitors/:name", "admin"],
      ["POST", "/v3/something-new", "admin"],
      ["GET", undefined, "open"],
    ];
    for (const [method, route, access] of cases)
      assert.equal(accessFor(method, route), access, `${method} ${route}`);
  });
});

describe("security: token files", () => {
  test("entries are checked and name the line", () => {
    assert.throws(() => parseTokenFile("- {name: ci, role: root, sha256: x}", "t.yaml"), /t.yaml\[0\]\.role/);
    assert.throws(() => parseTokenFile("- {name: ci, role: admin, sha256: abc}", "t.yaml"), /sha256/);
    assert.throws(
      () => parseTokenFile("- {name: ci, role: admin, token: abc}", "t.yaml"),
      /token: unknown field/,
    );
    assert.deepEqual(parseTokenFile("", "t.yaml"), []);
  });
});
