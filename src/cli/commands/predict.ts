/**
 * `ballast predict <deployment> -f rows.csv`: sends a file's rows to a running server in
 * batches over the named-feature endpoint and writes one prediction per row, in file order.
 *
 * Only the model's features are sent (read from `GET /v2/models/{name}` → parameters.features,
 * or given with --columns), so a labelled file such as a week of fraud data can be scored as it
 * is; a missing feature is an error naming the file and line before anything is sent for it.
 */
import { isPlainObject } from "../../domain/json-value.js";
import { open, type FileHandle } from "node:fs/promises";
import { basename, extname } from "node:path";
import { Option, type Command } from "commander";
import { BallastError, invalid, isBallastError } from "../../domain/errors.js";
import type { Clock } from "../../domain/clock.js";
import { DEFAULT_SERVER, ServerClient, serverOptions } from "../client.js";
import { parsePositiveInt } from "../options.js";
import {
  countRows,
  readRowBatches,
  ROW_FORMATS,
  rowFormatFor,
  type Row,
  type RowBatch,
  type RowFormat,
} from "../../io/rows.js";
import { startProgress, type ProgressStream } from "../progress.js";

export interface PredictOptions {
  readonly deployment: string;
  readonly file: string;
  readonly server?: string;
  readonly token?: string;
  readonly format?: RowFormat;
  readonly batchSize?: number;
  /** Columns to send; defaults to the model's features from its metadata. */
  readonly columns?: readonly string[];
  /** Output file; `.csv` writes CSV (input columns plus predictions), anything else JSONL. */
  readonly output?: string;
  /** Batches in flight at once. */
  readonly concurrency?: number;
  /**
   * Input columns copied to every output row (a label, an id), so what comes back can be joined
   * to its row later: `ballast feedback --label-column is_fraud`. CSV output copies every input
   * column already.
   */
  readonly keep?: readonly string[];
}

/** The names JSONL output uses itself; a kept column may not take one. */
const OUTPUT_FIELDS = ["request_id", "row", "model_version", "prediction"] as const;

export interface OutputStream {
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
  /** Where a closed pipe (EPIPE: `ballast predict … | head`) is reported. */
  on?(event: "error", listener: (error: Error) => void): unknown;
  off?(event: "error", listener: (error: Error) => void): unknown;
}

export interface PredictIo {
  /** Where predictions go when there is no --output. */
  readonly stdout: OutputStream;
  /** Progress bar (when a TTY) and the summary line. */
  readonly stderr: ProgressStream;
  readonly clock?: Clock;
}

export interface PredictSummary {
  readonly rows: number;
  readonly batches: number;
  /** The line written to stderr: `predicted <n> rows in <s> s (<r> rows/s)`. */
  readonly summary: string;
}

export const DEFAULT_BATCH_SIZE = 256;
export const DEFAULT_CONCURRENCY = 4;

interface ModelMetadata {
  readonly name?: string;
  readonly parameters?: { readonly features?: unknown };
}

/** The server also sends the request id as the x-request-id header; the body copy is what we read. */
interface PredictResponse {
  readonly predictions?: unknown;
  readonly model_version?: unknown;
  readonly request_id?: unknown;
}

interface BatchResult {
  readonly batch: RowBatch;
  readonly predictions: readonly unknown[];
  readonly requestId: string | null;
  readonly modelVersion: string | null;
}

