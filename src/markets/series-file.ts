/**
 * One numeric column of a CSV or JSONL file as a series for a fit, with each value's file line
 * kept for messages. Prices become returns here when asked (`log`: ln(p_t / p_{t-1}), `simple`:
 * p_t / p_{t-1} - 1; the first row then has no return), and a scale multiplies the result (100
 * for percent returns, the usual units of GARCH estimates).
 */
import { basename } from "node:path";
import { invalid } from "../domain/errors.js";
import { readRowBatches, type RowFormat } from "../io/rows.js";

export const RETURN_KINDS = ["log", "simple"] as const;
export type ReturnKind = (typeof RETURN_KINDS)[number];

export interface SeriesFileOptions {
  readonly column: string;
  readonly returns?: ReturnKind;
  readonly scale?: number;
  readonly format?: RowFormat;
  /** Also keep this column (a date, a time) for each value, as it is in the file. */
  readonly timeColumn?: string;
  /**
   * Prices only: drop a row whose price repeats the previous one (a holiday filled with the last
   * price, as EuStockMarkets does), so the return spans the next real trading day instead of
   * reading as a zero return.
   */
  readonly skipRepeats?: boolean;
  /** Only the file's first `rows` data rows (the past, when the rest is to be replayed). */
  readonly rows?: number;
}

export interface SeriesFromFile {
  readonly values: number[];
  /** File line of each value (for a return, the line of its closing price). */
  readonly lines: number[];
  /** With `timeColumn`: its cell for each value. */
  readonly times?: Array<string | number>;
  /** With `returns`: the closing price of each return. */
  readonly prices?: number[];
  /** With `skipRepeats`: rows dropped as repeats. */
  readonly repeats?: number;
}

export async function readSeriesFile(path: string, options: SeriesFileOptions): Promise<SeriesFromFile> {
  const name = basename(path);
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale === 0)
    throw invalid(`scale must be a finite non-zero number, got ${scale}`);
  const raw: number[] = [];
  const lines: number[] = [];
  const times: Array<string | number> = [];
  const timeColumn = options.timeColumn;
  const limit = options.rows ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 1) || (options.rows !== undefined && !Number.isSafeInteger(limit)))
    throw invalid(`rows must be a positive whole number, got ${String(options.rows)}`);
  reading: for await (const batch of readRowBatches(path, {
    batchSize: 4096,
    ...(options.format === undefined ? {} : { format: options.format }),
  })) {
    for (const [i, row] of batch.rows.entries()) {
      if (raw.length >= limit) break reading;
      const line = batch.lines[i] as number;
      if (Array.isArray(row))
        throw invalid(
          `${name} line ${line}: expected an object with column "${options.column}", got an array`,
        );
      if (!(options.column in row)) {
        throw invalid(
          `${name} has no column "${options.column}" (line ${line} has ${Object.keys(row)
            .map((c) => `"${c}"`)
            .join(", ")})`,
        );
      }
      const cell = row[options.column];
      if (typeof cell !== "number") {
        throw invalid(
          `${name} line ${line}: column "${options.column}" holds ${cell === null ? "nothing" : JSON.stringify(cell)}, not a number`,
        );
      }
      if (!Number.isFinite(cell))
        throw invalid(`${name} line ${line}: column "${options.column}" is ${String(cell)}`);
      if (timeColumn !== undefined) {
        const at = row[timeColumn];
        if (at === undefined || at === null)
          throw invalid(`${name} line ${line}: no value in the time column "${timeColumn}"`);
        times.push(typeof at === "number" ? at : String(at));
      }
      raw.push(cell);
      lines.push(line);
    }
  }
  const withTimes = (at: number[]): { times?: Array<string | number> } =>
    timeColumn === undefined ? {} : { times: at.map((i) => times[i] as string | number) };
  if (options.returns === undefined) {
    if (options.skipRepeats === true)
      throw invalid("skipping repeated prices needs returns derived from prices");
    return { values: raw.map((v) => v * scale), lines, ...withTimes(raw.map((_, i) => i)) };
  }
  const values: number[] = [];
  const kept: number[] = [];
  let repeats = 0;
  let before = Number.NaN;
  for (let i = 0; i < raw.length; i++) {
    const price = raw[i] as number;
    if (!(price > 0))
      throw invalid(
        `${name} line ${lines[i]}: price ${price} in "${options.column}" is not positive; returns need positive prices`,
      );
    if (i > 0 && options.skipRepeats === true && price === before) {
      repeats++;
      continue;
    }
    if (i > 0) {
      values.push((options.returns === "log" ? Math.log(price / before) : price / before - 1) * scale);
      kept.push(i);
    }
    before = price;
  }
  return {
    values,
    lines: kept.map((i) => lines[i] as number),
    prices: kept.map((i) => raw[i] as number),
    ...withTimes(kept),
    ...(options.skipRepeats === true ? { repeats } : {}),
  };
}
