/**
 * The second pass of a two-pass profile: the reference read again and counted in the bins the
 * first pass chose, so `binCounts` are exact (`binsExact: true`) however many rows there were,
 * rather than the quantile sketch's estimate. Memory is the bins, not the rows.
 *
 * The second pass must see the same data as the first; a different row count, or values outside
 * the first pass's range or in different number, is refused rather than producing counts that
 * disagree with the rest of the profile.
 */
import { invalid } from "../../domain/errors.js";
import { BinIndex, binCountFor } from "./numeric-bins.js";
import type { ReferenceProfile } from "./reference-profile.js";

interface Counter {
  readonly name: string;
  readonly index: BinIndex;
  /** The bins, then below, above and missing. */
  readonly counts: Float64Array;
}

export class ExactBinCounts {
  private readonly counters: Counter[];
  private rows = 0;

  constructor(readonly profile: ReferenceProfile) {
    this.counters = profile.features.flatMap((feature) =>
      feature.kind === "numerical" && feature.edges.length > 0
        ? [
            {
              name: feature.name,
              index: new BinIndex(feature.edges),
              counts: new Float64Array(binCountFor(feature.edges.length) + 3),
            },
          ]
        : [],
    );
  }

  /** Counts a batch given as columns, as ProfileBuilder.addColumns took it (NaN for missing). */
  addColumns(columns: Readonly<Record<string, Float64Array>>, rows: number): void {
    if (!Number.isSafeInteger(rows) || rows < 0)
      throw invalid(`rows must be a non-negative integer, got ${rows}`);
    for (const counter of this.counters) {
      const values = Object.hasOwn(columns, counter.name) ? columns[counter.name] : undefined;
      const bins = counter.counts.length - 3;
      if (values === undefined) {
        counter.counts[bins + 2] = (counter.counts[bins + 2] as number) + rows;
        continue;
      }
      if (values.length < rows) {
        throw invalid(`column "${counter.name}" has ${values.length} values, fewer than the ${rows} rows`);
      }
      counter.index.count(values, rows, counter.counts, bins, bins + 1, bins + 2);
    }
    this.rows += rows;
  }

  /** The profile with exact bin counts; throws when the second pass saw other data. */
  finish(): ReferenceProfile {
    if (this.rows !== this.profile.rows) {
      throw invalid(`the second pass read ${this.rows} rows, the profile has ${this.profile.rows}`);
    }
    const byName = new Map(this.counters.map((c) => [c.name, c]));
    const features = this.profile.features.map((feature) => {
      const counter = byName.get(feature.name);
      if (counter === undefined || feature.kind !== "numerical") return feature;
      const bins = counter.counts.length - 3;
      const binCounts = Array.from(counter.counts.subarray(0, bins));
      const inBins = binCounts.reduce((a, b) => a + b, 0);
      if (inBins !== feature.count || counter.counts[bins] !== 0 || counter.counts[bins + 1] !== 0) {
        throw invalid(
          `column "${feature.name}": the second pass saw different values than the first (${inBins} in range, profile has ${feature.count})`,
        );
      }
      return { ...feature, binCounts, binsExact: true };
    });
    return { ...this.profile, features };
  }
}
