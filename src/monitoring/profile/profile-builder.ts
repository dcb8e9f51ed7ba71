/**
 * Builds a reference profile from rows streamed in batches (as `readRowBatches` yields them), in
 * memory bounded by the number of columns, not rows: per column a Welford accumulator, a KLL
 * quantile sketch and a bounded category counter.
 *
 * Kinds, unless `kinds` overrides them: booleans, and numbers whose distinct values are exactly
 * {0, 1}, are binary; other numbers numerical; strings categorical. A column with no values at
 * all is categorical with no categories (every live value will then count as unseen).
 *
 * Bad input is refused with an error naming the column and row: ±Infinity (a finite number or
 * a missing value is what a profile can use), a column mixing numbers, strings and booleans,
 * objects or arrays as values, no rows.
 *
 * Bin counts come from the quantile sketch in a single pass, so they are exact while a column
 * has no more values than the sketch holds uncompacted (k, 200 by default) and otherwise
 * estimates within the sketch's rank error per edge (`binsExact` says which).
 *
 * Columns (`addColumns`, a Float64Array per column, NaN for missing) take the same path in bulk:
 * the same counts, min, max, kinds and errors as the same values given as rows; mean and std
 * are merged per batch (Chan, Golub and LeVeque) rather than value by value, so they may differ
 * from the row path's in the last bits; the quantile sketch takes the column in bulk (see
 * QuantileSketch.updateMany). For bin counts exact at any size, make a second pass with
 * `ExactBinCounts` (exact-bins.ts).
 *
 * Categorical features keep the `maxCategories` (100) most frequent categories; the rest are
 * counted together as `other` (the "__other__" bin; a category literally named "__other__" goes
 * there too). See category-frequencies.ts for the bound on memory.
 */
import { invalid } from "../../domain/errors.js";
import { systemClock, type Clock } from "../../domain/clock.js";
import { DEFAULT_K, QuantileSketch } from "../../math/sketches/quantile-sketch.js";
import { CategoryFrequencies } from "./category-frequencies.js";
import { isMissing } from "./feature-value.js";
import { binCountFor, edgesFromQuantiles, numericBin } from "./numeric-bins.js";
import {
  FEATURE_KINDS,
  type FeatureKind,
  type FeatureProfile,
  type FeatureRole,
  type ReferenceProfile,
} from "./reference-profile.js";

export interface ProfileOptions {
  /** Kind per column, overriding inference. */
  readonly kinds?: Readonly<Record<string, FeatureKind>>;
  /** Columns that are model outputs (prediction drift); the rest are inputs. */
  readonly outputs?: readonly string[];
  /** Only these columns, in this order (default: every column, in order of first appearance). */
  readonly columns?: readonly string[];
  /** Numerical bins from reference quantiles (default 10). */
  readonly bins?: number;
  /** Categories kept per feature (default 100). */
  readonly maxCategories?: number;
  /** Distinct categories counted exactly before rare ones are forgotten (default 10 × maxCategories). */
  readonly maxTrackedCategories?: number;
  /** Quantile sketch parameter (default 200). */
  readonly k?: number;
  readonly clock?: Clock;
}

type ValueType = "number" | "string" | "boolean";

class Column {
  type: ValueType | null = null;
  /** Where the first value was, for the mixed-types message. */
  firstAt = "";
  count = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  ones = 0;
  zeros = 0;
  sketch: QuantileSketch | null = null;
  categories: CategoryFrequencies | null = null;

  constructor(
    readonly name: string,
    readonly role: FeatureRole,
    readonly kind: FeatureKind | undefined,
  ) {}
}

export class ProfileBuilder {
  private readonly columns = new Map<string, Column>();
  private readonly fixedColumns: boolean;
  private readonly outputs: ReadonlySet<string>;
  private readonly kinds: Readonly<Record<string, FeatureKind>>;
  private readonly bins: number;
  private readonly maxCategories: number;
  private readonly maxTracked: number;
  private readonly k: number;
  private readonly clock: Clock;
  private rows = 0;
  private scratch = new Float64Array(0);

