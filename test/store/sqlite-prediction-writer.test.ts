import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { SqlitePredictionWriter } from "../../src/store/sqlite-prediction-writer.js";
import { PredictionLog } from "../../src/serving/prediction-log.js";
import { openStore } from "../../src/store/db.js";
import { tempDir } from "../helpers/stores.js";
import type { PredictionRecord } from "../../src/domain/prediction.js";

const row = (i: number): PredictionRecord => ({
  requestId: `r-${i}`,
  deployment: "d",
  model: "m",
  modelVersion: 1,
  variant: "stable",
  inputs: { instances: [{ x: i }] },
  outputs: [{ name: "y", datatype: "FP32", shape: [1], data: [i / 2] }],
  latencyMs: 0.5,
  createdAt: 1000 + i,
});

test("the writer thread inserts batches the main connection then reads, and a repeated id is kept once", async () => {
  const dir = await tempDir();
  const store = await openStore({ dataDir: dir.path });
  const writer = new SqlitePredictionWriter(store.sqliteFile as string);
  try {
    assert.deepEqual(await writer.write([row(1), row(2)]), { refused: [] });
    // The repeat is reported as refused, so the log never counts it as written.
    const again = await writer.write([row(2), row(3)]);
    assert.deepEqual(
      again.refused.map((r) => [r.index, r.reason]),
      [[0, "duplicate_request_id"]],
    );
    const rows = await store.db.selectFrom("predictions").selectAll().orderBy("request_id").execute();
    assert.deepEqual(
      rows.map((r) => [
        r.request_id,
        JSON.parse(r.inputs).instances[0].x,
        JSON.parse(r.outputs)[0].data[0],
        r.created_at,
      ]),
      [
        ["r-1", 1, 0.5, 1001],
        ["r-2", 2, 1, 1002],
        ["r-3", 3, 1.5, 1003],
      ],
    );
  } finally {
    await writer.close();
    await store.close();
    await dir.remove();
  }
});

test("a failing write is reported, counted by the log, and its rows kept for the next try", async () => {
  const dir = await tempDir();
  const file = join(dir.path, "empty.db");
  new BetterSqlite3(file).close(); // no schema: every insert fails
  const writer = new SqlitePredictionWriter(file);
  const log = new PredictionLog(writer, { capacity: 10, batchSize: 5, flushIntervalMs: 60_000 });
  try {
    await assert.rejects(writer.write([row(1)]), /prediction log write failed: no such table: predictions/);
    for (let i = 0; i < 3; i++) log.record(row(i));
    await log.flush();
    const stats = log.stats();
    assert.equal(stats.writeFailures, 1);
    assert.equal(stats.buffered, 3);
    assert.equal(stats.written, 0);
    assert.match(String(stats.lastError), /no such table/);
  } finally {
    await writer.close();
    await dir.remove();
  }
});
