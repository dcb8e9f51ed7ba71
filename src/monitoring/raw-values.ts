/**
 * The raw values of numerical features, kept while they fit in memory, so that offline drift
 * (files, prediction-log periods) runs KS and Wasserstein on the data itself, as scipy would,
 * instead of on quantile sketches.
 *
 * Each feature keeps at most `limit` values; one more and that feature's values are let go (the
 * sketch, which every window also keeps, then answers, with its error bound). The limit is per
 * feature because a test needs all of one feature's values or none of them.
 *
 * The values kept are the ones a window's quantile sketch takes (see feature-window.ts): finite
 * numbers, and booleans as 0 and 1. Missing values, ±Infinity and text are left out, as there.
 */
import { invalid } from "../domain/errors.js";
import type { FeatureProfile } from "./profile/reference-profile.js";

/** About 8 MB per feature and side: a file or a week of one deployment's log fits. */
export const DEFAULT_MAX_EXACT_ROWS = 1_000_000;

/** Raw values per feature; null when the feature had more values than the limit (or is not numerical). */
export type RawValueSource = (feature: string) => Float64Array | null;

class Column {
  private values = new Float64Array(64);
  size = 0;
  overflowed = false;

  push(x: number, limit: number): void {
    if (this.overflowed) return;
    if (this.size === limit) {
      this.overflowed = true;
      this.values = new Float64Array(0);
      return;
    }
    if (this.size === this.values.length) {
      const grown = new Float64Array(Math.min(limit, this.values.length * 2));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = x;
  }

  view(): Float64Array | null {
    return this.overflowed ? null : this.values.subarray(0, this.size);
  }
}

export class RawValues {
  private readonly columns = new Map<string, Column>();

  constructor(
    features: readonly FeatureProfile[],
    private readonly limit: number = DEFAULT_MAX_EXACT_ROWS,
  ) {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw invalid(`maxExactRows must be a whole number ≥ 0, got ${limit}`);
    }
    for (const f of features) if (f.kind === "numerical") this.columns.set(f.name, new Column());
  }

  /** Keeps the row's numerical values (a feature absent from the row is missing: nothing kept). */
  addRow(row: Readonly<Record<string, unknown>>): void {
    for (const [name, column] of this.columns) {
      const value = row[name];
      if (typeof value === "number") {
        if (value - value === 0) column.push(value, this.limit);
      } else if (typeof value === "boolean") column.push(value ? 1 : 0, this.limit);
    }
  }

  /** The values kept for a feature, in arrival order; null past the limit or for other kinds. */
  values(feature: string): Float64Array | null {
    return this.columns.get(feature)?.view() ?? null;
  }

  readonly source: RawValueSource = (feature) => this.values(feature);
}