  constructor(options: ProfileOptions = {}) {
    this.kinds = options.kinds ?? {};
    for (const [column, kind] of Object.entries(this.kinds)) {
      if (!(FEATURE_KINDS as readonly string[]).includes(kind)) {
        throw invalid(`kind of column "${column}" must be one of ${FEATURE_KINDS.join(", ")}, got "${kind}"`);
      }
    }
    this.outputs = new Set(options.outputs ?? []);
    this.bins = positiveInteger(options.bins ?? 10, "bins");
    this.maxCategories = positiveInteger(options.maxCategories ?? 100, "maxCategories");
    this.maxTracked = positiveInteger(
      options.maxTrackedCategories ?? 10 * this.maxCategories,
      "maxTrackedCategories",
    );
    if (this.maxTracked < this.maxCategories)
      throw invalid("maxTrackedCategories must be at least maxCategories");
    this.k = options.k ?? DEFAULT_K;
    new QuantileSketch({ k: this.k }); // validates k now rather than at the first value
    this.clock = options.clock ?? systemClock;
    this.fixedColumns = options.columns !== undefined;
    for (const name of options.columns ?? []) this.addColumn(name);
  }

  /**
   * Adds a batch of rows. `lines` (a RowBatch's) makes errors name file lines; without it they
   * name rows, counted from 1 across batches.
   */
  add(rows: readonly unknown[], lines?: readonly number[]): void {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const rowIndex = this.rows;
      if (typeof row !== "object" || row === null || Array.isArray(row)) {
        throw invalid(
          `${this.where(i, lines)} is not an object keyed by column; profiles need named columns`,
        );
      }
      const record = row as Record<string, unknown>;
      if (this.fixedColumns) {
        for (const column of this.columns.values()) this.observe(column, record[column.name], i, lines);
      } else {
        for (const name in record) {
          let column = this.columns.get(name);
          if (column === undefined) column = this.addColumn(name);
          this.observe(column, record[name], i, lines);
        }
      }
      this.rows = rowIndex + 1;
    }
  }

  /**
   * Adds a batch of `rows` rows given as columns: a Float64Array of at least `rows` values per
   * column, NaN for a missing value; a column left out is missing in every row of the batch.
   */
  addColumns(columns: Readonly<Record<string, Float64Array>>, rows: number): void {
    if (!Number.isSafeInteger(rows) || rows < 0)
      throw invalid(`rows must be a non-negative integer, got ${rows}`);
    for (const [name, values] of Object.entries(columns)) {
      if (!(values instanceof Float64Array) || values.length < rows) {
        throw invalid(`column "${name}" must be a Float64Array of at least ${rows} values`);
      }
    }
    if (this.fixedColumns) {
      for (const column of this.columns.values()) {
        const values = Object.hasOwn(columns, column.name) ? columns[column.name] : undefined;
        if (values !== undefined) this.observeColumn(column, values, rows);
      }
    } else {
      for (const [name, values] of Object.entries(columns)) {
        this.observeColumn(this.columns.get(name) ?? this.addColumn(name), values, rows);
      }
    }
    this.rows += rows;
  }

  finish(): ReferenceProfile {
    if (this.rows === 0) throw invalid("no rows to profile: the input is empty");
    if (this.columns.size === 0) throw invalid("no columns to profile: the rows have no fields");
    for (const name of [...Object.keys(this.kinds), ...this.outputs]) {
      if (!this.columns.has(name))
        throw invalid(`column "${name}" is named in the options but not in the data`);
    }
    const features = [...this.columns.values()].map((column) => this.featureProfile(column));
    return { version: 1, rows: this.rows, features, createdAt: this.clock.now() };
  }

  private addColumn(name: string): Column {
    const column = new Column(name, this.outputs.has(name) ? "output" : "input", this.kinds[name]);
    this.columns.set(name, column);
    return column;
  }

  private observe(column: Column, value: unknown, i: number, lines: readonly number[] | undefined): void {
    if (isMissing(value)) return;
    let type: ValueType;
    let x: number;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) {
        throw invalid(
          `column "${column.name}" has ${value} at ${this.where(i, lines)}; use a finite number or leave it empty (missing)`,
        );
      }
      type = "number";
      x = value;
    } else if (typeof value === "boolean") {
      type = "boolean";
      x = value ? 1 : 0;
    } else if (typeof value === "string") {
      type = "string";
      x = NaN;
    } else {
      throw invalid(
        `column "${column.name}" has a ${typeof value} at ${this.where(i, lines)}; profiles take numbers, strings and booleans`,
      );
    }
    if (column.type !== type) {
      if (column.type !== null) {
        throw invalid(
          `column "${column.name}" mixes types: ${column.type} first (${column.firstAt}), then a ${type} at ${this.where(i, lines)}`,
        );
      }
      this.startColumn(column, type, this.where(i, lines));
    }
    column.count++;
    if (type === "string") {
      column.categories?.add(value as string);
      return;
    }
    const delta = x - column.mean;
    column.mean += delta / column.count;
    column.m2 += delta * (x - column.mean);
    if (x < column.min) column.min = x;
    if (x > column.max) column.max = x;
    if (x === 1) column.ones++;
    else if (x === 0) column.zeros++;
    column.sketch?.update(x);
    column.categories?.add(String(value));
  }

  private observeColumn(column: Column, values: Float64Array, rows: number): void {
    let firstAt = 0;
    while (firstAt < rows && values[firstAt] !== values[firstAt]) firstAt++;
    if (firstAt === rows) return;
    // Sums of deviations from a shift near the mean (the column's mean so far, or the batch's
    // first value) give the batch's mean and M2 in the same pass, without the cancellation of
    // raw sums of squares.
    const shift = column.count > 0 ? column.mean : (values[firstAt] as number);
    let count = 0;
    let sum = 0;
    let squares = 0;
    let min = Infinity;
    let max = -Infinity;
    let ones = 0;
    let zeros = 0;
    for (let i = firstAt; i < rows; i++) {
      const x = values[i] as number;
      if (x !== x) continue;
      if (x - x !== 0) {
        throw invalid(
          `column "${column.name}" has ${x} at row ${this.rows + i + 1}; use a finite number or leave it empty (missing)`,
        );
      }
      const d = x - shift;
      count++;
      sum += d;
      squares += d * d;
      if (x < min) min = x;
      if (x > max) max = x;
      if (x === 1) ones++;
      else if (x === 0) zeros++;
    }
    if (column.type !== "number") {
      const at = `row ${this.rows + firstAt + 1}`;
      if (column.type !== null) {
        throw invalid(
          `column "${column.name}" mixes types: ${column.type} first (${column.firstAt}), then a number at ${at}`,
        );
      }
      this.startColumn(column, "number", at);
    }
    const batchMean = shift + sum / count;
    const batchM2 = Math.max(0, squares - (sum * sum) / count);
    // Chan, Golub and LeVeque's pairwise update: the batch's mean and M2 folded into the column's.
    const total = column.count + count;
    const delta = batchMean - column.mean;
    column.mean += (delta * count) / total;
    column.m2 += batchM2 + (delta * delta * column.count * count) / total;
    column.count = total;
    if (min < column.min) column.min = min;
    if (max > column.max) column.max = max;
    column.ones += ones;
    column.zeros += zeros;
    const finite = count === rows ? values : this.finiteValues(values, rows, count);
    // This loop has checked every value finite and found min and max: the sketch need not again.
    column.sketch?.updateMany(finite, count, { min, max });
    const categories = column.categories;
    if (categories !== null) {
      for (let i = 0; i < count; i++) categories.add(String(finite[i]));
    }
  }

  /** The non-missing values of a column, in order (scratch reused across columns). */
  private finiteValues(values: Float64Array, rows: number, count: number): Float64Array {
    if (this.scratch.length < count) this.scratch = new Float64Array(count);
    let kept = 0;
    for (let i = 0; i < rows; i++) {
      const x = values[i] as number;
      if (x === x) this.scratch[kept++] = x;
    }
    return this.scratch;
  }

  private startColumn(column: Column, type: ValueType, at: string): void {
    const kind = column.kind;
    if (type === "string" && kind !== undefined && kind !== "categorical") {
      throw invalid(`column "${column.name}" is declared ${kind} but holds strings (first at ${at})`);
    }
    column.type = type;
    column.firstAt = at;
    if (type !== "string" && (kind === undefined || kind === "numerical")) {
      column.sketch = new QuantileSketch({ k: this.k, seed: this.columns.size });
    }
    if (kind === "categorical" || (kind === undefined && type === "string")) {
      column.categories = new CategoryFrequencies(this.maxTracked);
    }
  }

  private featureProfile(column: Column): FeatureProfile {
    const common = {
      name: column.name,
      role: column.role,
      count: column.count,
      missing: this.rows - column.count,
    };
    const hasValues = column.count > 0;
    const kind = column.kind ?? inferKind(column);
    if (kind === "categorical") {
      const top = (column.categories ?? new CategoryFrequencies(1)).top(this.maxCategories);
      return { ...common, kind, categories: top.categories, other: top.other, categoryCountError: top.error };
    }
    const mean = hasValues ? column.mean : null;
    const std = hasValues ? Math.sqrt(Math.max(0, column.m2 / column.count)) : null;
    if (kind === "binary") {
      if (column.ones + column.zeros !== column.count) {
        throw invalid(`column "${column.name}" is declared binary but holds values other than 0 and 1`);
      }
      return {
        ...common,
        kind,
        mean,
        std,
        categories: [
          { value: "0", count: column.zeros },
          { value: "1", count: column.ones },
        ],
      };
    }
    const sketch = column.sketch ?? new QuantileSketch({ k: this.k });
    const edges = hasValues ? edgesFromQuantiles((q) => sketch.quantile(q), this.bins) : [];
    const binCounts = new Array<number>(binCountFor(edges.length)).fill(0);
    if (hasValues) {
      const { values, cumulative } = sketch.sortedItems();
      let before = 0;
      for (let i = 0; i < values.length; i++) {
        const bin = numericBin(edges, values[i] as number);
        const weight = (cumulative[i] as number) - before;
        before = cumulative[i] as number;
        // Every retained item lies within [min, max] = [e0, em], so bin is never BELOW or ABOVE.
        if (bin >= 0) binCounts[bin] = (binCounts[bin] as number) + weight;
      }
    }
    return {
      ...common,
      kind,
      mean,
      std,
      min: hasValues ? column.min : null,
      max: hasValues ? column.max : null,
      edges,
      binCounts,
      binsExact: sketch.isExact,
      sketch: sketch.toJSON(),
    };
  }

  private where(i: number, lines: readonly number[] | undefined): string {
    const line = lines?.[i];
    return line !== undefined ? `line ${line}` : `row ${this.rows + 1}`;
  }
}

function inferKind(column: Column): FeatureKind {
  if (column.type === "boolean") return "binary";
  if (column.type === "number") {
    return column.zeros > 0 && column.ones > 0 && column.zeros + column.ones === column.count
      ? "binary"
      : "numerical";
  }
  return "categorical";
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw invalid(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Profiles every batch of an async stream (a file read with `readRowBatches`, say). */
export async function buildProfile(
  batches: AsyncIterable<{ readonly rows: readonly unknown[]; readonly lines?: readonly number[] }>,
  options: ProfileOptions = {},
): Promise<ReferenceProfile> {
  const builder = new ProfileBuilder(options);
  for await (const batch of batches) builder.add(batch.rows, batch.lines);
  return builder.finish();
}
