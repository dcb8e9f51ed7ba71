/**
 * Graceful degradation over HTTP, against models the test controls: a remote OIP server (the
 * http runtime's real network path) that answers, fails, holds requests until released, or
 * never answers at all; and a builtin model whose output overflows to Infinity.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectedProbability, FRAUD_FEATURES, startTestServer, type TestServer } from "../helpers/app.js";
import { registerRemoteModel, startRemoteModel, type RemoteModel } from "../helpers/remote-model.js";

/** Registers the remote as model `remote` and deploys `primary` (remote) + `stable` (builtin fraud). */
async function deploy(s: TestServer, remote: RemoteModel, resilience: unknown, timeoutMs = 5000) {
  await registerRemoteModel(s, remote);
  // Loaded under a generous deadline first, so a loaded machine cannot fail the load itself;
  // the short deadline under test applies from the second put on (the model stays loaded).
  if (timeoutMs < 5000) await deploy(s, remote, resilience, 5000);
  const put = await s.app.inject({
    method: "PUT",
    url: "/api/v1/deployments/fraud",
    payload: {
      variants: [
        { name: "primary", model: "remote", version: 1, weight: 100 },
        { name: "stable", model: "fraud", version: 1, weight: 0 },
      ],
      timeoutMs,
      resilience,
    },
  });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().status.ready, true, put.body);
  assert.deepEqual(
    (await s.app.inject("/api/v1/deployments/fraud")).json().resilience.fallback,
    (resilience as { fallback?: unknown }).fallback,
    "the resilience settings are stored and read back",
  );
}

const row = [2.5, 3, 1];
const infer = (s: TestServer, path = "/v2/models/fraud/infer") =>
  s.app.inject({
    method: "POST",
    url: path,
    payload: { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: row }] },
  });
const predict = (s: TestServer) =>
  s.app.inject({
    method: "POST",
    url: "/v1/models/fraud:predict",
    payload: { instances: [{ amount: 2.5, hour: 3, night: 1 }] },
  });

async function withServers(body: (s: TestServer, remote: RemoteModel) => Promise<void>): Promise<void> {
  const s = await startTestServer();
  const remote = await startRemoteModel();
  try {
    await body(s, remote);
  } finally {
    await s.close();
    await remote.close();
  }
}

async function metric(s: TestServer, line: RegExp): Promise<string | undefined> {
  const text = (await s.app.inject("/metrics")).body;
  return text.split("\n").find((l) => line.test(l));
}

test("a model that hangs: the deadline passes and the fallback variant answers, marked as such", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { fallback: { variant: "stable" } }, 100);
    remote.state.mode = "hang";
    const res = await infer(s);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers["x-ballast-fallback"], "timeout");
    const body = res.json();
    assert.deepEqual(body.parameters, { fallback: true, fallback_reason: "timeout", served_by: "stable" });
    assert.equal(body.model_version, "1");
    assert.ok(
      Math.abs(body.outputs[0].data[0] - expectedProbability(row)) < 1e-6,
      "the stable model answered",
    );

    const v1 = await predict(s);
    assert.equal(v1.statusCode, 200, v1.body);
    assert.equal(v1.headers["x-ballast-fallback"], "timeout");
    assert.equal(v1.json().fallback, true);
    assert.equal(v1.json().fallback_reason, "timeout");
    assert.equal(v1.json().served_by, "stable");

    await s.ballast.predictionLog.flush();
    const logged = (await s.app.inject("/api/v1/predictions?deployment=fraud")).json();
    const rows = (Array.isArray(logged) ? logged : logged.predictions) as Array<Record<string, unknown>>;
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.variant, "stable", "the log names the variant that answered");
      assert.equal(r.model, "fraud");
      assert.deepEqual((r.inputs as { fallback: unknown }).fallback, {
        reason: "timeout",
        variant: "primary",
      });
    }
    assert.equal(
      await metric(s, /^ballast_fallback_total\{deployment="fraud",reason="timeout"\}/),
      'ballast_fallback_total{deployment="fraud",reason="timeout"} 2',
    );
  });
});

