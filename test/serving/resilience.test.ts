import { test } from "node:test";
import assert from "node:assert/strict";
import type { Deployment, ModelVersion, Resilience, Signature } from "../../src/domain/model.js";
import type { Tensor } from "../../src/domain/tensor.js";
import type { PredictionRecord } from "../../src/domain/prediction.js";
import type { LoadedModel, Runtime } from "../../src/runtimes/runtime.js";
import { ModelPool } from "../../src/serving/model-pool.js";
import { Endpoints } from "../../src/serving/endpoints.js";
import { InferenceService } from "../../src/serving/inference.js";
import { PredictionLog } from "../../src/serving/prediction-log.js";
import { IGNORE_RESILIENCE_EVENTS } from "../../src/serving/resilience.js";
import { predictionLogTap } from "../../src/serving/taps.js";

const SIGNATURE: Signature = {
  inputs: [{ name: "x", datatype: "FP32", shape: [-1] }],
  outputs: [{ name: "y", datatype: "FP64", shape: [-1] }],
};

/** Version 1 never answers; version 2 echoes its input. */
const runtime: Runtime = {
  flavor: "builtin",
  inspect: async () => SIGNATURE,
  async load(request): Promise<LoadedModel> {
    const hangs = request.artifactPath === "v1";
    return {
      signature: SIGNATURE,
      warm: async () => {},
      unload: async () => {},
      infer: (inputs: readonly Tensor[]) =>
        hangs
          ? new Promise<Tensor[]>(() => {})
          : Promise.resolve([
              {
                ...inputs[0]!,
                name: "y",
                datatype: "FP64",
                data: Float64Array.from(inputs[0]!.data as Float32Array),
              },
            ]),
    };
  },
};

const version = (n: number): ModelVersion => ({
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
});

async function setup(resilience: Resilience) {
  const deployment: Deployment = {
    name: "d",
    timeoutMs: 1000,
    createdAt: 0,
    updatedAt: 0,
    variants: [
      { name: "primary", model: "m", ref: { version: 1 }, weight: 100 },
      { name: "standby", model: "m", ref: { version: 2 }, weight: 0 },
    ],
    resilience,
  };
  const pool = new ModelPool(
    () => runtime,
    async (sha) => sha,
  );
  const endpoints = new Endpoints(
    { list: async () => [deployment] },
    { resolve: async (_m, ref) => version("version" in ref ? ref.version : 1) },
    pool,
    () => 0,
  );
  await endpoints.sync();
  const rows: PredictionRecord[] = [];
  const log = new PredictionLog({ write: async (batch) => void rows.push(...batch) });
  const fallbacks: string[] = [];
  const outcomes: Array<{ variant: string; code: string; fallback?: string }> = [];
  const service = new InferenceService(
    endpoints,
    pool,
    { now: () => 0 },
    {
      taps: [
        predictionLogTap(log),
        { finished: (o) => void outcomes.push({ variant: o.variant, code: o.code, fallback: o.fallback }) },
      ],
      events: {
        ...IGNORE_RESILIENCE_EVENTS,
        fallbackAnswered: (d, reason) => void fallbacks.push(`${d}:${reason}`),
      },
      random: () => 0,
    },
  );
  return { service, log, rows, fallbacks, outcomes };
}

const body = { inputs: [{ name: "x", datatype: "FP32", shape: [2], data: [3, 4] }] };

test("a hung model: at the deadline the standby variant answers, and the log says who and why", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { service, log, rows, fallbacks, outcomes } = await setup({ fallback: { variant: "standby" } });
  const answer = service.infer("d", undefined, body, "r-1");
  t.mock.timers.tick(1000);
  const res = await answer;
  assert.deepEqual(res.parameters, { fallback: true, fallback_reason: "timeout", served_by: "standby" });
  assert.equal(res.model_version, "2");
  assert.deepEqual(res.outputs[0]?.data, [3, 4]);
  assert.deepEqual(fallbacks, ["d:timeout"]);
  assert.deepEqual(
    outcomes,
    [{ variant: "primary", code: "ok", fallback: "timeout" }],
    "the outcome stays with the chosen variant and says a fallback covered for it",
  );
  await log.flush();
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.variant, "standby");
  assert.equal(rows[0]?.modelVersion, 2);
  assert.deepEqual((rows[0]?.inputs as { fallback: unknown }).fallback, {
    reason: "timeout",
    variant: "primary",
  });
});

test("a hung model with a static fallback answers with the fixed value per row, typed by the signature", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { service } = await setup({ fallback: { response: { outputs: { y: -1 } } } });
  const three = { inputs: [{ name: "x", datatype: "FP32", shape: [3], data: [1, 2, 3] }] };
  const answer = service.infer("d", undefined, three, "r-2");
  t.mock.timers.tick(1000);
  const res = await answer;
  assert.deepEqual(res.outputs, [{ name: "y", datatype: "FP64", shape: [3], data: [-1, -1, -1] }]);
  assert.equal(res.parameters?.served_by, "@static");
  assert.equal(res.model_version, undefined);
});

test("a request the client got wrong is a 400, never a fallback", async () => {
  const { service, fallbacks } = await setup({ fallback: { variant: "standby" } });
  await assert.rejects(
    service.infer(
      "d",
      undefined,
      { inputs: [{ name: "nope", datatype: "FP32", shape: [1], data: [1] }] },
      "r-3",
    ),
    { code: "invalid_argument" },
  );
  assert.deepEqual(fallbacks, []);
});
