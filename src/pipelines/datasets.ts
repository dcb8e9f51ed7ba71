/**
 * Datasets between pipeline steps: JSON Lines, one object per row, written and read as streams
 * so memory stays flat in the number of rows (a week of production traffic passes through a
 * step one batch at a time). The writer counts what downstream steps and lineage need to know
 * without reading the file again: rows, columns (first-appearance order), and the range of a
 * time column.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { invalid } from "../domain/errors.js";
import { isPlainObject, type JsonValue } from "../domain/json-value.js";

export type DatasetRow = Record<string, JsonValue>;

/** Column names kept in a dataset's meta at most; more are counted, not listed. */
export const MAX_LISTED_COLUMNS = 2000;
/** Rows read per batch by default. */
export const DEFAULT_BATCH = 2000;
/** A line longer than this is refused rather than buffered without end. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface DatasetMeta {
  readonly rows: number;
  readonly columns: string[];
  /** Columns beyond MAX_LISTED_COLUMNS (not listed). */
  readonly columnsOmitted?: number;
  /** min/max of the time column (epoch ms or ISO text as written), when one is named and present. */
  readonly timeRange?: { readonly column: string; readonly min: JsonValue; readonly max: JsonValue };
}

export class DatasetWriter {
  private readonly out: WriteStream;
  private rows = 0;
  private readonly columns = new Set<string>();
  private omitted = new Set<string>();
  private min: JsonValue | undefined;
  private max: JsonValue | undefined;
  private failed: Error | undefined;

  constructor(
    readonly path: string,
    private readonly options: { readonly timeColumn?: string } = {},
  ) {
    this.out = createWriteStream(path, { flags: "wx" });
    this.out.on("error", (error) => (this.failed = error));
  }

  /** Appends rows; waits when the file stream is behind (backpressure), so memory stays bounded. */
  async write(rows: readonly DatasetRow[]): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    let text = "";
    for (const row of rows) {
      for (const key in row) {
        if (this.columns.has(key)) continue;
        if (this.columns.size < MAX_LISTED_COLUMNS) this.columns.add(key);
        else if (this.omitted.size < 1_000_000) this.omitted.add(key);
      }
      const t = this.options.timeColumn === undefined ? undefined : row[this.options.timeColumn];
      if (t !== undefined && t !== null && (typeof t === "number" || typeof t === "string")) {
        if (this.min === undefined || compareTime(t, this.min) < 0) this.min = t;
        if (this.max === undefined || compareTime(t, this.max) > 0) this.max = t;
      }
      text += `${JSON.stringify(row)}\n`;
      this.rows += 1;
    }
    if (text !== "" && !this.out.write(text)) await once(this.out, "drain");
  }

  /** Closes the file; what the dataset holds, for its ArtifactRef.meta. */
  async close(): Promise<DatasetMeta> {
    await new Promise<void>((resolve, reject) => {
      this.out.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
    if (this.failed !== undefined) throw this.failed;
    return {
      rows: this.rows,
      columns: [...this.columns],
      ...(this.omitted.size > 0 ? { columnsOmitted: this.omitted.size } : {}),
      ...(this.min === undefined || this.max === undefined || this.options.timeColumn === undefined
        ? {}
        : { timeRange: { column: this.options.timeColumn, min: this.min, max: this.max } }),
    };
  }

  /** Closes without caring about the result (a failed step). */
  abort(): void {
    this.out.destroy();
  }
}

function compareTime(a: number | string, b: JsonValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/**
 * A dataset's rows in batches, in file order. Each line must hold a JSON object; an error names
 * the line. Memory holds one batch.
 */
export async function* readDataset(
  path: string,
  options: { readonly batchSize?: number; readonly signal?: AbortSignal } = {},
): AsyncIterable<DatasetRow[]> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  const input = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 16 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let batch: DatasetRow[] = [];
  let line = 0;
  try {
    for await (const text of lines) {
      line += 1;
      if (text.length > MAX_LINE_BYTES)
        throw invalid(`${path}:${line}: line longer than ${MAX_LINE_BYTES} bytes`);
      if (text.trim() === "") continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw invalid(`${path}:${line}: not JSON: ${(error as Error).message}`);
      }
      if (!isPlainObject(value)) throw invalid(`${path}:${line}: a dataset row must be a JSON object`);
      batch.push(value as DatasetRow);
      if (batch.length >= batchSize) {
        if (options.signal?.aborted === true) throw options.signal.reason;
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    lines.close();
    input.destroy();
  }
}

/** The dataset meta an ArtifactRef carries, read back (rows, columns). */
export function datasetMetaOf(meta: Readonly<Record<string, JsonValue>>): {
  rows: number;
  columns: string[];
} {
  const rows = typeof meta.rows === "number" ? meta.rows : 0;
  const columns = Array.isArray(meta.columns)
    ? meta.columns.filter((c): c is string => typeof c === "string")
    : [];
  return { rows, columns };
}

/** A DatasetMeta as the JSON an ArtifactRef.meta holds. */
export function metaJson(meta: DatasetMeta): Record<string, JsonValue> {
  return JSON.parse(JSON.stringify(meta)) as Record<string, JsonValue>;
}
