/**
 * A dataset's numeric features and label written once as float64 rows in a binary file, so
 * trainers make as many passes as they need at disk speed without parsing JSON again and
 * without holding the rows in memory (a pass reads CHUNK_ROWS rows at a time). The first pass
 * also gives each column's mean and population standard deviation (Welford) and the label's
 * distinct values (up to a few), which is where a constant label is caught.
 */
import { open } from "node:fs/promises";
import { invalid } from "../domain/errors.js";
import type { JsonValue } from "../domain/json-value.js";
import { readDataset } from "./datasets.js";

/** Rows per read during a pass: 64K rows of 10 columns are 5 MiB. */
export const CHUNK_ROWS = 65_536;

export interface DesignFile {
  readonly path: string;
  readonly rows: number;
  readonly features: readonly string[];
  /** Per feature. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
  readonly labelMean: number;
  /** Distinct label values seen (at most 3 kept): one means a constant label. */
  readonly labelValues: readonly number[];
}

export interface DesignOptions {
  readonly features: readonly string[];
  readonly label: string;
  /** The label as a number: classification maps 0/1/booleans (or `positive`) to 0/1. */
  readonly labelAs: "binary" | "number";
  /** The label value meaning 1 (classification), when labels are not 0/1. */
  readonly positive?: JsonValue;
  readonly signal?: AbortSignal;
}

function featureValue(value: JsonValue | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return null;
}

function labelValue(value: JsonValue | undefined, options: DesignOptions): number | null {
  if (value === undefined || value === null) return null;
  if (options.labelAs === "number") return typeof value === "number" && Number.isFinite(value) ? value : null;
  if (options.positive !== undefined) return value === options.positive ? 1 : 0;
  if (value === true || value === 1) return 1;
  if (value === false || value === 0) return 0;
  return null;
}

export async function writeDesignFile(
  datasetPath: string,
  path: string,
  options: DesignOptions,
): Promise<DesignFile> {
  const d = options.features.length;
  const width = d + 1;
  const file = await open(path, "wx");
  const mean = new Float64Array(d);
  const m2 = new Float64Array(d);
  let labelMean = 0;
  const labelValues = new Set<number>();
  let rows = 0;
  try {
    for await (const batch of readDataset(datasetPath, { signal: options.signal })) {
      const buffer = new Float64Array(batch.length * width);
      batch.forEach((row, i) => {
        const n = rows + 1;
        for (let j = 0; j < d; j++) {
          const name = options.features[j] as string;
          const x = featureValue(row[name]);
          if (x === null)
            throw invalid(
              `row ${n}: feature '${name}' is ${JSON.stringify(row[name] ?? null)}; training needs a finite number (or a boolean) in every row`,
            );
          buffer[i * width + j] = x;
          const delta = x - (mean[j] as number);
          mean[j] = (mean[j] as number) + delta / n;
          m2[j] = (m2[j] as number) + delta * (x - (mean[j] as number));
        }
        const y = labelValue(row[options.label], options);
        if (y === null)
          throw invalid(
            `row ${n}: label '${options.label}' is ${JSON.stringify(row[options.label] ?? null)}; expected ${options.labelAs === "binary" ? "0/1 or true/false (or name the positive value)" : "a finite number"}`,
          );
        buffer[i * width + d] = y;
        labelMean += (y - labelMean) / n;
        if (labelValues.size < 3) labelValues.add(y);
        rows = n;
      });
      await file.write(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    }
  } finally {
    await file.close();
  }
  const std = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const s = rows === 0 ? 0 : Math.sqrt((m2[j] as number) / rows);
    std[j] = s > 0 ? s : 1; // a constant column keeps std 1, as the in-memory trainer does
  }
  return { path, rows, features: options.features, mean, std, labelMean, labelValues: [...labelValues] };
}

/**
 * One pass over the file: `visit` gets chunks of rows as a Float64Array of `rows × (d + 1)`
 * values (features, then the label). Memory: one chunk.
 */
export async function passOver(
  design: DesignFile,
  visit: (chunk: Float64Array, rows: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const width = design.features.length + 1;
  const rowBytes = width * 8;
  const buffer = new Float64Array(CHUNK_ROWS * width);
  const bytes = new Uint8Array(buffer.buffer);
  const file = await open(design.path, "r");
  try {
    let position = 0;
    const total = design.rows * rowBytes;
    while (position < total) {
      if (signal?.aborted === true) throw signal.reason;
      const want = Math.min(bytes.byteLength, total - position);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await file.read(bytes, got, want - got, position + got);
        if (bytesRead === 0) throw new Error(`${design.path} ended early`);
        got += bytesRead;
      }
      visit(buffer, want / rowBytes);
      position += want;
    }
  } finally {
    await file.close();
  }
}
