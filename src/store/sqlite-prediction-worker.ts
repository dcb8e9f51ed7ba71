/**
 * Worker thread: writes prediction-log batches to SQLite on a connection of its own, so the
 * synchronous inserts never stall the event loop that serves requests. WAL lets this writer and
 * the main connection work side by side.
 */
import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import type { PredictionRowValues, WriterMessage, WriterReply } from "./sqlite-prediction-writer.js";
import { errorCode } from "./prediction-rows.js";

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs: number };
const db = new BetterSqlite3(file);
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
// The log is written in batches and is not an acknowledged write: NORMAL keeps it safe from a
// process crash and skips an fsync per batch (the main connection stays FULL for feedback).
db.pragma("synchronous = NORMAL");
// Prepared on first use, so a problem with the table comes back as that write's error.
let insertAll: ((rows: PredictionRowValues[]) => number[]) | undefined;
function prepare(): (rows: PredictionRowValues[]) => number[] {
  const insert = db.prepare(
    `INSERT INTO predictions
       (request_id, variant, deployment, model, model_version, inputs, outputs, latency_ms, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (request_id, variant) DO NOTHING`,
  );
  // The positions of rows not inserted because their key was logged before: the log counts
  // them as refused, not as written.
  const insertRows = db.transaction((rows: PredictionRowValues[]) => {
    const duplicates: number[] = [];
    rows.forEach((row, i) => {
      if (insert.run(row).changes === 0) duplicates.push(i);
    });
    return duplicates;
  });
  // IMMEDIATE, as on the main connection (see db.ts): the write lock is taken at BEGIN, where
  // waiting for it honours the busy timeout, never upgraded to later.
  return (rows) => insertRows.immediate(rows);
}

parentPort?.on("message", (message: WriterMessage) => {
  if (message.type === "close") {
    db.close();
    parentPort?.close();
    return;
  }
  let reply: WriterReply;
  try {
    insertAll ??= prepare();
    reply = { id: message.id, error: null, duplicates: insertAll(message.rows) };
  } catch (error) {
    reply = {
      id: message.id,
      error: error instanceof Error ? error.message : String(error),
      code: errorCode(error),
    };
  }
  parentPort?.postMessage(reply);
});
