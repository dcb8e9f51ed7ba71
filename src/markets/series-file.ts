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
}

export interface SeriesFromFile {
  readonly values: number[];
  /** File line of each value (for a return, the line of its closing price). */
  readonly lines: number[];
}

export async function readSeriesFile(path: string, options: SeriesFileOptions): Promise<SeriesFromFile> {
  const name = basename(path);
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale === 0)
    throw invalid(`scale must be a finite non-zero number, got ${scale}`);
  const raw: number[] = [];
  const lines: number[] = [];
  for await (const batch of readRowBatches(path, {
    batchSize: 4096,
    ...(options.format === undefined ? {} : { format: options.format }),
  })) {
    batch.rows.forEach((row, i) => {
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
      raw.push(cell);
      lines.push(line);
    });
  }
  if (options.returns === undefined) return { values: raw.map((v) => v * scale), lines };
  const values: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const price = raw[i] as number;
    if (!(price > 0))
      throw invalid(
        `${name} line ${lines[i]}: price ${price} in "${options.column}" is not positive; returns need positive prices`,
      );
    if (i === 0) continue;
    const before = raw[i - 1] as number;
    values.push((options.returns === "log" ? Math.log(price / before) : price / before - 1) * scale);
  }
  return { values, lines: lines.slice(1) };
}
