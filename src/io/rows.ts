/**
 * Rows from a file, in batches, for commands that send data to a server (`ballast predict`).
 * CSV (header row first) gives objects keyed by column; JSONL gives whatever each line holds,
 * an object or an array. Files are streamed, so memory holds one batch, not the file.
 *
 * CSV cells become numbers when their column is numeric and null when empty. A column is
 * numeric when its first non-empty cell is a number; a later cell in it that is not a number
 * is an error naming the line, rather than a silent mix of strings and numbers.
 */
import { createReadStream, type ReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { parse, CsvError } from "csv-parse";
import { invalid, notFound } from "../domain/errors.js";

export const ROW_FORMATS = ["csv", "jsonl"] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

export type Row = Record<string, unknown> | unknown[];

export interface RowBatch {
  readonly rows: Row[];
  /** File line (1-based) of the first row in the batch. */
  readonly lineStart: number;
  /** File line of each row, for error messages (a quoted multi-line CSV row reports its last line). */
  readonly lines: number[];
}

export interface ReadRowsOptions {
  /** Overrides the choice by extension. */
  readonly format?: RowFormat;
  readonly batchSize: number;
}

const EXTENSIONS: Record<string, RowFormat> = { ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl" };

export function rowFormatFor(path: string, format?: string): RowFormat {
  if (format !== undefined) {
    if ((ROW_FORMATS as readonly string[]).includes(format)) return format as RowFormat;
    throw invalid(`unknown format "${format}"; use csv or jsonl`);
  }
  const byExtension = EXTENSIONS[extname(path).toLowerCase()];
  if (byExtension === undefined) {
    throw invalid(
      `cannot tell the format of ${basename(path)} from its extension; pass --format csv or --format jsonl`,
    );
  }
  return byExtension;
}

export async function* readRowBatches(path: string, options: ReadRowsOptions): AsyncIterable<RowBatch> {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw invalid(`batch size must be a positive integer, got ${options.batchSize}`);
  }
  const format = rowFormatFor(path, options.format);
  const source = format === "csv" ? csvRows(path) : jsonlRows(path);
  let rows: Row[] = [];
  let lines: number[] = [];
  for await (const { row, line } of source) {
    rows.push(row);
    lines.push(line);
    if (rows.length === options.batchSize) {
      yield { rows, lineStart: lines[0] ?? line, lines };
      rows = [];
      lines = [];
    }
  }
  if (rows.length > 0) yield { rows, lineStart: lines[0] ?? 0, lines };
}

/**
 * Data rows in the file, counted as newline-terminated lines (less the CSV header), without
 * parsing: fast enough to size a progress bar before reading. Blank lines and quoted multi-line
 * cells make it an overestimate, which a progress bar tolerates.
 */
export async function countRows(path: string, options: { format?: RowFormat } = {}): Promise<number> {
  const format = rowFormatFor(path, options.format);
  let newlines = 0;
  let last = -1;
  for await (const chunk of await openFile(path)) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) newlines++;
    if (bytes.length > 0) last = bytes[bytes.length - 1] ?? -1;
  }
  const lines = last === -1 ? 0 : newlines + (last === 10 ? 0 : 1);
  return format === "csv" ? Math.max(0, lines - 1) : lines;
}

interface NumberedRow {
  readonly row: Row;
  readonly line: number;
}

/** Checks the path up front so a missing file is a typed error, not a stream 'error' event. */
async function openFile(path: string): Promise<ReadStream> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT")
      throw notFound(`${path}: no such file`);
    throw error;
  }
  if (info.isDirectory()) throw invalid(`${path} is a directory, not a file`);
  return createReadStream(path);
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

async function* csvRows(path: string): AsyncIterable<NumberedRow> {
  const name = basename(path);
  const source = await openFile(path);
  const parser = parse({ info: true, bom: true, skip_empty_lines: true, relax_column_count: true });
  source.once("error", (error) => parser.destroy(error));
  source.pipe(parser);

  let header: string[] | null = null;
  let numeric: Array<boolean | undefined> = [];
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = item;
      const line = info.lines;
      if (header === null) {
        header = readHeader(record, name, line);
        numeric = header.map(() => undefined);
        continue;
      }
      if (record.length !== header.length) {
        throw invalid(`${name} line ${line}: expected ${header.length} columns, got ${record.length}`);
      }
      const row: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) {
        const column = header[i] ?? "";
        const cell = (record[i] ?? "").trim();
        if (cell === "") {
          row[column] = null;
          continue;
        }
        const isNumber = NUMBER.test(cell);
        numeric[i] ??= isNumber;
        if (numeric[i] === true && !isNumber) {
          throw invalid(
            `${name} line ${line}: column "${column}" is numeric but holds ${JSON.stringify(cell)}`,
          );
        }
        row[column] = numeric[i] === true ? Number(cell) : (record[i] ?? "");
      }
      yield { row, line };
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const lines = (error as { lines?: unknown }).lines;
      throw invalid(`${name} line ${typeof lines === "number" ? lines : "?"}: ${error.message}`);
    }
    throw error;
  } finally {
    source.destroy();
    parser.destroy();
  }
}

function readHeader(record: string[], name: string, line: number): string[] {
  const header = record.map((c) => c.trim());
  const seen = new Set<string>();
  for (const [i, column] of header.entries()) {
    if (column === "") throw invalid(`${name} line ${line}: header column ${i + 1} has no name`);
    if (seen.has(column)) throw invalid(`${name} line ${line}: header names column "${column}" twice`);
    seen.add(column);
  }
  return header;
}

async function* jsonlRows(path: string): AsyncIterable<NumberedRow> {
  const name = basename(path);
  const source = await openFile(path);
  source.setEncoding("utf8");
  let line = 0;
  let pending = "";
  const parseLine = (text: string): NumberedRow | null => {
    line++;
    if (text.trim() === "") return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw invalid(
        `${name} line ${line}: not valid JSON (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    if (typeof value !== "object" || value === null) {
      throw invalid(
        `${name} line ${line}: expected an object or an array, got ${value === null ? "null" : typeof value}`,
      );
    }
    return { row: value as Row, line };
  };
  try {
    for await (const chunk of source) {
      pending += chunk as string;
      let start = 0;
      for (let newline = pending.indexOf("\n"); newline !== -1; newline = pending.indexOf("\n", start)) {
        const row = parseLine(pending.slice(start, newline));
        if (row !== null) yield row;
        start = newline + 1;
      }
      pending = pending.slice(start);
    }
    if (pending !== "") {
      const row = parseLine(pending);
      if (row !== null) yield row;
    }
  } finally {
    source.destroy();
  }
}
