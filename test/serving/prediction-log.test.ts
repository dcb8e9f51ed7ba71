import { test } from "node:test";
import assert from "node:assert/strict";
import { PredictionLog } from "../../src/serving/prediction-log.js";
import type { PredictionRecord } from "../../src/domain/prediction.js";

const row = (i: number): PredictionRecord => ({
  requestId: `r-${i}`,
  deployment: "d",
  model: "m",
  modelVersion: 1,
  variant: "stable",
  inputs: {},
  outputs: [],
  latencyMs: 0,
  createdAt: i,
});

test("a full batch is written on the next tick, without waiting for the timer", async () => {
  const batches: number[] = [];
  const log = new PredictionLog(
    { write: async (rows) => void batches.push(rows.length) },
    { capacity: 100, batchSize: 4, flushIntervalMs: 3_600_000 },
  );
  log.start();
  try {
    for (let i = 0; i < 3; i++) log.record(row(i));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches, [], "a partial batch waits for the timer");
    log.record(row(3));
    await new Promise((r) => setImmediate(r));
    await log.flush();
    assert.deepEqual(batches, [4]);
    assert.equal(log.stats().written, 4);
  } finally {
    await log.stop();
  }
});

test("rows beyond the capacity are dropped and counted; a failed write keeps its rows for the next try", async () => {
  let fail = true;
  const written: string[] = [];
  const log = new PredictionLog(
    {
      write: async (rows) => {
        if (fail) throw new Error("store down");
        written.push(...rows.map((r) => r.requestId));
      },
    },
    { capacity: 3, batchSize: 2, flushIntervalMs: 3_600_000 },
  );
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => log.record(row(i))),
    [true, true, true, false, false],
  );
  await log.flush();
  assert.deepEqual(log.stats(), {
    buffered: 3,
    capacity: 3,
    written: 0,
    dropped: 2,
    writeFailures: 1,
    lastError: "store down",
  });
  fail = false;
  await log.flush();
  assert.deepEqual(written, ["r-0", "r-1", "r-2"], "kept rows go out in order once the store is back");
  assert.equal(log.stats().written, 3);
});
