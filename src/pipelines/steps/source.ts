/**
 * The source step: rows from files (CSV, JSONL, Parquet by path or glob), a SQL query
 * (PostgreSQL or SQLite, read-only, through a cursor), or the production log itself
 * (predictions joined with their labels over a window, optionally one segment), written as
 * one JSONL dataset. Streamed throughout: memory holds a batch, never the source.
 *
 * Placement is `server` for every source: the log and SQL URLs with secrets are server-side,
 * and a kind has one placement, so files are read there too (the roots are the server's).
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet/src/node.js";
import { invalid, unavailable } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/json-value.js";
import { DEFAULT_SECRET_ACCESS } from "../../domain/secret-access.js";
import { parseSecretRef, resolveSecret, type SecretRef } from "../../alerts/notifiers/secret-ref.js";
import { readRowBatches } from "../../io/rows.js";
import { invalidField } from "../../registry/field.js";
import { DatasetWriter, metaJson, type DatasetRow } from "../datasets.js";
import { matchFiles, type MatchedFile } from "../file-paths.js";
import type { PipelineServer, StepContext, StepKind, StepResult } from "../step.js";
import { duration, number, oneOf, optionalText, scalarMap, specObject, text } from "./fields.js";

const BATCH = 2000;
/** PostgreSQL type oids of int8 and numeric. */
const PG_INT8 = 20;
const PG_NUMERIC = 1700;
/** Rows a SQL source may return before the step fails (a forgotten WHERE is not a dataset). */
export const DEFAULT_MAX_SQL_ROWS = 50_000_000;

export type FileFormat = "csv" | "jsonl" | "parquet";

export type SourceSpec =
  | {
      readonly type: "log";
      readonly deployment: string;
      readonly windowMs: number;
      readonly labelRequired: boolean;
      readonly segment?: Record<string, JsonValue>;
      readonly labelColumn: string;
      readonly timeColumn: string;
    }
  | {
      readonly type: "files";
      readonly path: string;
      readonly format?: FileFormat;
      readonly timeColumn?: string;
    }
  | {
      readonly type: "sql";
      readonly url?: string;
      readonly urlFrom?: SecretRef;
      readonly query: string;
      readonly maxRows: number;
      readonly timeColumn?: string;
    };

function parseSource(raw: unknown, field: string): SourceSpec {
  const spec = specObject(raw, field, ["log", "files", "sql"]);
  const kinds = Object.keys(spec);
  if (kinds.length !== 1) throw invalidField(field, "expected exactly one of log, files, sql");
  const at = `${field}.${kinds[0]}`;
  if (spec.log !== undefined) {
    const log = specObject(spec.log, at, [
      "deployment",
      "window",
      "label",
      "segment",
      "labelColumn",
      "timeColumn",
    ]);
    return {
      type: "log",
      deployment: text(log, "deployment", at),
      windowMs: duration(log, "window", at),
      labelRequired: oneOf(log, "label", at, ["required", "any"], "required") === "required",
      ...(log.segment === undefined ? {} : { segment: scalarMap(log, "segment", at) }),
      labelColumn: optionalText(log, "labelColumn", at) ?? "label",
      timeColumn: optionalText(log, "timeColumn", at) ?? "ts",
    };
  }
  if (spec.files !== undefined) {
    const files = specObject(spec.files, at, ["path", "format", "timeColumn"]);
    const format =
      files.format === undefined ? undefined : oneOf(files, "format", at, ["csv", "jsonl", "parquet"]);
    const timeColumn = optionalText(files, "timeColumn", at);
    return {
      type: "files",
      path: text(files, "path", at),
      ...(format === undefined ? {} : { format }),
      ...(timeColumn === undefined ? {} : { timeColumn }),
    };
  }
  const sql = specObject(spec.sql, at, ["url", "urlFrom", "query", "maxRows", "timeColumn"]);
  const url = optionalText(sql, "url", at);
  const urlFrom = sql.urlFrom === undefined ? undefined : parseSecretRef(sql.urlFrom, `${at}.urlFrom`);
  if ((url === undefined) === (urlFrom === undefined))
    throw invalidField(at, "expected exactly one of url, urlFrom");
  if (url !== undefined) checkSqlUrl(url, `${at}.url`);
  const timeColumn = optionalText(sql, "timeColumn", at);
  return {
    type: "sql",
    ...(url === undefined ? {} : { url }),
    ...(urlFrom === undefined ? {} : { urlFrom }),
    query: text(sql, "query", at),
    maxRows: number(sql, "maxRows", at, { min: 1, integer: true, fallback: DEFAULT_MAX_SQL_ROWS }),
    ...(timeColumn === undefined ? {} : { timeColumn }),
  };
}

