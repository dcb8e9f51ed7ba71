import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_PREDICTION_LOG,
  DEFAULT_ROW_BYTES,
  PredictionLog,
} from "../../src/serving/prediction-log.js";
import { UnwritableBatch, type PredictionRecord } from "../../src/domain/prediction.js";

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
    bufferedBytes: 3 * DEFAULT_ROW_BYTES,
    capacityBytes: DEFAULT_PREDICTION_LOG.capacityBytes,
    written: 0,
    dropped: 2,
    rejected: { unserialisable: 0, invalid_value: 0, duplicate_request_id: 0 },
    recentRejections: [],
    unflushed: 0,
    writeFailures: 1,
    lastError: "store down",
  });
  fail = false;
  await log.flush();
  assert.deepEqual(written, ["r-0", "r-1", "r-2"], "kept rows go out in order once the store is back");
  assert.equal(log.stats().written, 3);
});

test("a batch refused for one row is halved until the row is alone; a store that goes down mid-way keeps the rest", async () => {
  const written: string[] = [];
  const writes: number[] = [];
  let down = false;
  const log = new PredictionLog(
    {
      write: async (rows) => {
        writes.push(rows.length);
        if (down) throw new Error("store down");
        if (rows.some((r) => r.requestId === "r-5")) throw new UnwritableBatch("invalid_value", "bad value");
        written.push(...rows.map((r) => r.requestId));
      },
    },
    { capacity: 100, batchSize: 8, flushIntervalMs: 3_600_000 },
  );
  for (let i = 0; i < 8; i++) log.record(row(i));
  await log.flush();
  assert.deepEqual(written, ["r-0", "r-1", "r-2", "r-3", "r-4", "r-6", "r-7"]);
  assert.deepEqual(writes, [8, 4, 4, 2, 1, 1, 2], "log2(n) extra writes, not one per row");
  const stats = log.stats();
  assert.equal(stats.written, 7);
  assert.deepEqual(stats.rejected, { unserialisable: 0, invalid_value: 1, duplicate_request_id: 0 });
  assert.deepEqual(
    stats.recentRejections.map((r) => [r.requestId, r.reason, r.message]),
    [["r-5", "invalid_value", "bad value"]],
  );
  assert.equal(stats.writeFailures, 0);

  // The store goes down while a refused batch is being split: nothing is blamed on the rows.
  for (let i = 10; i < 14; i++) log.record(row(i));
  log.record(row(5));
  down = true;
  await log.flush();
  assert.equal(log.stats().buffered, 5);
  assert.equal(log.stats().rejected.invalid_value, 1);
  down = false;
  await log.stop();
  assert.deepEqual(written.slice(7), ["r-10", "r-11", "r-12", "r-13"]);
  assert.equal(log.stats().rejected.invalid_value, 2);
  assert.equal(log.stats().unflushed, 0);
});

test("rows beyond the byte bound are dropped and counted; what the store never took is counted at stop", async () => {
  const log = new PredictionLog(
    {
      write: async () => {
        throw new Error("store down");
      },
    },
    { capacity: 100, capacityBytes: 10_000, batchSize: 8, flushIntervalMs: 3_600_000 },
  );
  assert.deepEqual(
    [4000, 4000, 4000, 1000, 20_000].map((bytes, i) => log.record(row(i), bytes)),
    [true, true, false, true, false],
  );
  assert.equal(log.stats().bufferedBytes, 9000);
  assert.equal(log.stats().dropped, 2);
  await log.stop();
  assert.equal(log.stats().unflushed, 3);
  assert.equal(log.stats().buffered, 0);
  assert.equal(log.stats().bufferedBytes, 0);
});

test("stop waits a bounded time for a store that hangs, and counts the rows it never took", async () => {
  const log = new PredictionLog(
    { write: () => new Promise(() => {}) },
    { capacity: 100, batchSize: 2, flushIntervalMs: 3_600_000 },
  );
  for (let i = 0; i < 5; i++) log.record(row(i));
  await log.stop(50);
  assert.equal(log.stats().unflushed, 5, "2 in the hanging write, 3 buffered behind it");
  assert.equal(log.stats().buffered, 0);
});
