/**
 * A prediction record as the predictions table holds it (JSON text for inputs and outputs), for
 * both stores' writers, and how their errors are told apart: a row at fault, or a store that
 * is unavailable.
 */
import type { PredictionRecord, RefusedRow, RejectReason } from "../domain/prediction.js";

export interface SerialisedPrediction {
  /** The row's index in its batch. */
  readonly index: number;
  readonly record: PredictionRecord;
  readonly inputs: string;
  readonly outputs: string;
}

/**
 * Serialises each row on its own, so one row whose JSON cannot be made (too deep, a BigInt)
 * is refused alone and the rest of the batch is still written.
 */
export function serialisePredictions(rows: readonly PredictionRecord[]): {
  rows: SerialisedPrediction[];
  refused: RefusedRow[];
} {
  const out: SerialisedPrediction[] = [];
  const refused: RefusedRow[] = [];
  rows.forEach((record, index) => {
    try {
      out.push({
        index,
        record,
        inputs: JSON.stringify(record.inputs) ?? "null",
        outputs: JSON.stringify(record.outputs) ?? "null",
      });
    } catch (error) {
      refused.push({ index, reason: "unserialisable", message: messageOf(error) });
    }
  });
  return { rows: out, refused };
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
