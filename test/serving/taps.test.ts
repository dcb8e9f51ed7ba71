import { test } from "node:test";
import assert from "node:assert/strict";
import type { Tensor } from "../../src/domain/tensor.js";
import type { Endpoints } from "../../src/serving/endpoints.js";
import type { ModelPool } from "../../src/serving/model-pool.js";
import { InferenceService } from "../../src/serving/inference.js";
import type { InferenceTap } from "../../src/serving/taps.js";
import { served, servedVariant } from "./plan-fixtures.js";

const live = servedVariant({ name: "stable", model: "m", version: 1, weight: 100 });
const shadow = servedVariant({ name: "shadow", model: "m", version: 2, weight: 100, shadow: true });

/** Every hook records its event; `release` lets the held model calls answer. */
function setup(maxConcurrency?: number) {
  const d = served([live, shadow], maxConcurrency === undefined ? {} : { resilience: { maxConcurrency } });
  const held: Array<() => void> = [];
  const pool = {
    lease: () => ({
      model: {
        infer: (inputs: readonly Tensor[]) =>
          new Promise<Tensor[]>((resolve) =>
            held.push(() => resolve([{ ...(inputs[0] as Tensor), name: "y" }])),
          ),
      },
      release: () => {},
    }),
  } as unknown as ModelPool;
  const events: string[] = [];
  const tap: InferenceTap = {
    answered: (a) => void events.push(`answered:${a.variant.variant.name}:${a.requestId}`),
    finished: (o) => void events.push(`finished:${o.code}`),
    shadowAnswered: (a) => void events.push(`shadow:${a.variant.variant.name}:${a.requestId}`),
  };
  const service = new InferenceService(
    { get: () => d } as unknown as Endpoints,
    pool,
    { now: () => 0 },
    {
      taps: [tap],
      random: () => 0,
    },
  );
  const release = async () => {
    for (let turn = 0; turn < 5; turn++) {
      for (const answer of held.splice(0)) answer();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { service, events, release };
}

const body = { inputs: [{ name: "x", datatype: "FP32", shape: [1], data: [1] }] };

test("each tap hears once of an answer, once of the outcome, and once of each shadow's answer", async () => {
  const { service, events, release } = setup();
  const answer = service.infer("d", undefined, body, "r-1");
  await release();
  await answer;
  await service.shadows.idle();
  assert.deepEqual(events, ["answered:stable:r-1", "finished:ok", "shadow:shadow:r-1"]);
});

test("a refused request is an outcome, never an answer; a shed one too", async () => {
  const { service, events, release } = setup(1);
  await assert.rejects(service.infer("d", undefined, { inputs: "no" }, "r-2"), { code: "invalid_argument" });
  const first = service.infer("d", undefined, body, "r-3");
  await assert.rejects(service.infer("d", undefined, body, "r-4"), { code: "unavailable" });
  await release();
  await first;
  await service.shadows.idle();
  assert.deepEqual(events, [
    "finished:invalid_argument",
    "finished:unavailable",
    "answered:stable:r-3",
    "finished:ok",
    "shadow:shadow:r-3",
  ]);
});