function checkSqlUrl(url: string, field: string): void {
  if (!/^(postgres|postgresql):\/\//.test(url) && !url.startsWith("sqlite:"))
    throw invalidField(field, "expected postgres://… or sqlite:<path>");
}

/** What the server must be for a source (log and sql need it; files need its roots). */
function serverOf(ctx: StepContext<SourceSpec>): PipelineServer {
  if (ctx.server === undefined) throw unavailable("the source step runs in the server (placement server)");
  return ctx.server;
}

/** The log window ends now; the cache decides on the log's extent (see volatility). */
function windowOf(ctx: StepContext<SourceSpec>, windowMs: number): { since: number; until: number } {
  const until = ctx.clock.now();
  return { since: until - windowMs, until };
}

export const sourceStep: StepKind<SourceSpec> = {
  kind: "source",
  placement: "server",
  cacheable: true,
  parse: parseSource,
  inputs: () => [],

  async volatility(ctx): Promise<JsonValue> {
    const spec = ctx.spec;
    if (spec.type === "log") {
      const { since, until } = windowOf(ctx, spec.windowMs);
      // Not the window's ends (they move every second) but what is in it: the same
      // predictions and labels give the same dataset.
      const extent = await serverOf(ctx).log.extent({ deployment: spec.deployment, since, until });
      return { windowMs: spec.windowMs, ...extent };
    }
    if (spec.type === "files") {
      const files = await matchFiles(spec.path, serverOf(ctx).fileRoots, `${ctx.step}.source.files.path`);
      return files.map((f) => [f.name, f.bytes, f.mtimeMs]);
    }
    // A query's result cannot be known without running it: never taken from the cache.
    return { at: ctx.clock.now() };
  },

  async run(ctx) {
    const spec = ctx.spec;
    const path = join(ctx.workDir, "data.jsonl");
    const writer = new DatasetWriter(path, { timeColumn: spec.timeColumn });
    let described: Record<string, JsonValue>;
    try {
      if (spec.type === "log") described = await fromLog(ctx, spec, writer);
      else if (spec.type === "files") described = await fromFiles(ctx, spec, writer);
      else described = await fromSql(ctx, spec, writer);
    } catch (error) {
      writer.abort();
      throw error;
    }
    const meta = await writer.close();
    if (meta.rows === 0) throw invalid(`source ${ctx.step}: no rows (${describeSource(spec)})`);
    ctx.log.line(`${meta.rows} rows, ${meta.columns.length} columns`);
    const result: StepResult = {
      outputs: { data: { file: path, kind: "dataset", meta: { ...metaJson(meta), source: described } } },
      summary: { rows: meta.rows, columns: meta.columns.length, source: described },
    };
    return result;
  },
};

function describeSource(spec: SourceSpec): string {
  if (spec.type === "log")
    return `deployment ${spec.deployment} over the last ${spec.windowMs / 1000}s${spec.labelRequired ? ", labelled rows only" : ""}${spec.segment === undefined ? "" : `, segment ${JSON.stringify(spec.segment)}`}`;
  if (spec.type === "files") return `files ${spec.path}`;
  return "the SQL query";
}

async function fromLog(
  ctx: StepContext<SourceSpec>,
  spec: Extract<SourceSpec, { type: "log" }>,
  writer: DatasetWriter,
): Promise<Record<string, JsonValue>> {
  const { since, until } = windowOf(ctx, spec.windowMs);
  const rows = serverOf(ctx).log.rows({
    deployment: spec.deployment,
    since,
    until,
    labelledOnly: spec.labelRequired,
    ...(spec.segment === undefined ? {} : { segment: spec.segment }),
  });
  for await (const page of rows) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await writer.write(
      page.map((r) => ({ ...r.features, [spec.labelColumn]: r.label, [spec.timeColumn]: r.at })),
    );
  }
  return {
    log: spec.deployment,
    since: new Date(since).toISOString(),
    until: new Date(until).toISOString(),
    ...(spec.segment === undefined ? {} : { segment: spec.segment }),
  };
}

async function fromFiles(
  ctx: StepContext<SourceSpec>,
  spec: Extract<SourceSpec, { type: "files" }>,
  writer: DatasetWriter,
): Promise<Record<string, JsonValue>> {
  const field = `${ctx.step}.source.files.path`;
  const files = await matchFiles(spec.path, serverOf(ctx).fileRoots, field);
  if (files.length === 0) throw invalid(`source ${ctx.step}: no file matches ${spec.path}`);
  for (const file of files) {
    const format = spec.format ?? formatOf(file, field);
    if (format === "parquet") {
      for await (const rows of parquetRows(file.path)) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await writer.write(rows);
      }
      continue;
    }
    for await (const batch of readRowBatches(file.path, { format, batchSize: BATCH })) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const rows = batch.rows.map((row, i) => {
        if (Array.isArray(row))
          throw invalid(
            `${file.name}:${batch.lines[i] ?? 0}: a dataset row must be an object keyed by column`,
          );
        return row as DatasetRow;
      });
      await writer.write(rows);
    }
  }
  return { files: files.map((f) => f.name) };
}