export async function runPredict(
  options: PredictOptions,
  io: PredictIo = processIo(),
): Promise<PredictSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw invalid(`--batch-size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw invalid(`--concurrency must be a positive integer, got ${concurrency}`);
  }
  const format = rowFormatFor(options.file, options.format);
  const client = new ServerClient(options.server ?? DEFAULT_SERVER, options.token);
  const name = options.deployment;
  const columns = options.columns ?? (await modelFeatures(client, name));
  const fileName = basename(options.file);
  const keep = options.keep ?? [];
  const reserved = keep.filter((c) => (OUTPUT_FIELDS as readonly string[]).includes(c));
  if (reserved.length > 0)
    throw invalid(`--keep ${reserved.join(",")}: the output has a field of that name already`);

  const total = io.stderr.isTTY === true ? await countRows(options.file, { format }) : null;
  const progress = startProgress({ total, stream: io.stderr, ...(io.clock ? { clock: io.clock } : {}) });
  const sink = await openSink(options.output, io.stdout, keep);
  const inflight: Array<Promise<BatchResult>> = [];
  let batches = 0;
  let written = 0;
  const writeNext = async (): Promise<void> => {
    const next = inflight.shift();
    if (next === undefined) return;
    const result = await next;
    await sink.write(result, columns);
    written += result.batch.rows.length;
    progress.advance(result.batch.rows.length);
  };
  try {
    for await (const batch of readRowBatches(options.file, { format, batchSize })) {
      if (sink.readerGone()) break;
      const instances = batch.rows.map((row, i) =>
        instanceOf(row, columns, fileName, batch.lines[i] ?? batch.lineStart, name),
      );
      if (keep.length > 0) checkKept(batch, keep, fileName);
      batches++;
      const pending = sendBatch(client, name, instances, batch, fileName).then((answer) => ({
        ...answer,
        batch,
      }));
      // Awaited in order below; this only keeps a later batch's failure from counting as unhandled.
      pending.catch(() => undefined);
      inflight.push(pending);
      if (inflight.length >= concurrency) await writeNext();
    }
    while (inflight.length > 0 && !sink.readerGone()) await writeNext();
    await sink.close();
  } catch (error) {
    progress.abort();
    await sink.close().catch(() => undefined);
    throw error;
  }
  return { rows: written, batches, summary: progress.finish("predicted") };
}

async function modelFeatures(client: ServerClient, name: string): Promise<readonly string[]> {
  const metadata = await client.request<ModelMetadata>("GET", `/v2/models/${encodeURIComponent(name)}`);
  const features = metadata?.parameters?.features;
  if (Array.isArray(features) && features.length > 0 && features.every((f) => typeof f === "string")) {
    return features as string[];
  }
  throw invalid(
    `${name} does not list its feature names (parameters.features in its metadata); pass --columns a,b,c`,
  );
}

/** The request body's view of one row: only the columns the model takes, in its order. */
function instanceOf(row: Row, columns: readonly string[], file: string, line: number, name: string): Row {
  if (Array.isArray(row)) {
    if (row.length !== columns.length) {
      throw invalid(
        `${file} line ${line}: expected ${columns.length} values (${columns.join(", ")}), got ${row.length}`,
      );
    }
    return row;
  }
  const instance: Record<string, unknown> = {};
  for (const column of columns) {
    if (!(column in row)) {
      throw invalid(
        `${file} line ${line}: column "${column}" is missing; ${name} needs ${columns.join(", ")}`,
      );
    }
    const value = row[column];
    if (value === null || value === undefined)
      throw invalid(`${file} line ${line}: column "${column}" is empty`);
    instance[column] = value;
  }
  return instance;
}

async function sendBatch(
  client: ServerClient,
  name: string,
  instances: readonly Row[],
  batch: RowBatch,
  file: string,
): Promise<Omit<BatchResult, "batch">> {
  const where = `${file} lines ${batch.lineStart}-${batch.lines[batch.lines.length - 1] ?? batch.lineStart}`;
  let answer: PredictResponse;
  try {
    answer = await client.request<PredictResponse>("POST", `/v1/models/${encodeURIComponent(name)}:predict`, {
      instances,
    });
  } catch (error) {
    if (isBallastError(error))
      throw new BallastError(error.code, `${where}: ${error.message}`, error.details);
    throw error;
  }
  if (typeof answer !== "object" || answer === null) {
    throw new BallastError("upstream", `${where}: the server's answer is not a JSON object`);
  }
  const predictions = answer.predictions;
  if (!Array.isArray(predictions) || predictions.length !== instances.length) {
    const got = Array.isArray(predictions) ? `${predictions.length} predictions` : "no predictions array";
    throw new BallastError("upstream", `${where}: the server answered ${got} for ${instances.length} rows`);
  }
  const version = answer.model_version;
  return {
    predictions,
    requestId: typeof answer.request_id === "string" ? answer.request_id : null,
    modelVersion: version === undefined || version === null ? null : String(version),
  };
}

type WriteText = (text: string) => Promise<void>;

interface PredictionSink {
  write(result: BatchResult, columns: readonly string[]): Promise<void>;
  close(): Promise<void>;
  /** True once whoever reads stdout has gone away (`| head`): stop quietly, as Unix tools do. */
  readerGone(): boolean;
}

