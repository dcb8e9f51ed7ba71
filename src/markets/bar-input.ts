/**
 * Bars as a client sends them, checked one field at a time so a refusal names the row and the
 * field (`bars[3].high`). A batch is all or nothing: one bad bar refuses the batch.
 *
 * - time: a finite number (any unit the instrument keeps to: epoch ms, a fractional year, a row
 *   number), or an ISO 8601 date or date-time string (`2026-12-04`, `2026-12-04T15:30:00Z`),
 *   which becomes epoch milliseconds. Dates without a zone are read as UTC.
 * - close: a finite number > 0 (required). open, high, low: finite > 0 when given; volume:
 *   finite >= 0 when given; null is the same as absent.
 * - high >= low, and high >= open, close >= low for those given.
 */
import { BallastError, invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";

export interface MarketBar {
  readonly time: number;
  readonly close: number;
  readonly open?: number;
  readonly high?: number;
  readonly low?: number;
  readonly volume?: number;
}

/** A bar with its position in the batch as received (0-based), for messages. */
export interface ReceivedBar {
  readonly bar: MarketBar;
  readonly row: number;
}

export const MAX_BATCH_BARS = 10_000;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const FIELDS = new Set(["time", "open", "high", "low", "close", "volume"]);

export function parseTime(raw: unknown, where: string): number {
  if (typeof raw === "number") {
    if (!Number.isFinite(raw))
      throw invalid(`${where}.time is not a finite number`, { field: `${where}.time` });
    return raw;
  }
  if (typeof raw === "string" && ISO_DATE.test(raw.trim())) {
    const text = raw.trim();
    // A date-time without a zone would be read in the server's zone; Ballast reads it as UTC.
    const zoned = /[T ]\d{2}:\d{2}/.test(text) && !/(Z|[+-]\d{2}:?\d{2})$/.test(text) ? `${text}Z` : text;
    const ms = Date.parse(zoned.replace(" ", "T"));
    if (Number.isFinite(ms)) return ms;
  }
  throw invalid(
    `${where}.time must be a finite number or an ISO 8601 date (2026-12-04 or 2026-12-04T15:30:00Z), got ${JSON.stringify(raw)?.slice(0, 60)}`,
    { field: `${where}.time` },
  );
}

export function parseBars(raw: unknown, limit = MAX_BATCH_BARS): ReceivedBar[] {
  if (!Array.isArray(raw))
    throw invalid("bars must be a list of {time, close, open?, high?, low?, volume?}", { field: "bars" });
  if (raw.length > limit)
    throw new BallastError(
      "payload_too_large",
      `a batch holds at most ${limit} bars, got ${raw.length}; send it in parts`,
      {
        field: "bars",
      },
    );
  return raw.map((item, row) => {
    try {
      return { bar: parseBar(item, `bars[${row}]`), row };
    } catch (error) {
      // The row as a detail too, so a client can name the bar its own way (a file line).
      if (error instanceof BallastError)
        throw new BallastError(error.code, error.message, { ...error.details, row });
      throw error;
    }
  });
}

function parseBar(item: unknown, where: string): MarketBar {
  if (!isPlainObject(item)) throw invalid(`${where} must be an object {time, close, ...}`, { field: where });
  for (const key of Object.keys(item))
    if (!FIELDS.has(key))
      throw invalid(
        `${where} has an unknown field '${key.slice(0, 40)}'; bars have time, open, high, low, close, volume`,
        {
          field: `${where}.${key.slice(0, 40)}`,
        },
      );
  if (item.close === undefined || item.close === null)
    throw invalid(`${where}.close is missing`, { field: `${where}.close` });
  const time = parseTime(item.time, where);
  const price = (key: "open" | "high" | "low" | "close"): number | undefined => {
    const v = item[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw invalid(`${where}.${key} must be a finite number > 0, got ${JSON.stringify(v) ?? String(v)}`, {
        field: `${where}.${key}`,
      });
    return v;
  };
  const close = price("close") as number;
  const open = price("open");
  const high = price("high");
  const low = price("low");
  const volume = item.volume;
  if (
    volume !== undefined &&
    volume !== null &&
    !(typeof volume === "number" && Number.isFinite(volume) && volume >= 0)
  )
    throw invalid(`${where}.volume must be a finite number >= 0, got ${JSON.stringify(volume)}`, {
      field: `${where}.volume`,
    });
  const inside = (v: number | undefined, name: string): void => {
    if (v === undefined) return;
    if (high !== undefined && v > high)
      throw invalid(`${where}.high ${high} is below its ${name} ${v}`, { field: `${where}.high` });
    if (low !== undefined && v < low)
      throw invalid(`${where}.low ${low} is above its ${name} ${v}`, { field: `${where}.low` });
  };
  inside(low, "low");
  inside(open, "open");
  inside(close, "close");
  return {
    time,
    close,
    ...(open === undefined ? {} : { open }),
    ...(high === undefined ? {} : { high }),
    ...(low === undefined ? {} : { low }),
    ...(typeof volume === "number" ? { volume } : {}),
  };
}

/** Two bars at one time are the same bar when every field agrees (absent and absent agree). */
export function sameBar(a: MarketBar, b: MarketBar): boolean {
  return (
    a.time === b.time &&
    a.close === b.close &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.volume === b.volume
  );
}
