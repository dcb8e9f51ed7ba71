/**
 * `ballast feedback -f labels.csv --label-column is_fraud`: sends outcomes read from a file to
 * `POST /v1/feedback` in batches, keyed by the `request_id` and `row` columns that
 * `ballast predict` writes, and says how many joined a logged prediction.
 */
import { basename } from "node:path";
import { Option, type Command } from "commander";
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { MAX_FEEDBACK_PER_CALL } from "../../serving/feedback.js";
import type { FeedbackJoin } from "../../serving/feedback-join.js";
import {
  countRows,
  readRowBatches,
  ROW_FORMATS,
  rowFormatFor,
  type Row,
  type RowFormat,
} from "../../io/rows.js";
import { clientFor, serverOptions, type ServerFlags } from "../client.js";
import { collect, pairs, parsePositiveInt } from "../options.js";
import { startProgress, type ProgressStream } from "../progress.js";

/** Which columns hold what. */
export interface FeedbackColumns {
  readonly requestId: string;
  readonly row: string;
  readonly label?: string;
  readonly value?: string;
  /** Business events: event name → the column saying whether (or how much) it happened. */
  readonly events: Readonly<Record<string, string>>;
}

/** One item of `POST /v1/feedback`. */
export interface FeedbackItem {
  readonly request_id: string;
  readonly row: number;
  readonly label?: unknown;
  readonly value?: number;
  readonly event?: string;
}

export const DEFAULT_FEEDBACK_BATCH = 1000;

/**
 * Pure: the feedback items of one file row. An empty label or value cell sends nothing for it (the
 * outcome is not known yet); an event is sent only where it happened (a cell that is not empty,
 * 0 or false), since the server counts an event per row whatever its value.
 */
export function feedbackItems(row: Row, columns: FeedbackColumns, where: string): FeedbackItem[] {
  if (!isPlainObject(row)) throw invalid(`${where}: feedback needs named columns, and this row is an array`);
  const id = row[columns.requestId];
  if (id === undefined || id === null || id === "")
    throw invalid(`${where}: column "${columns.requestId}" is missing or empty`);
  const rawRow = row[columns.row];
  const index = rawRow === undefined || rawRow === null || rawRow === "" ? 0 : Number(rawRow);
  if (!Number.isSafeInteger(index) || index < 0)
    throw invalid(`${where}: column "${columns.row}" must be a row index (0, 1, …), got '${String(rawRow)}'`);
  const key = { request_id: String(id), row: index };
  const items: FeedbackItem[] = [];
  const label = columns.label === undefined ? undefined : present(row[columns.label]);
  const value = columns.value === undefined ? undefined : number(row[columns.value], columns.value, where);
  if (label !== undefined || value !== undefined) {
    items.push({
      ...key,
      ...(label === undefined ? {} : { label }),
      ...(value === undefined ? {} : { value }),
    });
  }
  for (const [event, column] of Object.entries(columns.events)) {
    const happened = number(row[column], column, where);
    if (happened !== undefined && happened !== 0) items.push({ ...key, event, value: happened });
  }
  return items;
}

function present(cell: unknown): unknown {
  return cell === undefined || cell === null || cell === "" ? undefined : cell;
}

function number(cell: unknown, column: string, where: string): number | undefined {
  const raw = present(cell);
  if (raw === undefined) return undefined;
  if (typeof raw === "boolean") return raw ? 1 : 0;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isFinite(n))
    throw invalid(`${where}: column "${column}" must be a number, got '${String(raw)}'`);
  return n;
}

export interface FeedbackOptions extends ServerFlags {
  readonly file: string;
  readonly format?: RowFormat;
  readonly columns: FeedbackColumns;
  readonly batchSize?: number;
}

export interface FeedbackSummary extends FeedbackJoin {
  /** File rows read (a row may give no item, or several). */
  readonly rows: number;
}

