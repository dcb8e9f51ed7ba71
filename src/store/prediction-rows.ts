/**
 * A prediction record as the predictions table holds it (JSON text for inputs and outputs), for
 * both stores' writers, and how their errors are told apart: a row at fault, or a store that
 * is unavailable.
 */
import { needsChunks, nextTurn, stringifyInChunks, type Pause } from "../domain/json-chunks.js";
import type { PredictionRecord, RefusedRow, RejectReason } from "../domain/prediction.js";

export interface SerialisedPrediction {
  /** The row's index in its batch. */
  readonly index: number;
  readonly record: PredictionRecord;
  readonly inputs: string;
  readonly outputs: string;
}

/** Text written between two pauses at most, about, when a batch holds many mid-sized rows. */
const TEXT_PER_TURN = 256 * 1024;

/**
 * Serialises each row on its own, so one row whose JSON cannot be made (too deep, a BigInt)
 * is refused alone and the rest of the batch is still written. A large row (a maximal request's
 * tensor) is written a slice at a time and a batch of many rows a few hundred KiB at a time,
 * with `pause` between, so the event loop serves other requests meanwhile; small rows take
 * one JSON.stringify each and no pause.
 */
export async function serialisePredictions(
  rows: readonly PredictionRecord[],
  pause: Pause = nextTurn,
): Promise<{ rows: SerialisedPrediction[]; refused: RefusedRow[] }> {
  const out: SerialisedPrediction[] = [];
  const refused: RefusedRow[] = [];
  let written = 0;
  for (let index = 0; index < rows.length; index++) {
    const record = rows[index] as PredictionRecord;
    if (written >= TEXT_PER_TURN) {
      await pause();
      written = 0;
    }
    try {
      // Awaited only when a large value is written in slices: an await per small row would
      // cost a microtask each, twice per row of every batch.
      let inputs = jsonOf(record.inputs, pause);
      if (typeof inputs === "object") inputs = await inputs;
      let outputs = jsonOf(record.outputs, pause);
      if (typeof outputs === "object") outputs = await outputs;
      inputs ??= "null";
      outputs ??= "null";
      written += inputs.length + outputs.length;
      out.push({ index, record, inputs, outputs });
    } catch (error) {
      refused.push({ index, reason: "unserialisable", message: messageOf(error) });
    }
  }
  return { rows: out, refused };
}

/** JSON.stringify, in slices only when the value holds a large array. */
function jsonOf(value: unknown, pause: Pause): string | undefined | Promise<string | undefined> {
  return needsChunks(value) ? stringifyInChunks(value, pause) : JSON.stringify(value);
}

/**
 * The reason when an error from a write is the data's fault, null when it is the store's. Only
 * errors that name a value are the data's: PostgreSQL's classes 22 (data exception) and 23
 * (integrity constraint), SQLite's constraint, too-big and mismatch codes. Anything else (a lost
 * connection, a lock, a full disk, a missing table) is retried, never blamed on a row.
 */
export function rowFault(code: string | undefined): RejectReason | null {
  if (code === undefined) return null;
  if (/^2[23][0-9A-Z]{3}$/.test(code)) return "invalid_value";
  if (/^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH)/.test(code)) return "invalid_value";
  return null;
}

/** The `code` property of a driver's error (pg's SQLSTATE, better-sqlite3's SQLITE_*). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Rows that were not inserted because their (request id, variant) was already logged, given
 * the keys the insert returned: each returned key accounts for one row, the first with it.
 */
export function duplicateRows(
  rows: readonly SerialisedPrediction[],
  inserted: ReadonlyArray<{ request_id: string; variant: string }>,
): RefusedRow[] {
  const pending = new Map<string, number>();
  for (const k of inserted) {
    const key = `${k.request_id}\u0000${k.variant}`;
    pending.set(key, (pending.get(key) ?? 0) + 1);
  }
  const refused: RefusedRow[] = [];
  for (const r of rows) {
    const key = `${r.record.requestId}\u0000${r.record.variant}`;
    const left = pending.get(key) ?? 0;
    if (left > 0) pending.set(key, left - 1);
    else refused.push(duplicateOf(r));
  }
  return refused;
}

export function duplicateOf(r: SerialisedPrediction): RefusedRow {
  return {
    index: r.index,
    reason: "duplicate_request_id",
    message: `request id '${r.record.requestId}' was logged before for variant '${r.record.variant}'`,
  };
}
