import { test } from "node:test";
import assert from "node:assert/strict";
import type { Deployment, ModelVersion, Signature, VersionRef } from "../../src/domain/model.js";
import type { Tensor } from "../../src/domain/tensor.js";
import type { LoadedModel, Runtime } from "../../src/runtimes/runtime.js";
import { ModelPool } from "../../src/serving/model-pool.js";
import { Endpoints } from "../../src/serving/endpoints.js";

const SIGNATURE: Signature = {
  inputs: [{ name: "x", datatype: "FP32", shape: [-1] }],
  outputs: [{ name: "y", datatype: "FP32", shape: [-1] }],
};

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A runtime whose loads and calls finish only when the test says so. */
class ControlledRuntime implements Runtime {
  readonly flavor = "builtin" as const;
  readonly events: string[] = [];
  readonly pendingCalls: Array<{ version: string; finish: () => void }> = [];
  failLoad = new Set<string>();
  inspect = async () => SIGNATURE;
  async load(request: { artifactPath: string }): Promise<LoadedModel> {
    const version = request.artifactPath;
    this.events.push(`load ${version}`);
    if (this.failLoad.has(version)) throw new Error(`cannot read ${version}`);
    return {
      signature: SIGNATURE,
      warm: async () => void this.events.push(`warm ${version}`),
      unload: async () => void this.events.push(`unload ${version}`),
      infer: (inputs: readonly Tensor[]) => {
        const done = deferred<Tensor[]>();
        this.pendingCalls.push({ version, finish: () => done.resolve([{ ...inputs[0]!, name: "y" }]) });
        return done.promise;
      },
    };
  }
}

function version(n: number): ModelVersion {
  return {
    model: "m",
    version: n,
    flavor: "builtin",
    artifactSha256: `v${n}`,
    artifactSize: 1,
    signature: null,
    tags: {},
    description: "",
    metrics: {},
    lineage: {},
    source: "",
    createdAt: 0,
  };
}

function setup() {
  const runtime = new ControlledRuntime();
  const states: string[] = [];
  const pool = new ModelPool(
    () => runtime,
    async (sha) => sha,
    { stateChanged: (m, v, s) => void states.push(`${v}:${s}`) },
  );
  let current: Deployment = {
    name: "d",
    timeoutMs: 1000,
    createdAt: 0,
    updatedAt: 0,
    variants: [{ name: "stable", model: "m", ref: { version: 1 }, weight: 100 }],
  };
  const source = { list: async () => [current] };
  const resolver = {
    resolve: async (_m: string, ref: VersionRef) => version("version" in ref ? ref.version : 1),
  };
  const endpoints = new Endpoints(source, resolver, pool);
  const point = (n: number) =>
    (current = { ...current, variants: [{ name: "stable", model: "m", ref: { version: n }, weight: 100 }] });
  return { runtime, pool, endpoints, point, states };
}

test("a new version is loaded and warmed before it takes traffic; the old one unloads only after its in-flight call", async () => {
  const { runtime, pool, endpoints, point } = setup();
  await endpoints.sync();
  assert.deepEqual(runtime.events, ["load v1", "warm v1"]);

  // A request is in flight on version 1 ...
  const lease = pool.lease("m", 1);
  const inFlight = lease.model.infer([
    { name: "x", datatype: "FP32", shape: [1], data: new Float32Array([7]) },
  ]);
  inFlight.finally(lease.release);

  // ... while the deployment moves to version 2.
  point(2);
  await endpoints.sync();
  assert.equal(endpoints.get("d").variants[0]?.version.version, 2);
  assert.deepEqual(
    runtime.events,
    ["load v1", "warm v1", "load v2", "warm v2"],
    "v1 must stay loaded while a call runs",
  );
  assert.equal(pool.state("m", 1).state, "ready");

  runtime.pendingCalls[0]?.finish();
  const out = await inFlight;
  assert.equal((out[0]?.data as Float32Array)[0], 7, "the in-flight call completes on the old version");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(runtime.events.slice(-1), ["unload v1"]);
  assert.equal(pool.state("m", 1).state, "unloaded");
});

test("a version that fails to load never takes traffic; the deployment keeps serving the last good one", async () => {
  const { runtime, endpoints, point } = setup();
  await endpoints.sync();
  runtime.failLoad.add("v3");
  point(3);
  const problems = await endpoints.sync();
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.error, /failed to load: cannot read v3/);
  assert.equal(endpoints.get("d").variants[0]?.version.version, 1);
  assert.equal(endpoints.ready(), false);
});

test("concurrent loads of one version share a single load", async () => {
  const { runtime, pool } = setup();
  await Promise.all([pool.load(version(5), 100), pool.load(version(5), 100), pool.load(version(5), 100)]);
  assert.deepEqual(runtime.events, ["load v5", "warm v5"]);
  assert.throws(() => pool.lease("m", 6), /not ready \(not loaded\)/);
});

test("weighted pick follows the injected random source", async () => {
  const runtime = new ControlledRuntime();
  const pool = new ModelPool(
    () => runtime,
    async (sha) => sha,
  );
  const deployment: Deployment = {
    name: "d",
    timeoutMs: 1000,
    createdAt: 0,
    updatedAt: 0,
    variants: [
      { name: "stable", model: "m", ref: { version: 1 }, weight: 90 },
      { name: "canary", model: "m", ref: { version: 2 }, weight: 10 },
      { name: "mirror", model: "m", ref: { version: 3 }, weight: 50, shadow: true },
    ],
  };
  let r = 0;
  const endpoints = new Endpoints(
    { list: async () => [deployment] },
    { resolve: async (_m, ref) => version("version" in ref ? ref.version : 1) },
    pool,
    () => r,
  );
  await endpoints.sync();
  const served = endpoints.get("d");
  const picks = [0, 0.5, 0.899, 0.9, 0.999].map((x) => ((r = x), endpoints.pick(served).variant.name));
  assert.deepEqual(picks, ["stable", "stable", "stable", "canary", "canary"]);
});

test("a call past the deployment's deadline is answered with a timeout; the model stays leased until the call ends", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { InferenceService } = await import("../../src/serving/inference.js");
  const { PredictionLog } = await import("../../src/serving/prediction-log.js");
  const { runtime, pool, endpoints, point } = setup();
  await endpoints.sync();
  const log = new PredictionLog({ write: async () => {} });
  const { predictionLogTap } = await import("../../src/serving/taps.js");
  const service = new InferenceService(endpoints, pool, { now: () => 0 }, { taps: [predictionLogTap(log)] });
  const body = { inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }] };
  const answer = service.infer("d", undefined, body, "r-1");
  t.mock.timers.tick(999);
  t.mock.timers.tick(1);
  await assert.rejects(answer, { code: "timeout", message: /did not answer within 1000 ms/ });
  assert.equal(log.stats().buffered, 0, "a timed-out call is not logged as a prediction");

  // The deployment moves on while the hung call still runs: version 1 is not unloaded under it.
  point(2);
  await endpoints.sync();
  assert.equal(pool.state("m", 1).state, "ready");
  runtime.pendingCalls[0]?.finish();
  await new Promise((r) => setImmediate(r));
  assert.equal(pool.state("m", 1).state, "unloaded");
});
