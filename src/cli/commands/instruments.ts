/**
 * `ballast instruments load|list|show`: market data into a running server from a CSV or JSONL
 * file (a backfill), and what the server holds.
 *
 * `load` reads a time column (optional: without one a bar's time is its row number, 1-based),
 * a close column (or, with `--returns`, a column of log returns turned into a price index that
 * starts at 100: P_i = 100 exp(r_1 + ... + r_i), so the index's returns are the file's from the
 * second row on; `--percent` when the returns are in percent), and optional open, high, low and
 * volume columns. It posts batches of `--batch` bars; re-running it is harmless (bars already
 * stored are duplicates). A refused bar is named by its file line.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { Command } from "commander";
import { BallastError, invalid } from "../../domain/errors.js";
import { readRowBatches, type Row } from "../../io/rows.js";
import { clientFor, serverOptions, type ServerClient, type ServerFlags } from "../client.js";
import { parsePositiveInt } from "../options.js";
import { startProgress } from "../progress.js";
import { formatTable, printJson } from "../table.js";

interface LoadFlags extends ServerFlags {
  file: string;
  id: string;
  timeColumn?: string;
  closeColumn?: string;
  column?: string;
  openColumn?: string;
  highColumn?: string;
  lowColumn?: string;
  volumeColumn?: string;
  returns?: boolean;
  percent?: boolean;
  batch: string;
  windows?: string;
  skipRepeats?: boolean;
  format?: string;
  output?: string;
}

interface Indicators {
  time: number;
  logReturn: number | null;
  repeated: boolean;
  gap: boolean;
  realizedVolatility: Record<string, number | null>;
  ewmaVolatility: number | null;
  atr: number | null;
  efficiencyRatio: number | null;
  drawdown: number;
  maxDrawdown: number;
}

interface AppendAnswer {
  accepted: number;
  duplicates: number;
  reordered: number;
  repeated: number;
  gaps: number;
  last: Indicators | null;
}

interface InstrumentView {
  id: string;
  config: Record<string, unknown>;
  bars: number;
  lastTime: number | null;
  last: { bar: Record<string, number>; indicators: Indicators } | null;
  createdAt: string;
  updatedAt: string;
}

const MAX_BATCH = 10_000;
const INDEX_BASE = 100;

export function register(program: Command): void {
  const instruments = program
    .command("instruments")
    .description("Market data: load bars from a file, list instruments, show one with its indicators");

  serverOptions(
    instruments
      .command("load")
      .description("Post the bars of a CSV or JSONL file to an instrument (created when new), in batches")
      .requiredOption("-f, --file <path>", "CSV (header row) or JSONL file")
      .requiredOption("--id <instrument>", "the instrument's id (letters, digits, . _ -)")
      .option("--time-column <name>", "the bars' time: numbers, or ISO dates (default: the row number)")
      .option("--close-column <name>", "closing prices (default: close)")
      .option("--column <name>", "the same as --close-column")
      .option("--open-column <name>", "opening prices")
      .option("--high-column <name>", "highs (with --low-column, the ATR is computed)")
      .option("--low-column <name>", "lows")
      .option("--volume-column <name>", "volumes")
      .option("--returns", "the column holds log returns: load a price index built from them (base 100)")
      .option("--percent", "with --returns: the returns are in percent")
      .option("--batch <n>", `bars per request (at most ${MAX_BATCH})`, "5000")
      .option("--windows <list>", "realized volatility windows for a new instrument, e.g. 20,60")
      .option("--skip-repeats", "a new instrument leaves repeated prices out of return-based indicators")
      .option("--format <format>", "csv or jsonl (default: from the extension)")
      .option("-o, --output <format>", "text or json", "text"),
  ).action(async (options: LoadFlags) => load(options));

  serverOptions(
    instruments
      .command("list")
      .description("Instruments with their newest bar and indicators")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (options: ServerFlags & { output: string }) => {
    const result = await clientFor(options).request<{ instruments: InstrumentView[]; total: number }>(
      "GET",
      "/api/v1/instruments",
    );
    if (options.output === "json") return printJson(result);
    if (result.instruments.length === 0) {
      process.stdout.write(
        "no instruments yet; load bars with `ballast instruments load -f file.csv --id NAME`\n",
      );
      return;
    }
    process.stdout.write(
      formatTable(
        ["ID", "BARS", "LAST TIME", "CLOSE", "EWMA VOL", "REALIZED VOL", "DRAWDOWN"],
        result.instruments.map((i) => [
          i.id,
          i.bars,
          i.lastTime ?? "-",
          i.last?.bar.close ?? "-",
          num(i.last?.indicators.ewmaVolatility),
          Object.entries(i.last?.indicators.realizedVolatility ?? {})
            .map(([w, v]) => `${w}:${num(v)}`)
            .join(" ") || "-",
          num(i.last?.indicators.drawdown),
        ]),
      ),
    );
    if (result.total > result.instruments.length)
      process.stdout.write(`(${result.total - result.instruments.length} more not shown)\n`);
  });

  serverOptions(
    instruments
      .command("show <id>")
      .description("One instrument: its settings, newest bar and indicators")
      .option("-o, --output <format>", "table or json", "table"),
  ).action(async (id: string, options: ServerFlags & { output: string }) => {
    const view = await clientFor(options).request<InstrumentView>(
      "GET",
      `/api/v1/instruments/${encodeURIComponent(id)}`,
    );
    if (options.output === "json") return printJson(view);
    const rows: Array<[string, string | number]> = [
      ["id", view.id],
      ["bars", view.bars],
      ...Object.entries(view.config).map(([k, v]): [string, string] => [k, JSON.stringify(v)]),
    ];
    const last = view.last;
    if (last !== null) {
      for (const [k, v] of Object.entries(last.bar)) rows.push([`bar.${k}`, v]);
      const x = last.indicators;
      rows.push(
        ["logReturn", num(x.logReturn)],
        ["repeated", String(x.repeated)],
        ["gap", String(x.gap)],
        ...Object.entries(x.realizedVolatility).map(([w, v]): [string, string] => [
          `realizedVolatility[${w}]`,
          num(v),
        ]),
        ["ewmaVolatility", num(x.ewmaVolatility)],
        ["atr", num(x.atr)],
        ["efficiencyRatio", num(x.efficiencyRatio)],
        ["drawdown", num(x.drawdown)],
        ["maxDrawdown", num(x.maxDrawdown)],
      );
    }
    process.stdout.write(formatTable(["FIELD", "VALUE"], rows));
  });
}

async function load(options: LoadFlags): Promise<void> {
  if (
    options.closeColumn !== undefined &&
    options.column !== undefined &&
    options.closeColumn !== options.column
  )
    throw invalid("give --close-column or --column, not both");
  const closeColumn = options.closeColumn ?? options.column ?? "close";
  const batchSize = parsePositiveInt(options.batch, "--batch");
  if (batchSize > MAX_BATCH) throw invalid(`--batch must be at most ${MAX_BATCH}, got ${batchSize}`);
  if (options.percent === true && options.returns !== true) throw invalid("--percent needs --returns");
  const config = {
    ...(options.windows === undefined ? {} : { windows: parseWindows(options.windows) }),
    ...(options.skipRepeats === true ? { skipRepeats: true } : {}),
  };
  const client = clientFor(options);
  const name = basename(options.file);
  const total = await countRows(options.file);
  const progress = startProgress({ total, unit: "bars" });
  const sum = { accepted: 0, duplicates: 0, reordered: 0, repeated: 0, gaps: 0 };
  let last: Indicators | null = null;
  let pending: Array<{ bar: Record<string, unknown>; line: number }> = [];
  let logPrice = Math.log(INDEX_BASE);
  let row = 0;
  const send = async (): Promise<void> => {
    if (pending.length === 0) return;
    const answer = await post(
      client,
      options.id,
      pending,
      Object.keys(config).length > 0 ? config : undefined,
      name,
    );
    for (const k of Object.keys(sum) as Array<keyof typeof sum>) sum[k] += answer[k];
    last = answer.last ?? last;
    progress.advance(pending.length);
    pending = [];
  };
  try {
    for await (const batch of readRowBatches(options.file, {
      batchSize,
      ...(options.format === undefined ? {} : { format: options.format as "csv" | "jsonl" }),
    })) {
      for (const [i, item] of batch.rows.entries()) {
        const line = batch.lines[i] as number;
        row++;
        const cells = rowObject(item, name, line);
        const value = cell(cells, closeColumn, name, line, true) as number;
        let close = value;
        if (options.returns === true) {
          logPrice += options.percent === true ? value / 100 : value;
          close = Math.exp(logPrice);
        }
        const bar: Record<string, unknown> = {
          time: options.timeColumn === undefined ? row : cell(cells, options.timeColumn, name, line, false),
          close,
        };
        for (const [key, column] of [
          ["open", options.openColumn],
          ["high", options.highColumn],
          ["low", options.lowColumn],
          ["volume", options.volumeColumn],
        ] as const) {
          if (column !== undefined) bar[key] = cell(cells, column, name, line, true);
        }
        pending.push({ bar, line });
        if (pending.length >= batchSize) await send();
      }
    }
    await send();
  } catch (error) {
    progress.abort();
    throw error;
  }
  progress.finish("loaded", sum.accepted + sum.duplicates);
  const result = { instrument: options.id, ...sum, last };
  if (options.output === "json") return printJson(result);
  process.stdout.write(
    `${options.id}: ${sum.accepted} bars accepted, ${sum.duplicates} already stored, ${sum.repeated} repeated prices, ` +
      `${sum.gaps} gaps, ${sum.reordered} reordered\n`,
  );
}

async function post(
  client: ServerClient,
  id: string,
  pending: ReadonlyArray<{ bar: Record<string, unknown>; line: number }>,
  config: Record<string, unknown> | undefined,
  file: string,
): Promise<AppendAnswer> {
  try {
    return await client.request<AppendAnswer>("POST", `/api/v1/instruments/${encodeURIComponent(id)}/bars`, {
      bars: pending.map((p) => p.bar),
      ...(config === undefined ? {} : { config }),
    });
  } catch (error) {
    // The server names the bar by its place in the batch; the user knows it by its file line.
    const at = error instanceof BallastError ? error.details?.row : undefined;
    if (error instanceof BallastError && typeof at === "number" && pending[at] !== undefined)
      throw new BallastError(
        error.code,
        `${file} line ${pending[at].line}: ${error.message.replace(/^bars\[\d+\]\.?/, "").trim()}`,
        error.details,
      );
    throw error;
  }
}

function rowObject(item: Row, file: string, line: number): Record<string, unknown> {
  if (Array.isArray(item))
    throw invalid(`${file} line ${line}: expected an object with named columns, got an array`);
  return item;
}

function cell(
  row: Record<string, unknown>,
  column: string,
  file: string,
  line: number,
  numeric: boolean,
): unknown {
  if (!(column in row))
    throw invalid(
      `${file} has no column "${column}" (line ${line} has ${Object.keys(row)
        .map((c) => `"${c}"`)
        .join(", ")})`,
    );
  const value = row[column];
  if (numeric ? typeof value !== "number" : typeof value !== "number" && typeof value !== "string")
    throw invalid(
      `${file} line ${line}: column "${column}" holds ${JSON.stringify(value)}, not a ${numeric ? "number" : "time"}`,
    );
  return value;
}

function parseWindows(raw: string): number[] {
  return raw.split(",").map((w) => parsePositiveInt(w.trim(), "--windows"));
}

/** Data rows in the file (lines after the header for CSV), for the progress bar; an estimate. */
async function countRows(path: string): Promise<number | null> {
  let lines = 0;
  let lastByte = 10;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      for (const byte of chunk) if (byte === 10) lines++;
      lastByte = chunk[chunk.length - 1] ?? lastByte;
    }
  } catch {
    return null; // the reader reports the missing file with its own words
  }
  if (lastByte !== 10) lines++;
  return path.toLowerCase().endsWith(".csv") ? Math.max(0, lines - 1) : lines;
}

function num(v: number | null | undefined): string {
  return v === null || v === undefined ? "-" : Number(v.toPrecision(6)).toString();
}