function formatOf(file: MatchedFile, field: string): FileFormat {
  const lower = file.name.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson")) return "jsonl";
  if (lower.endsWith(".parquet")) return "parquet";
  throw invalid(`${field}: cannot tell the format of ${file.name}; give format: csv, jsonl or parquet`, {
    field,
  });
}

/** A Parquet file's rows a slice at a time (hyparquet reads only the row groups a slice needs). */
async function* parquetRows(path: string): AsyncIterable<DatasetRow[]> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const total = Number(metadata.num_rows);
  for (let rowStart = 0; rowStart < total; rowStart += BATCH * 5) {
    const rows = await parquetReadObjects({
      file,
      metadata,
      rowStart,
      rowEnd: Math.min(total, rowStart + BATCH * 5),
      rowFormat: "object",
    });
    yield rows.map((r) => plainRow(r as Record<string, unknown>));
  }
}

/** Database and Parquet values as JSON: bigints and dates become numbers (epoch ms for dates). */
function plainRow(row: Record<string, unknown>): DatasetRow {
  const out: DatasetRow = {};
  for (const [key, value] of Object.entries(row)) out[key] = plainValue(value);
  return out;
}

function plainValue(value: unknown): JsonValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" || typeof value === "boolean") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v)),
  ) as JsonValue;
}

async function fromSql(
  ctx: StepContext<SourceSpec>,
  spec: Extract<SourceSpec, { type: "sql" }>,
  writer: DatasetWriter,
): Promise<Record<string, JsonValue>> {
  const field = `${ctx.step}.source.sql`;
  const server = serverOf(ctx);
  const url =
    spec.url ??
    (await resolveSecret(
      spec.urlFrom as SecretRef,
      `source ${ctx.step}`,
      `${field}.urlFrom`,
      server.secretAccess ?? DEFAULT_SECRET_ACCESS,
    ));
  checkSqlUrl(url, `${field}.url`);
  let count = 0;
  const take = async (rows: Record<string, unknown>[]) => {
    count += rows.length;
    if (count > spec.maxRows)
      throw invalid(`${field}: the query returned more than maxRows (${spec.maxRows}) rows`);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await writer.write(rows.map(plainRow));
  };
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length).replace(/^\/\//, "");
    const [match] = await matchFiles(file, server.fileRoots, `${field}.url`);
    if (match === undefined) throw invalid(`${field}.url: no SQLite file at ${file}`);
    const db = new BetterSqlite3(match.path, { readonly: true, fileMustExist: true });
    try {
      const statement = db.prepare(spec.query);
      if (!statement.reader) throw invalid(`${field}.query: the query returns no rows (not a SELECT)`);
      let batch: Record<string, unknown>[] = [];
      for (const row of statement.iterate() as Iterable<Record<string, unknown>>) {
        batch.push(row);
        if (batch.length >= BATCH) {
          await take(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await take(batch);
    } finally {
      db.close();
    }
    return { sql: "sqlite", file: match.name };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // A read-only transaction: the query cannot change the database, and the cursor streams.
    await client.query("BEGIN READ ONLY");
    await client.query(`DECLARE ballast_source NO SCROLL CURSOR FOR ${spec.query}`);
    for (;;) {
      const page = await client.query<Record<string, unknown>>(`FETCH ${BATCH} FROM ballast_source`);
      if (page.rows.length === 0) break;
      // pg gives int8 and numeric as text (they may not fit a double); a dataset wants numbers.
      const numeric = page.fields
        .filter((f) => f.dataTypeID === PG_INT8 || f.dataTypeID === PG_NUMERIC)
        .map((f) => f.name);
      if (numeric.length > 0)
        for (const row of page.rows)
          for (const name of numeric) if (typeof row[name] === "string") row[name] = Number(row[name]);
      await take(page.rows);
      if (page.rows.length < BATCH) break;
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    // The database's own refusal (syntax, permissions, a write in a read-only transaction).
    throw error instanceof pg.DatabaseError ? invalid(`${field}.query: ${error.message}`) : error;
  } finally {
    await client.end();
  }
  return { sql: "postgres", host: new URL(url).host };
}
