/**
 * A Router names its notifiers like a Monitor does: its regime change reaches a real local
 * webhook receiver. A bad notifier is refused at apply with the field named.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { CLASSIFIER, W } from "../helpers/router-fixtures.js";

function router(spec: Record<string, unknown>) {
  return {
    apiVersion: "ballast/v1",
    kind: "Router",
    metadata: { name: "watch" },
    spec: {
      classifier: { model: "regimes", version: 1 },
      regimes: ["calm", "turbulent"],
      specialists: [{ name: "ewma", deployment: "ewma" }],
      instrument: "ftse",
      scale: 100,
      ...spec,
    },
  };
}

describe("a Router's notifiers", () => {
  let s: TestServer;
  let receiver: Server;
  let url = "";
  const received: Array<Record<string, unknown>> = [];
  let heard!: () => void;
  const first = new Promise<void>((resolve) => (heard = resolve));
  before(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.end("ok");
        heard();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    s = await startTestServer({ deploy: false });
    const ewma = join(s.dataDir, "ewma.json");
    await writeFile(
      ewma,
      serializeBuiltinModel(
        parseBuiltinModel({ format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.94 }),
      ),
    );
    const { version } = await s.ballast.registry.registerVersion({ model: "ewma", artifactPath: ewma });
    await s.ballast.deployments.put({
      name: "ewma",
      variants: [{ name: "stable", model: "ewma", ref: { version: version.version }, weight: 100 }],
    });
    await s.ballast.endpoints.sync();
    const classifier = join(s.dataDir, "regimes.json");
    await writeFile(classifier, JSON.stringify(CLASSIFIER));
    await s.ballast.registry.registerVersion({ model: "regimes", artifactPath: classifier });
  });
  after(async () => {
    await s.close();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  const apply = (manifest: object) =>
    s.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: { source: { via: "cli" }, resources: [{ manifest }] },
    });

  test("a notifier the schema refuses is a 400 naming the field", async () => {
    const res = await apply(router({ notifiers: [{ kind: "webhook", name: "hook", url: "not a url" }] }));
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.body, /notifiers\[0\]/);
  });

  test("two notifiers with one name are a 400 naming the second, as for a Monitor", async () => {
    const hook = { kind: "webhook", name: "hook", url: "http://127.0.0.1:9/hook" };
    const res = await apply(router({ notifiers: [hook, { ...hook, url: "http://127.0.0.1:9/other" }] }));
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().error, /notifiers\[1\]\.name: another notifier is already named "hook"/);
  });

  test("the regime change reaches the router's webhook", { timeout: 60_000 }, async () => {
    const res = await apply(router({ notifiers: [{ kind: "webhook", name: "hook", url }] }));
    assert.equal(res.statusCode, 200, res.body);
    const calm = Array.from({ length: W }, (_, i) => 0.004 * Math.sin(1.7 * i + 1));
    const turbulent = Array.from({ length: W }, (_, i) => 0.03 * Math.sin(1.7 * i + 2));
    const bars = [...calm, ...turbulent].map((r, i) => ({ time: 1000 + i, return: i === 0 ? null : r }));
    await s.ballast.routers.observeBars("ftse", bars);
    await s.ballast.alerts.idle();
    await first;
    const text = JSON.stringify(received);
    assert.match(text, /RegimeChanged/);
    assert.match(text, /turned turbulent \(from calm\)/);
    assert.match(text, /"router":"watch"/);
  });
});
