/**
 * A router's deadline cancels what it gives up on: a real HTTP specialist that takes requests
 * and never answers. The router answers with that specialist dropped ('deadline'), counted, and
 * the slow server sees its request's connection closed: the call does not run on. No timing is
 * asserted: the server never answers, so the deadline is the only way the answer can come.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { CLASSIFIER, W } from "../helpers/router-fixtures.js";

/** Answers metadata and readiness; takes inference requests and never answers them. */
function slowSpecialist(): { server: Server; closed: Promise<void>; held: IncomingMessage[] } {
  const held: IncomingMessage[] = [];
  let heard!: () => void;
  const closed = new Promise<void>((resolve) => (heard = resolve));
  const server = createServer((req, res) => {
    if (req.method === "POST") {
      held.push(req);
      res.on("close", () => heard());
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify(
        req.url?.endsWith("/ready")
          ? { ready: true }
          : {
              name: "slow",
              platform: "test",
              inputs: [{ name: "returns", datatype: "FP64", shape: [-1, -1] }],
              outputs: [{ name: "variance", datatype: "FP64", shape: [-1, -1] }],
            },
      ),
    );
  });
  return { server, closed, held };
}

describe("a router's deadline aborts the specialist calls it gives up on", () => {
  let s: TestServer;
  const slow = slowSpecialist();
  before(async () => {
    await new Promise<void>((resolve) => slow.server.listen(0, "127.0.0.1", resolve));
    const port = (slow.server.address() as AddressInfo).port;
    s = await startTestServer({ deploy: false });
    const ewma = join(s.dataDir, "ewma.json");
    await writeFile(
      ewma,
      serializeBuiltinModel(
        parseBuiltinModel({ format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.94 }),
      ),
    );
    const remote = join(s.dataDir, "slow.json");
    await writeFile(
      remote,
      JSON.stringify({ format: "ballast.http/v1", url: `http://127.0.0.1:${port}`, model: "slow" }),
    );
    for (const [model, path] of [
      ["ewma", ewma],
      ["slow", remote],
    ] as const) {
      const { version } = await s.ballast.registry.registerVersion({ model, artifactPath: path });
      // The deployment's own timeout is long: only the router's deadline can end the call.
      await s.ballast.deployments.put({
        name: model,
        timeoutMs: 600_000,
        variants: [{ name: "stable", model, ref: { version: version.version }, weight: 100 }],
      });
    }
    await s.ballast.endpoints.sync();
    const classifier = join(s.dataDir, "regimes.json");
    await writeFile(classifier, JSON.stringify(CLASSIFIER));
    await s.ballast.registry.registerVersion({ model: "regimes", artifactPath: classifier });
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: {
        source: { via: "cli" },
        resources: [
          {
            manifest: {
              apiVersion: "ballast/v1",
              kind: "Router",
              metadata: { name: "vol" },
              spec: {
                classifier: { model: "regimes", version: 1 },
                regimes: ["calm", "turbulent"],
                specialists: [
                  { name: "ewma", deployment: "ewma" },
                  { name: "slow", deployment: "slow" },
                ],
                weights: {
                  calm: { weights: { ewma: 1, slow: 1 } },
                  turbulent: { weights: { ewma: 1, slow: 1 } },
                },
                deadlineMs: 200,
              },
            },
          },
        ],
      },
    });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => {
    await s.close();
    slow.server.closeAllConnections();
    await new Promise<void>((resolve) => slow.server.close(() => resolve()));
  });

  // The timeout only turns a call left running (the server would wait forever) into a failure.
  test(
    "answers with the slow specialist dropped ('deadline'), counted, and its connection closed",
    { timeout: 60_000 },
    async () => {
      const returns = Array.from({ length: W }, (_, i) => 0.004 * Math.sin(1.7 * i + 1));
      const payload = { inputs: [{ name: "returns", datatype: "FP64", shape: [1, W], data: returns }] };
      const own = await s.app.inject({ method: "POST", url: "/v2/models/ewma/infer", payload });
      const res = await s.app.inject({ method: "POST", url: "/v2/models/vol/infer", payload });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.outputs[0].data[0], own.json().outputs[0].data[0]);
      assert.deepEqual(body.parameters.weights, [{ ewma: 1 }]);
      assert.match(body.parameters.dropped.slow, /^deadline: no answer within 200 ms/);
      // The slow server took the request, and its connection is closed by the abort.
      await slow.closed;
      assert.equal(slow.held.length, 1);
      const view = (await s.app.inject({ url: "/api/v1/routers/vol" })).json();
      assert.deepEqual(view.specialists.find((x: { name: string }) => x.name === "slow").failures, {
        deadline: 1,
      });
    },
  );
});