async function openSink(
  output: string | undefined,
  stdout: OutputStream,
  keep: readonly string[],
): Promise<PredictionSink> {
  if (output === undefined) return stdoutSink(stdout, keep);
  let file: FileHandle;
  try {
    file = await open(output, "w");
  } catch (error) {
    throw invalid(`cannot write ${output}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let closed = false;
  const write: WriteText = async (text) => {
    await file.write(text);
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await file.close();
  };
  const sink = extname(output).toLowerCase() === ".csv" ? csvSink(write, keep) : jsonlSink(write, keep);
  return { ...sink, close, readerGone: () => false };
}

function stdoutSink(stdout: OutputStream, keep: readonly string[]): PredictionSink {
  let gone = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const onError = (error: Error): void => {
    if ("code" in error && error.code === "EPIPE") gone = true;
    else failure = error;
    wake?.();
  };
  stdout.on?.("error", onError);
  const write: WriteText = async (text) => {
    if (failure !== null) throw failure;
    if (gone) return;
    if (!stdout.write(text)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        stdout.once("drain", resolve);
      });
      wake = null;
    }
  };
  return {
    ...jsonlSink(write, keep),
    close: async () => {
      stdout.off?.("error", onError);
    },
    readerGone: () => gone,
  };
}

/**
 * One line per row: the request id and the row's position within that request, exactly the
 * key feedback joins on (`POST /v1/feedback` {request_id, row}), then the kept columns.
 */
function jsonlSink(write: WriteText, keep: readonly string[]): Pick<PredictionSink, "write"> {
  return {
    async write(result) {
      let text = "";
      for (const [i, prediction] of result.predictions.entries()) {
        const row = result.batch.rows[i];
        const kept: Record<string, unknown> = {};
        if (row !== undefined && !Array.isArray(row)) for (const c of keep) kept[c] = row[c] ?? null;
        text += `${JSON.stringify({
          request_id: result.requestId,
          row: i,
          ...kept,
          model_version: result.modelVersion,
          prediction,
        })}\n`;
      }
      await write(text);
    },
  };
}

/** Kept columns are read by name: every row of the batch must be an object that has them. */
function checkKept(batch: RowBatch, keep: readonly string[], file: string): void {
  for (const [i, row] of batch.rows.entries()) {
    const line = batch.lines[i] ?? batch.lineStart;
    if (Array.isArray(row))
      throw invalid(`${file} line ${line}: --keep needs named columns, and this row is an array`);
    const missing = keep.find((c) => !(c in row));
    if (missing !== undefined) throw invalid(`${file} line ${line}: --keep column "${missing}" is missing`);
  }
}

/**
 * Input columns as read (the kept ones too, when not read), then the prediction (one column, or
 * one per output), the request id, the row within that request and the version.
 */
function csvSink(write: WriteText, keep: readonly string[]): Pick<PredictionSink, "write"> {
  let inputColumns: string[] | null = null;
  let outputNames: string[] | null = null;
  return {
    async write(result, columns) {
      let text = "";
      if (inputColumns === null || outputNames === null) {
        const firstRow = result.batch.rows[0];
        inputColumns =
          firstRow === undefined || Array.isArray(firstRow) ? [...columns] : Object.keys(firstRow);
        inputColumns.push(...keep.filter((c) => !inputColumns?.includes(c)));
        const first = result.predictions[0];
        outputNames = isPlainObject(first) ? Object.keys(first) : [];
        const predictionColumns =
          outputNames.length > 0 ? outputNames.map((n) => `prediction_${n}`) : ["prediction"];
        text += csvLine([...inputColumns, ...predictionColumns, "request_id", "row", "model_version"]);
      }
      for (const [i, row] of result.batch.rows.entries()) {
        const inputs = Array.isArray(row)
          ? inputColumns.map((_, j) => row[j])
          : inputColumns.map((c) => row[c]);
        const prediction = result.predictions[i];
        const outputs =
          outputNames.length > 0
            ? outputNames.map((n) => (isPlainObject(prediction) ? prediction[n] : undefined))
            : [prediction];
        text += csvLine([...inputs, ...outputs, result.requestId, i, result.modelVersion]);
      }
      await write(text);
    },
  };
}

function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(",")}\n`;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function processIo(): PredictIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

export function register(program: Command): void {
  serverOptions(
    program
      .command("predict")
      .description("Send the rows of a CSV or JSONL file to a deployment and write its predictions")
      .argument("<deployment>", "deployment to call")
      .requiredOption(
        "-f, --file <path>",
        "rows: CSV with a header row, or JSONL (one object or array per line)",
      )
      .addOption(
        new Option("--format <format>", "file format (default: from the extension)").choices(ROW_FORMATS),
      )
      .option("--batch-size <n>", "rows per request", String(DEFAULT_BATCH_SIZE))
      .option("--columns <list>", "comma-separated columns to send (default: the model's features)")
      .option("-o, --output <path>", "write here instead of stdout: .csv gives CSV, anything else JSONL")
      .option("--concurrency <n>", "requests in flight at once", String(DEFAULT_CONCURRENCY))
      .option(
        "--keep <columns>",
        "input columns to copy to each output row, e.g. a label or an id (CSV output copies all of them)",
      ),
  ).action(async (deployment: string, flags: PredictFlags) => {
    await runPredict({
      deployment,
      file: flags.file,
      server: flags.server,
      ...(flags.token !== undefined ? { token: flags.token } : {}),
      batchSize: parsePositiveInt(flags.batchSize, "--batch-size"),
      concurrency: parsePositiveInt(flags.concurrency, "--concurrency"),
      ...(flags.format !== undefined ? { format: flags.format } : {}),
      ...(flags.output !== undefined ? { output: flags.output } : {}),
      ...(flags.columns !== undefined ? { columns: parseColumns(flags.columns, "--columns") } : {}),
      ...(flags.keep !== undefined ? { keep: parseColumns(flags.keep, "--keep") } : {}),
    });
  });
}

interface PredictFlags {
  readonly file: string;
  readonly server: string;
  readonly token?: string;
  readonly format?: RowFormat;
  readonly batchSize: string;
  readonly columns?: string;
  readonly output?: string;
  readonly concurrency: string;
  readonly keep?: string;
}

function parseColumns(list: string, flag: string): string[] {
  const columns = list
    .split(",")
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  if (columns.length === 0)
    throw invalid(`${flag} lists no columns; give them comma-separated, e.g. amount,hour`);
  return columns;
}