test("a model that hangs with no fallback: 504 naming the deadline", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { maxConcurrency: 10 }, 100);
    remote.state.mode = "hang";
    const res = await infer(s);
    assert.equal(res.statusCode, 504, res.body);
    assert.match(res.json().error, /did not answer within 100 ms/);
    assert.equal(res.headers["x-ballast-fallback"], undefined);
  });
});

test("a model that errors falls back to a static default response, one row per request row", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { fallback: { response: { outputs: { probability: 0.5 } } } });
    remote.state.mode = "error";
    const res = await s.app.inject({
      method: "POST",
      url: "/v2/models/fraud/infer",
      payload: { inputs: [{ name: "input", datatype: "FP32", shape: [2, 3], data: [...row, ...row] }] },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers["x-ballast-fallback"], "error");
    const body = res.json();
    assert.deepEqual(body.outputs, [{ name: "probability", datatype: "FP32", shape: [2], data: [0.5, 0.5] }]);
    assert.deepEqual(body.parameters, { fallback: true, fallback_reason: "error", served_by: "@static" });
    assert.equal("model_version" in body, false, "no version gave a static answer");

    const v1 = await predict(s);
    assert.deepEqual(v1.json().predictions, [0.5]);
    assert.equal(v1.json().served_by, "@static");

    // fallbackOn narrows what the fallback covers: an error is then the client's 502.
    await deploy(s, remote, {
      fallback: { response: { outputs: { probability: 0.5 } } },
      fallbackOn: ["timeout"],
    });
    const narrowed = await infer(s);
    assert.equal(narrowed.statusCode, 502, narrowed.body);
    assert.doesNotMatch(narrowed.json().error, /model crashed/, "the remote's words stay in the server log");
    assert.match(narrowed.json().error, /^model fraud failed \(request \S+\); see the server log$/);
  });
});

test("a version pinned in the path is never answered by a fallback", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { fallback: { variant: "stable" } });
    remote.state.mode = "error";
    const res = await infer(s, "/v2/models/fraud/versions/1/infer");
    // Both variants serve a version 1 (of different models); the path names the first.
    assert.equal(res.statusCode, 502, res.body);
  });
});

test("a model that returns NaN or Infinity fails with 502 rather than null, and the fallback answers", async () => {
  const s = await startTestServer();
  try {
    const path = join(s.dataDir, "overflow.json");
    await writeFile(
      path,
      JSON.stringify({
        format: "ballast.builtin/v1",
        kind: "linear_regression",
        features: FRAUD_FEATURES,
        weights: [1e308, 0, 0],
        intercept: 0,
      }),
    );
    await s.ballast.registry.registerVersion({ model: "overflow", artifactPath: path });
    const put = (resilience: unknown) =>
      s.app.inject({
        method: "PUT",
        url: "/api/v1/deployments/over",
        payload: {
          variants: [{ name: "primary", model: "overflow", version: 1, weight: 100 }],
          ...(resilience === undefined ? {} : { resilience }),
        },
      });
    const call = () =>
      s.app.inject({
        method: "POST",
        url: "/v1/models/over:predict",
        payload: { instances: [{ amount: 2, hour: 0, night: 0 }] },
      });
    assert.equal((await put(undefined)).statusCode, 200);
    const bare = await call();
    assert.equal(bare.statusCode, 502, bare.body);
    assert.equal(
      bare.json().error,
      `model over failed (request ${bare.headers["x-request-id"]}); see the server log`,
    );

    assert.equal((await put({ fallback: { response: { outputs: { prediction: 0 } } } })).statusCode, 200);
    const covered = await call();
    assert.equal(covered.statusCode, 200, covered.body);
    assert.equal(covered.headers["x-ballast-fallback"], "nan");
    assert.deepEqual(covered.json().predictions, [0]);
  } finally {
    await s.close();
  }
});

