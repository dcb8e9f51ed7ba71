import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { readManifests } from "../../src/resources/manifest.js";

function manifests(
  yaml: string,
): Array<{ manifest: unknown; origin: { file: string; document: number; line: number } }> {
  return readManifests(yaml, "stack.yaml").map((m) => ({ manifest: m.manifest, origin: m.origin }));
}

const NOTIFIER = `apiVersion: ballast/v1
kind: Notifier
metadata: {name: oncall}
spec: {kind: webhook, url: "http://127.0.0.1:9/hook"}
`;
const deployment = (weights: [number, number], timeoutMs = 800) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  timeoutMs: ${timeoutMs}
  variants:
    - {name: stable, model: fraud, version: 1, weight: ${weights[0]}}
    - {name: canary, model: fraud, alias: latest, weight: ${weights[1]}}
`;
const MONITOR = `apiVersion: ballast/v1
kind: Monitor
metadata: {name: shop-drift}
spec:
  deployment: shop
  window: {kind: tumbling, by: count, size: 500}
  notifiers: [oncall]
`;
const stack = (weights: [number, number] = [90, 10]) =>
  `${MONITOR}---\n${deployment(weights)}---\n${NOTIFIER}`;

describe("resources: apply, get, diff, delete over HTTP", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  const apply = (yaml: string, extra: Record<string, unknown> = {}) =>
    server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(yaml), source: { via: "cli" }, ...extra },
    });

  test("a dry run says what would be created and changes nothing", async () => {
    const res = await apply(stack(), { dryRun: true });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as {
      dryRun: boolean;
      changes: Array<{ kind: string; name: string; action: string; diff: string }>;
    };
    assert.equal(body.dryRun, true);
    assert.deepEqual(
      body.changes.map((c) => `${c.kind}/${c.name} ${c.action}`),
      ["Monitor/shop-drift created", "Deployment/shop created", "Notifier/oncall created"],
    );
    assert.match(body.changes[1]!.diff, /\+ {5}weight: 90/);
    assert.equal((await server.app.inject({ url: "/api/v1/deployments/shop" })).statusCode, 404);
  });

  test("a batch applies in dependency order whatever the file order; the monitor gets the Notifier's config", async () => {
    const res = await apply(stack());
    assert.equal(res.statusCode, 200, res.body);
    const served = await server.app.inject({ url: "/api/v1/deployments/shop" });
    assert.equal(served.statusCode, 200);
    assert.deepEqual(
      (served.json() as { variants: Array<{ name: string; weight: number }> }).variants.map((v) => [
        v.name,
        v.weight,
      ]),
      [
        ["stable", 90],
        ["canary", 10],
      ],
    );
    const monitor = // Read inside: over HTTP the URL path is redacted.
      server.ballast.monitors.statusOf("shop-drift") as unknown as {
        spec: { notifiers: Array<{ kind: string; url: string }> };
      };
    assert.deepEqual(
      monitor.spec.notifiers.map((n) => [n.kind, n.url]),
      [["webhook", "http://127.0.0.1:9/hook"]],
    );
    const predict = await server.app.inject({
      method: "POST",
      url: "/v1/models/shop:predict",
      payload: { instances: [{ amount: 1, hour: 3, night: 1 }] },
    });
    assert.equal(predict.statusCode, 200, predict.body);
  });

  test("applying the same files again changes nothing and records nothing new", async () => {
    const before = (await server.app.inject({ url: "/api/v1/events?limit=1000" })).json() as {
      events: unknown[];
    };
    const res = await apply(stack());
    assert.deepEqual(
      (res.json() as { changes: Array<{ action: string }> }).changes.map((c) => c.action),
      ["unchanged", "unchanged", "unchanged"],
    );
    const afterEvents = (await server.app.inject({ url: "/api/v1/events?limit=1000" })).json() as {
      events: unknown[];
    };
    assert.equal(afterEvents.events.length, before.events.length);
  });

  test("get shows the declaration, its generation, source and sync state", async () => {
    const res = await server.app.inject({ url: "/api/v1/resources/deployments/shop" });
    const view = res.json() as {
      manifest: { spec: { timeoutMs: number } };
      status: { sync: string; generation: number; source: { via: string; file: string } };
    };
    assert.equal(view.status.sync, "Synced");
    assert.equal(view.status.generation, 1);
    assert.deepEqual(view.status.source, { via: "cli", file: "stack.yaml" });
    const list = (await server.app.inject({ url: "/api/v1/resources/deployment" })).json() as {
      items: Array<{ manifest: { metadata: { name: string } }; status: { sync: string } }>;
    };
    // `fraud` was deployed through the old API: listed, but nobody declared it.
    assert.deepEqual(
      list.items.map((i) => [i.manifest.metadata.name, i.status.sync]),
      [
        ["fraud", "Unmanaged"],
        ["shop", "Synced"],
      ],
    );
  });

  test("an invalid batch is refused whole: nothing of it is applied", async () => {
    const bad = stack([80, 20]).replace("  notifiers: [oncall]", "  notifiers: [oncall]\n  tset: psi");
    const res = await apply(bad);
    assert.equal(res.statusCode, 400);
    assert.match(
      (res.json() as { error: string }).error,
      /^stack\.yaml:1: Monitor shop-drift: spec: monitor has unknown field 'tset'/,
    );
    const served = (await server.app.inject({ url: "/api/v1/deployments/shop" })).json() as {
      variants: Array<{ weight: number }>;
    };
    assert.equal(served.variants[0]!.weight, 90, "the valid deployment in the same batch was not applied");
  });

  test("references that do not exist are refused with the field that names them", async () => {
    const missingVersion = deployment([90, 10]).replace("version: 1", "version: 42");
    const res = await apply(missingVersion);
    assert.equal(res.statusCode, 400);
    assert.match(
      (res.json() as { error: string }).error,
      /Deployment shop: spec\.variants\[0\]: .*version 42/,
    );
    const missingNotifier = await apply(MONITOR.replace("[oncall]", "[pager]"));
    assert.match(
      (missingNotifier.json() as { error: string }).error,
      /Monitor shop-drift: spec\.notifiers\[0\]: Notifier pager does not exist; apply it first or in the same batch/,
    );
    const missingDeployment = await apply(MONITOR.replace("deployment: shop", "deployment: nowhere"));
    assert.match(
      (missingDeployment.json() as { error: string }).error,
      /spec\.deployment: Deployment nowhere does not exist/,
    );
    const twice = await apply(`${NOTIFIER}---\n${NOTIFIER}`);
    assert.match(
      (twice.json() as { error: string }).error,
      /stack\.yaml:6: Notifier oncall: metadata\.name: declared twice \(also in stack\.yaml:1\)/,
    );
  });

  test("a change shows its diff, bumps the generation and is recorded as an event", async () => {
    const res = await apply(stack([80, 20]));
    const change = (
      res.json() as { changes: Array<{ kind: string; action: string; diff: string }> }
    ).changes.find((c) => c.kind === "Deployment");
    assert.equal(change?.action, "configured");
    assert.match(change?.diff ?? "", /- {5}weight: 90\n/);
    assert.match(change?.diff ?? "", /\+ {5}weight: 80\n/);
    const view = (await server.app.inject({ url: "/api/v1/resources/Deployment/shop" })).json() as {
      status: { generation: number };
    };
    assert.equal(view.status.generation, 2);
    const events = (await server.app.inject({ url: "/api/v1/events?kind=deployment&name=shop" })).json() as {
      events: Array<{ reason: string; message: string }>;
    };
    assert.deepEqual(
      events.events.map((e) => e.reason),
      ["Created", "Applied"],
    );
    assert.match(events.events[1]!.message, /generation 2/);
  });

  test("a change made around the declaration shows as out of sync; apply puts it back", async () => {
    const put = await server.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/shop",
      payload: { model: "fraud", version: 1, timeoutMs: 800 },
    });
    assert.equal(put.statusCode, 200, put.body);
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string; diff: string };
    };
    assert.equal(view.status.sync, "OutOfSync");
    assert.match(view.status.diff, /- {3}- alias: latest/);
    const res = await apply(stack([80, 20]));
    const change = (res.json() as { changes: Array<{ kind: string; action: string }> }).changes.find(
      (c) => c.kind === "Deployment",
    );
    assert.equal(change?.action, "configured");
    const again = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(again.status.sync, "Synced");
  });

  test("a Notifier in use cannot be deleted; a changed Notifier reaches the monitors that name it", async () => {
    const refused = await server.app.inject({ method: "DELETE", url: "/api/v1/resources/notifier/oncall" });
    assert.equal(refused.statusCode, 409);
    assert.match(
      (refused.json() as { error: string }).error,
      /Notifier oncall is used by Monitor shop-drift \(notifiers\[0\]\)/,
    );
    const res = await apply(NOTIFIER.replace("9/hook", "9/other"));
    assert.equal(res.statusCode, 200, res.body);
    const monitor = // Read inside: over HTTP the URL path is redacted.
      server.ballast.monitors.statusOf("shop-drift") as unknown as {
        spec: { notifiers: Array<{ url: string }> };
      };
    assert.equal(monitor.spec.notifiers[0]?.url, "http://127.0.0.1:9/other");
  });

  test("delete removes the live resource and its declaration, in the order references allow", async () => {
    assert.equal(
      (await server.app.inject({ method: "DELETE", url: "/api/v1/resources/monitor/shop-drift" })).statusCode,
      200,
    );
    assert.equal((await server.app.inject({ url: "/api/v1/monitors/shop-drift" })).statusCode, 404);
    assert.equal(
      (await server.app.inject({ method: "DELETE", url: "/api/v1/resources/notifier/oncall" })).statusCode,
      200,
    );
    assert.equal(
      (await server.app.inject({ method: "DELETE", url: "/api/v1/resources/notifier/oncall" })).statusCode,
      404,
    );
    assert.equal((await server.app.inject({ url: "/api/v1/resources/kinds" })).statusCode, 400);
  });

  test("bodies that are not an apply request are 400s naming the problem", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /must be \{resources/],
      [{ resources: "x" }, /resources must be a list/],
      [{ resources: [] }, /nothing to apply/],
      [{ resources: [{}], dryRun: "yes" }, /dryRun must be true or false/],
      [{ resources: [42] }, /request:1: expected a resource/],
    ];
    for (const [payload, message] of cases) {
      const res = await server.app.inject({
        method: "POST",
        url: "/api/v1/apply",
        payload: payload as object,
      });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match((res.json() as { error: string }).error, message);
    }
  });
});

describe("resources: API token", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ app: { apiToken: "s3cret" } });
  });
  after(async () => server.close());

  test("changes and reads need the token; inference does not", async () => {
    const payload = { resources: manifests(NOTIFIER) };
    const denied = await server.app.inject({ method: "POST", url: "/api/v1/apply", payload });
    assert.equal(denied.statusCode, 401);
    assert.match((denied.json() as { error: string }).error, /needs an API token/);
    const wrong = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload,
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.statusCode, 401);
    const ok = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload,
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await server.app.inject({ url: "/api/v1/resources/notifiers" })).statusCode, 401);
    const read = await server.app.inject({
      url: "/api/v1/resources/notifiers",
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(read.statusCode, 200);
    const predict = await server.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: { instances: [{ amount: 1, hour: 3, night: 1 }] },
    });
    assert.equal(predict.statusCode, 200);
  });
});

describe("resources: both kinds of Monitor through apply", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  test("a performance monitor declared in YAML is applied, read back and in sync", async () => {
    const yaml = `apiVersion: ballast/v1