export async function runFeedback(
  options: FeedbackOptions,
  stderr: ProgressStream = process.stderr,
): Promise<FeedbackSummary> {
  const { columns } = options;
  if (columns.label === undefined && columns.value === undefined && Object.keys(columns.events).length === 0)
    throw invalid("say what to send: --label-column, --value-column or --event name=column");
  const batchSize = options.batchSize ?? DEFAULT_FEEDBACK_BATCH;
  if (batchSize > MAX_FEEDBACK_PER_CALL)
    throw invalid(`--batch-size must be at most ${MAX_FEEDBACK_PER_CALL}, the server's limit per call`);
  const format = rowFormatFor(options.file, options.format);
  const client = clientFor(options);
  const file = basename(options.file);
  const total = stderr.isTTY === true ? await countRows(options.file, { format }) : null;
  const progress = startProgress({ total, stream: stderr });
  let rows = 0;
  let pending: FeedbackItem[] = [];
  const sum = { accepted: 0, matched: 0, unmatched: 0, unmatchedIds: [] as string[] };
  const send = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending.slice(0, batchSize);
    pending = pending.slice(batchSize);
    const answer = await client.request<Partial<FeedbackJoin>>("POST", "/v1/feedback", { feedback: batch });
    sum.accepted += answer.accepted ?? batch.length;
    sum.matched += answer.matched ?? 0;
    sum.unmatched += answer.unmatched ?? 0;
    for (const id of answer.unmatchedIds ?? [])
      if (sum.unmatchedIds.length < 10 && !sum.unmatchedIds.includes(id)) sum.unmatchedIds.push(id);
  };
  try {
    for await (const batch of readRowBatches(options.file, { format, batchSize })) {
      for (const [i, row] of batch.rows.entries()) {
        pending.push(...feedbackItems(row, columns, `${file} line ${batch.lines[i] ?? batch.lineStart}`));
      }
      rows += batch.rows.length;
      while (pending.length >= batchSize) await send();
      progress.advance(batch.rows.length);
    }
    while (pending.length > 0) await send();
  } catch (error) {
    progress.abort();
    throw error;
  }
  progress.finish("sent feedback for");
  return { rows, ...sum };
}

/** The line a person reads: how many items joined, and a hint when some did not. */
export function joinLine(summary: FeedbackSummary): string {
  const head = `${summary.accepted} feedback items from ${summary.rows} rows accepted: ${summary.matched} joined a logged prediction, ${summary.unmatched} did not`;
  if (summary.unmatched === 0) return head;
  return (
    `${head} (request ids never served, or not logged; e.g. ${summary.unmatchedIds.slice(0, 3).join(", ")}). ` +
    "They are kept and join if those predictions are logged later; check that request_id and row come from `ballast predict` output"
  );
}

interface FeedbackFlags extends ServerFlags {
  readonly file: string;
  readonly format?: RowFormat;
  readonly labelColumn?: string;
  readonly valueColumn?: string;
  readonly event: string[];
  readonly requestIdColumn: string;
  readonly rowColumn: string;
  readonly batchSize: string;
}

export function register(program: Command): void {
  serverOptions(
    program
      .command("feedback")
      .description(
        "Send outcomes (labels, values, business events) from a CSV or JSONL file, keyed by request_id and row as `ballast predict` writes them",
      )
      .requiredOption("-f, --file <path>", "CSV with a header row, or JSONL objects")
      .addOption(
        new Option("--format <format>", "file format (default: from the extension)").choices(ROW_FORMATS),
      )
      .option("--label-column <column>", "the ground truth (class or number), e.g. is_fraud")
      .option("--value-column <column>", "a number observed for the prediction (sent as value)")
      .option(
        "--event <name=column>",
        "a business event, sent where the column is not empty, 0 or false (repeatable)",
        collect,
        [],
      )
      .option("--request-id-column <column>", "the column holding the request id", "request_id")
      .option(
        "--row-column <column>",
        "the row within the request (0 when the file has no such column)",
        "row",
      )
      .option("--batch-size <n>", "feedback items per request", String(DEFAULT_FEEDBACK_BATCH)),
  ).action(async (flags: FeedbackFlags) => {
    const summary = await runFeedback({
      server: flags.server,
      ...(flags.token === undefined ? {} : { token: flags.token }),
      file: flags.file,
      ...(flags.format === undefined ? {} : { format: flags.format }),
      batchSize: parsePositiveInt(flags.batchSize, "--batch-size"),
      columns: {
        requestId: flags.requestIdColumn,
        row: flags.rowColumn,
        ...(flags.labelColumn === undefined ? {} : { label: flags.labelColumn }),
        ...(flags.valueColumn === undefined ? {} : { value: flags.valueColumn }),
        events: pairs(flags.event, "--event", (column) => column) ?? {},
      },
    });
    process.stdout.write(`${joinLine(summary)}\n`);
  });
}