test("the circuit opens after consecutive failures, serves the fallback without calling the model, and closes after a probe", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, {
      fallback: { variant: "stable" },
      circuitBreaker: { failures: 2, openMs: 30_000, halfOpenProbes: 1 },
    });
    const state = () => metric(s, /^ballast_circuit_state\{deployment="fraud",variant="primary"\}/);
    assert.equal((await infer(s)).headers["x-ballast-fallback"], undefined, "healthy: the primary answers");
    remote.state.mode = "error";
    for (let i = 0; i < 2; i++) assert.equal((await infer(s)).headers["x-ballast-fallback"], "error");
    assert.equal(await state(), 'ballast_circuit_state{deployment="fraud",variant="primary"} 2');

    const callsBefore = remote.state.calls;
    const open = await infer(s);
    assert.equal(open.statusCode, 200);
    assert.equal(open.headers["x-ballast-fallback"], "circuit_open");
    assert.equal(open.json().parameters.fallback_reason, "circuit_open");
    assert.equal(remote.state.calls, callsBefore, "an open circuit does not call the model");

    // openMs later one probe goes through; it succeeds and the circuit closes.
    remote.state.mode = "ok";
    s.clock.advance(30_000);
    const probe = await infer(s);
    assert.equal(probe.headers["x-ballast-fallback"], undefined, probe.body);
    assert.equal(remote.state.calls, callsBefore + 1);
    assert.equal(await state(), 'ballast_circuit_state{deployment="fraud",variant="primary"} 0');
    assert.match(
      (await metric(s, /^ballast_fallback_total\{deployment="fraud",reason="circuit_open"\}/)) ?? "",
      / 1$/,
    );
  });
});

test("an open circuit with no fallback answers 503 with Retry-After until it half-opens", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { circuitBreaker: { failures: 1, openMs: 20_000 } });
    remote.state.mode = "error";
    assert.equal((await infer(s)).statusCode, 502);
    s.clock.advance(5_000);
    const refused = await infer(s);
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.headers["retry-after"], "15");
    assert.match(
      refused.json().error,
      /variant 'primary' of 'fraud' is failing and its circuit is open; retry after 15 s/,
    );
  });
});

test("past maxConcurrency requests are shed with 503 and Retry-After, and counted", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { maxConcurrency: 2 });
    remote.state.mode = "hold";
    const first = infer(s);
    const second = predict(s);
    await remote.heldCount(2);
    const shed = await infer(s);
    assert.equal(shed.statusCode, 503, shed.body);
    assert.equal(shed.headers["retry-after"], "1");
    assert.match(shed.json().error, /'fraud' is at its limit of 2 requests in flight/);

    for (const release of remote.state.held) release();
    assert.equal((await first).statusCode, 200);
    assert.equal((await second).statusCode, 200);
    remote.state.mode = "ok";
    assert.equal((await infer(s)).statusCode, 200, "slots are given back when requests finish");
    assert.equal(
      await metric(s, /^ballast_requests_shed_total\{deployment="fraud"\}/),
      'ballast_requests_shed_total{deployment="fraud"} 1',
    );
  });
});

test("bad resilience settings are refused with 400 naming the field", async () => {
  await withServers(async (s, remote) => {
    await deploy(s, remote, { maxConcurrency: 1 });
    const res = await s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: {
        variants: [{ name: "primary", model: "remote", version: 1, weight: 100 }],
        resilience: { fallback: { model: "remote", ref: { version: 9 } } },
      },
    });
    assert.equal(res.statusCode, 404, res.body);
    assert.match(res.json().error, /^resilience\.fallback\.ref: /);
    const bad = await s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: {
        variants: [{ name: "primary", model: "remote", version: 1, weight: 100 }],
        resilience: { circuitBreaker: { failures: -1 } },
      },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /^resilience\.circuitBreaker\.failures: -1 is out of range/);
  });
});

test("a fallback version (not a variant) is loaded with the deployment and answers", async () => {
  await withServers(async (s, remote) => {
    await registerRemoteModel(s, remote);
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: {
        model: "remote",
        version: 1,
        resilience: { fallback: { model: "fraud", ref: { version: 1 } } },
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    remote.state.mode = "error";
    const res = await infer(s);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().parameters.served_by, "@fallback");
    assert.ok(Math.abs(res.json().outputs[0].data[0] - expectedProbability(row)) < 1e-6);

    const del = await s.app.inject({ method: "DELETE", url: "/api/v1/models/fraud/versions/1" });
    assert.equal(del.statusCode, 409, "a version a deployment falls back to cannot be deleted");
    assert.match(del.json().error, /resilience\.fallback/);
  });
});