kind: Monitor
metadata: {name: fraud-accuracy}
spec:
  type: performance
  deployment: fraud
  metric: accuracy
  condition: {below: 0.8}
  window: {bucket: 1h, buckets: 24}
`;
    const res = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(yaml) },
    });
    assert.equal(res.statusCode, 200, res.body);
    const status = (await server.app.inject({ url: "/api/v1/monitors/fraud-accuracy" })).json() as {
      spec: { type: string; metric: string };
    };
    assert.deepEqual([status.spec.type, status.spec.metric], ["performance", "accuracy"]);
    const view = (await server.app.inject({ url: "/api/v1/resources/monitor/fraud-accuracy" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Synced");
    const bad = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(yaml.replace("metric: accuracy", "metric: acuracy")) },
    });
    assert.equal(bad.statusCode, 400);
    assert.match((bad.json() as { error: string }).error, /Monitor fraud-accuracy: spec.*metric/);
  });
});

describe("resources: a rollout strategy names a Notifier", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  test("the name is checked, resolved to the configuration in the live deployment, and protects the Notifier", async () => {
    const deploymentWith = (notifier: string) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: 1}]
  strategy:
    canary:
      steps: [{setWeight: 10}]
      notifiers: [${notifier}]
`;
    const missing = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(deploymentWith("pager")) },
    });
    assert.equal(missing.statusCode, 400);
    assert.match(
      (missing.json() as { error: string }).error,
      /spec\.strategy\.canary\.notifiers\[0\]: Notifier pager does not exist/,
    );
    const res = await server.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { resources: manifests(`${NOTIFIER}---\n${deploymentWith("oncall")}`) },
    });
    assert.equal(res.statusCode, 200, res.body);
    // Read inside: over HTTP the URL path is redacted.
    const live = (await server.ballast.deployments.get("shop")) as unknown as {
      strategy: { canary: { notifiers: Array<{ kind: string; url: string }> } };
    };
    assert.deepEqual(
      live.strategy.canary.notifiers.map((n) => [n.kind, n.url]),
      [["webhook", "http://127.0.0.1:9/hook"]],
    );
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Synced");
    const refused = await server.app.inject({ method: "DELETE", url: "/api/v1/resources/notifier/oncall" });
    assert.equal(refused.statusCode, 409);
  });
});
