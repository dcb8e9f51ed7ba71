/**
 * Two end-to-end properties over HTTP: a deployment moved to a new version under traffic drops
 * no request, and a model served by another Open Inference Protocol server (here a second
 * Ballast) is deployed and called like any other.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { FRAUD_MODEL, expectedProbability, startTestServer } from "../helpers/app.js";

const instance = { amount: 2.5, hour: 3, night: 1 };

test("moving a deployment to a new version under concurrent traffic drops no request", async () => {
  const s = await startTestServer();
  try {
    const v2Path = join(s.dataDir, "fraud-v2.json");
    await writeFile(v2Path, JSON.stringify({ ...FRAUD_MODEL, intercept: 0 }));
    const { version } = await s.ballast.registry.registerVersion({ model: "fraud", artifactPath: v2Path });
    const call = () =>
      s.app.inject({ method: "POST", url: "/v1/models/fraud:predict", payload: { instances: [instance] } });
    const before = Array.from({ length: 200 }, call);
    const move = s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: { model: "fraud", version: version.version },
    });
    const after = Array.from({ length: 200 }, call);
    const answers = await Promise.all([...before, ...after]);
    assert.equal((await move).statusCode, 200);
    assert.deepEqual(
      [...new Set(answers.map((a) => a.statusCode))],
      [200],
      "every request in flight during the swap is answered",
    );
    const versions = new Set(answers.map((a) => a.json().model_version));
    assert.ok(versions.has("1"), "requests before the swap ran on version 1");
    const last = await call();
    assert.equal(last.json().model_version, "2");
    assert.equal(s.ballast.pool.state("fraud", 1).state, "unloaded");
  } finally {
    await s.close();
  }
});

test("an http model: a deployment whose version is served by another OIP server", async () => {
  const remote = await startTestServer();
  const local = await startTestServer({ deploy: false });
  try {
    await remote.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (remote.app.server.address() as AddressInfo).port;
    const artifact = join(local.dataDir, "remote-fraud.json");
    await writeFile(
      artifact,
      JSON.stringify({ format: "ballast.http/v1", url: `http://127.0.0.1:${port}`, model: "fraud" }),
    );
    const { version } = await local.ballast.registry.registerVersion({
      model: "fraud-remote",
      artifactPath: artifact,
    });
    assert.equal(version.flavor, "http");
    assert.deepEqual(
      version.signature?.features,
      ["amount", "hour", "night"],
      "the signature is read from the remote metadata",
    );
    const put = await local.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud-remote",
      payload: { model: "fraud-remote", version: 1, timeoutMs: 5000 },
    });
    assert.equal(put.json().status.ready, true, put.body);
    const res = await local.app.inject({
      method: "POST",
      url: "/v1/models/fraud-remote:predict",
      payload: { instances: [instance] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(Math.abs(res.json().predictions[0].probability - expectedProbability([2.5, 3, 1])) < 1e-6);
    assert.equal((await local.app.inject("/v2/models/fraud-remote")).json().platform, "ballast_remote_v2");

    // The remote goes away: calls fail with a 502 that names the request, not the remote's
    // address or error (those go to the server log), and the local server stays up.
    await remote.app.close();
    const down = await local.app.inject({
      method: "POST",
      url: "/v1/models/fraud-remote:predict",
      payload: { instances: [instance] },
    });
    assert.equal(down.statusCode, 502, down.body);
    assert.equal(
      down.json().error,
      `model fraud-remote failed (request ${down.headers["x-request-id"]}); see the server log`,
    );
    assert.equal((await local.app.inject("/v2/health/live")).statusCode, 200);
  } finally {
    await local.close();
    await remote.close();
  }
});
