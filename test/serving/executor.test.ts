import { test } from "node:test";
import assert from "node:assert/strict";
import type { Tensor } from "../../src/domain/tensor.js";
import type { ModelPool } from "../../src/serving/model-pool.js";
import type { LoadedModel } from "../../src/runtimes/runtime.js";
import { Executor } from "../../src/serving/executor.js";
import { plan } from "../../src/serving/plan.js";
import { OIP_V2 } from "../../src/serving/codecs/oip-v2.js";
import { IGNORE_RESILIENCE_EVENTS } from "../../src/serving/resilience.js";
import type { Resilience } from "../../src/domain/model.js";
import { served, servedVariant } from "./plan-fixtures.js";

const primary = servedVariant({ name: "primary", model: "m", version: 1, weight: 100 });
const standby = servedVariant({ name: "standby", model: "m", version: 2, weight: 0 });

type Behaviour = "answer" | "fail" | "hang";

/** A pool whose versions answer (echo), fail or hang as the test sets; leases are counted. */
function fakePool(behaviour: Record<number, Behaviour>) {
  const calls: number[] = [];
  let leased = 0;
  const pool = {
    lease(_model: string, version: number) {
      leased++;
      const model: Pick<LoadedModel, "infer"> = {
        infer(inputs: readonly Tensor[]) {
          calls.push(version);
          const b = behaviour[version] ?? "answer";
          if (b === "hang") return new Promise<Tensor[]>(() => {});
          if (b === "fail") return Promise.reject(new Error(`version ${version} broke`));
          const x = inputs[0] as Tensor;
          return Promise.resolve([
            { name: "y", datatype: "FP64", shape: x.shape, data: Float64Array.from(x.data as Float32Array) },
          ]);
        },
      };
      return { model, release: () => void leased-- };
    },
  } as unknown as ModelPool;
  return { pool, calls, leased: () => leased };
}

const request = () => OIP_V2.decode({ inputs: [{ name: "x", datatype: "FP32", shape: [2], data: [3, 4] }] });

function setup(behaviour: Record<number, Behaviour>, resilience?: Resilience) {
  const fallback =
    resilience?.fallback === undefined ? undefined : { kind: "model" as const, target: standby };
  const d = served([primary, standby], { resilience, fallback });
  const { pool, calls, leased } = fakePool(behaviour);
  let now = 0;
  const events: string[] = [];
  const executor = new Executor(
    pool,
    { now: () => now },
    {
      ...IGNORE_RESILIENCE_EVENTS,
      fallbackAnswered: (_d, reason) => void events.push(`fallback:${reason}`),
      circuitChanged: (_d, variant, phase) => void events.push(`${variant}:${phase}`),
      requestShed: () => void events.push("shed"),
    },
  );
  return { executor, d, calls, leased, events, advance: (ms: number) => (now += ms) };
}

test("no resilience: the primary answers, or its failure is the request's", async () => {
  const { executor, d, calls } = setup({ 1: "fail" });
  const p = plan(d, { headers: {} }, () => 0);
  await assert.rejects(executor.execute(p, request()), /version 1 broke/);
  assert.deepEqual(calls, [1]);
  const ok = setup({});
  const answer = await ok.executor.execute(
    plan(ok.d, { headers: {} }, () => 0),
    request(),
  );
  assert.deepEqual(answer.outputs[0]?.data, [3, 4]);
  assert.equal(answer.fallback, undefined);
});

test("the deadline (mocked timers): a hung primary times out and the fallback answers for it", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { executor, d, calls, leased, events } = setup({ 1: "hang" }, { fallback: { variant: "standby" } });
  const answering = executor.execute(
    plan(d, { headers: {} }, () => 0),
    request(),
  );
  await Promise.resolve();
  t.mock.timers.tick(1000);
  const answer = await answering;
  assert.deepEqual(answer.fallback, { reason: "timeout", by: standby });
  assert.deepEqual(calls, [1, 2]);
  assert.deepEqual(events, ["fallback:timeout"]);
  assert.equal(leased(), 1, "the hung call still holds its lease until it settles");
});

test("the breaker (injected clock): opens after its failures, then the fallback answers without calling the primary", async () => {
  const policy = { failures: 2, openMs: 5000, halfOpenProbes: 1 };
  const { executor, d, calls, events, advance } = setup(
    { 1: "fail" },
    { fallback: { variant: "standby" }, circuitBreaker: policy },
  );
  const p = plan(d, { headers: {} }, () => 0);
  for (let i = 0; i < 2; i++) assert.equal((await executor.execute(p, request())).fallback?.reason, "error");
  assert.deepEqual(calls, [1, 2, 1, 2]);
  assert.equal((await executor.execute(p, request())).fallback?.reason, "circuit_open");
  assert.deepEqual(calls, [1, 2, 1, 2, 2], "an open circuit does not call the primary");
  advance(5000);
  await executor.execute(p, request());
  assert.deepEqual(calls.slice(5), [1, 2], "after openMs one probe reaches the primary");
  assert.deepEqual(
    events.filter((e) => e.startsWith("primary:")),
    ["primary:closed", "primary:open", "primary:half-open", "primary:open"],
  );
});

test("the fallback chain fails too: the primary's error, naming the fallback", async () => {
  const { executor, d } = setup({ 1: "fail", 2: "fail" }, { fallback: { variant: "standby" } });
  // A plain Error from the model is not a BallastError: it is passed on as it was.
  await assert.rejects(
    executor.execute(
      plan(d, { headers: {} }, () => 0),
      request(),
    ),
    /version 1 broke/,
  );
});

test("shedding: beyond maxConcurrency a request is refused with Retry-After, and the slot comes back", () => {
  const { executor, d, events } = setup({}, { maxConcurrency: 1 });
  const leave = executor.enter(d);
  assert.throws(() => executor.enter(d), { code: "unavailable", details: { retryAfterSeconds: 1 } });
  assert.deepEqual(events, ["shed"]);
  leave();
  executor.enter(d)();
});
