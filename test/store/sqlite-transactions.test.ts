/**
 * SQLite write transactions on the main connection against a second connection to the same file
 * (the prediction-log writer thread has one). In WAL mode a deferred transaction that reads and
 * then writes fails with SQLITE_BUSY at once, busy timeout or not, when the other connection
 * committed between its read and its write: these cases put that commit exactly there, so they
 * need no timing to show it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import BetterSqlite3 from "better-sqlite3";
import { openStore, type Store } from "../../src/store/db.js";
import { Instruments } from "../../src/application/instruments.js";
import type { AppendPlan } from "../../src/markets/bar-append.js";
import { InstrumentStore } from "../../src/markets/instrument-store.js";
import { errorCode } from "../../src/store/prediction-rows.js";
import { tempDir } from "../helpers/stores.js";

/** The other connection: what the prediction-log writer thread opens, but with no busy wait. */
function otherConnection(store: Store): BetterSqlite3.Database {
  const other = new BetterSqlite3(store.sqliteFile as string);
  // Waiting would block this thread, which also runs the transaction it waits for.
  other.pragma("busy_timeout = 0");
  return other;
}

let nextRequest = 0;
/** One prediction-log row written by the other connection; the error code when it could not. */
function logPrediction(other: BetterSqlite3.Database): string {
  try {
    other
      .prepare(
        `INSERT INTO predictions
           (request_id, variant, deployment, model, model_version, inputs, outputs, latency_ms, created_at)
         VALUES (?, 'stable', 'd', 'm', 1, '{}', '[]', 0.5, 1000)`,
      )
      .run(`r-${++nextRequest}`);
    return "ok";
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

async function withStore(
  work: (store: Store, other: BetterSqlite3.Database) => Promise<void>,
): Promise<void> {
  const dir = await tempDir();
  const store = await openStore({ dataDir: dir.path });
  const other = otherConnection(store);
  try {
    await work(store, other);
  } finally {
    other.close();
    await store.close();
    await dir.remove();
  }
}

async function predictionCount(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom("predictions")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

test("a transaction that reads, then writes, commits though another connection writes in between", async () => {
  await withStore(async (store, other) => {
    let meanwhile = "";
    await store.db.transaction().execute(async (tx) => {
      await tx.selectFrom("registered_models").select("name").execute();
      meanwhile = logPrediction(other);
      await tx
        .insertInto("registered_models")
        .values({ name: "m", description: "", tags: "{}", latest_version: 0, created_at: 1, updated_at: 1 })
        .execute();
    });
    // The transaction held the write lock from its start, so the other writer was told to wait
    // (with its busy timeout it would have waited), not let in to invalidate the read.
    assert.equal(meanwhile, "SQLITE_BUSY");
    const models = await store.db.selectFrom("registered_models").select("name").execute();
    assert.deepEqual(models, [{ name: "m" }]);
    // Once the transaction is over, the other writer gets in.
    assert.equal(logPrediction(other), "ok");
    assert.equal(await predictionCount(store), 1);
  });
});

test("bars POSTed while the prediction log is written between the append's read and write are all stored", async () => {
  await withStore(async (store, other) => {
    const meanwhile: string[] = [];
    /** The markets example's interleaving: a log batch lands inside every append. */
    class InterleavedStore extends InstrumentStore {
      override append<T>(...[id, now, work]: Parameters<InstrumentStore["append"]>): Promise<T> {
        return super.append(id, now, async (locked, reads) => {
          meanwhile.push(logPrediction(other));
          return work(locked, reads) as Promise<{ plan: AppendPlan; result: T }>;
        });
      }
    }
    const instruments = new Instruments(new InterleavedStore(store), { now: () => 1_700_000_000_000 });
    const bars = [100, 101, 99.5, 102, 103.25, 104].map((close, i) => ({
      time: (i + 1) * 86_400_000,
      close,
    }));
    for (let i = 0; i < bars.length; i += 2) {
      const result = await instruments.appendBars("dax", bars.slice(i, i + 2));
      assert.equal(result.accepted, 2);
    }
    assert.deepEqual(meanwhile, ["SQLITE_BUSY", "SQLITE_BUSY", "SQLITE_BUSY"]);
    assert.equal((await instruments.get("dax")).bars, bars.length);
    assert.equal(logPrediction(other), "ok");
  });
});
