/**
 * The window sketch of one feature: live values counted in the reference profile's bins, plus
 * four bins the reference cannot have, and (numerical features) a KLL sketch of the raw values
 * for the distribution-shape tests (KS, Wasserstein). Memory is fixed by the profile and k, not
 * by how many values the window has seen. Windows merge by adding counts and merging sketches,
 * which is associative and commutative, so windows combine into longer ones and replicas into one.
 *
 * Bin order, the same in `binnedCounts()`, `referenceCounts()` and `binLabels()`:
 *   numerical: the reference bins (see numeric-bins.ts); binary: "0", "1";
 *   categorical: the reference's categories, then "__other__";
 *   then "__below__" (x < first edge), "__above__" (x > last edge), "__unseen__", "__missing__".
 *
 * Where values go:
 *   - missing (null, undefined, "", NaN, the column absent): "__missing__".
 *   - numerical: ±Infinity go to below/above (and not into the quantile sketch); a value that is
 *     not a number (a string, say) to "__unseen__", as does every value when the reference had no
 *     values at all. Booleans count as 0 and 1.
 *   - binary: 1/true to "1", 0/false to "0", anything else to "__unseen__".
 *   - categorical: numbers and booleans by their text. A category the reference never kept goes
 *     to "__other__" when the reference had an other bin (it may be one of the rare categories
 *     the profile did not keep), and to "__unseen__" otherwise.
 *
 * The reference counts put the reference's missing values in "__missing__"; below, above and
 * unseen are 0. Whether the missing bin takes part in the tests is the caller's choice (drift.ts:
 * by default it does not, and the missing share is reported on its own).
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { isMissing } from "../profile/feature-value.js";
import { BELOW, BinIndex, binCountFor, numericBin } from "../profile/numeric-bins.js";
import {
  OTHER_CATEGORY,
  type FeatureProfile,
  type FeatureRole,
  type ReferenceProfile,
} from "../profile/reference-profile.js";
import { QuantileSketch, type QuantileSketchJSON } from "../../math/sketches/quantile-sketch.js";

export const EXTRA_BINS = ["__below__", "__above__", "__unseen__", "__missing__"] as const;

export interface FeatureWindowOptions {
  /** Quantile sketch parameter (default 200). */
  readonly k?: number;
  /** Seed of the quantile sketch's compaction coin. */
  readonly seed?: number;
}

export interface FeatureWindowJSON {
  readonly feature: string;
  readonly counts: number[];
  readonly sketch: QuantileSketchJSON | null;
}

export class FeatureWindow {
  readonly feature: FeatureProfile;
  private quantiles: QuantileSketch | null;
  private readonly counts: Float64Array;
  private readonly edges: Float64Array;
  private readonly categoryBins: Map<string, number>;
  private readonly referenceBins: number;
  private readonly below: number;
  private readonly above: number;
  private readonly unseen: number;
  private readonly missingBin: number;
  /** Where a category the reference did not keep goes. */
  private readonly unknownCategoryBin: number;
  /** Two windows merge only when their bins are the same. */
  private readonly binning: string;
  private binIndex: BinIndex | null = null;
  /** Min and max of the finite values of the last column binned. */
  private readonly range = new Float64Array(2);
  /** The finite values of a column with NaN or ±Infinity in it, for the quantile sketch. */
  private finite = new Float64Array(0);

  constructor(feature: FeatureProfile, options: FeatureWindowOptions = {}) {
    this.feature = feature;
    this.categoryBins = new Map();
    if (feature.kind === "numerical") {
      this.edges = Float64Array.from(feature.edges);
      this.referenceBins = binCountFor(feature.edges.length);
      this.quantiles = new QuantileSketch(options);
    } else {
      this.edges = new Float64Array(0);
      feature.categories.forEach((c, i) => this.categoryBins.set(c.value, i));
      this.referenceBins = feature.categories.length + (feature.kind === "categorical" ? 1 : 0);
      this.quantiles = null;
    }
    this.below = this.referenceBins;
    this.above = this.referenceBins + 1;
    this.unseen = this.referenceBins + 2;
    this.missingBin = this.referenceBins + 3;
    this.unknownCategoryBin =
      feature.kind === "categorical" && feature.other > 0 ? feature.categories.length : this.unseen;
    this.counts = new Float64Array(this.referenceBins + EXTRA_BINS.length);
    this.binning = JSON.stringify([
      feature.name,
      feature.kind,
      feature.kind === "numerical" ? feature.edges : feature.categories.map((c) => c.value),
    ]);
  }

  /** The raw values' quantile sketch; null for categorical and binary features. */
  get sketch(): QuantileSketch | null {
    return this.quantiles;
  }

  get name(): string {
    return this.feature.name;
  }

  /** Values seen, missing ones included. */
  get count(): number {
    let total = 0;
    for (let i = 0; i < this.counts.length; i++) total += this.counts[i] as number;
    return total;
  }

  get missing(): number {
    return this.counts[this.missingBin] as number;
  }

  /** Counts one value. Never throws: whatever arrives lands in some bin. */
  update(value: unknown): void {
    const kind = this.feature.kind;
    if (kind === "numerical") {
      if (typeof value === "number") this.updateNumber(value);
      else if (typeof value === "boolean") this.updateNumber(value ? 1 : 0);
      else this.bump(value === null || value === undefined || value === "" ? this.missingBin : this.unseen);
      return;
    }
    if (kind === "binary") {
      if (value === 1 || value === true) this.bump(1);
      else if (value === 0 || value === false) this.bump(0);
      else this.bump(isMissing(value) ? this.missingBin : this.unseen);
      return;
    }
    let key: string;
    if (typeof value === "string") key = value;
    else if (typeof value === "boolean" || (typeof value === "number" && value === value))
      key = String(value);
    else {
      this.bump(isMissing(value) ? this.missingBin : this.unseen);
      return;
    }
    this.bump(key === "" ? this.missingBin : (this.categoryBins.get(key) ?? this.unknownCategoryBin));
  }

  /**
   * Counts values[0..count), a column of this feature, exactly as `update` would one by one (NaN is
   * missing). The quantile sketch takes the column in bulk (see QuantileSketch.updateMany).
   */
  updateColumn(values: Float64Array, count = values.length): void {
    if (!Number.isInteger(count) || count < 0 || count > values.length) {
      throw invalid(`count must be an integer from 0 to ${values.length}, got ${count}`);
    }
    if (this.feature.kind !== "numerical") {
      for (let i = 0; i < count; i++) this.update(values[i]);
      return;
    }
    let finite: number;
    if (this.referenceBins === 0) {
      let missing = 0;
      for (let i = 0; i < count; i++) if (values[i] !== values[i]) missing++;
      this.counts[this.missingBin] = (this.counts[this.missingBin] as number) + missing;
      this.counts[this.unseen] = (this.counts[this.unseen] as number) + count - missing;
      finite = -1;
    } else {
      this.binIndex ??= new BinIndex(this.edges);
      const range = this.range;
      finite = this.binIndex.count(
        values,
        count,
        this.counts,
        this.below,
        this.above,
        this.missingBin,
        range,
      );
      // The binning pass found the finite values' min and max: the sketch skips its own pass.
      if (finite === count && count > 0) {
        this.quantiles?.updateMany(values, count, { min: range[0] as number, max: range[1] as number });
        return;
      }
    }
    const sketch = this.quantiles;
    if (sketch === null) return;
    if (finite === count) {
      sketch.updateMany(values, count);
      return;
    }
    if (this.finite.length < count) this.finite = new Float64Array(count);
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const x = values[i] as number;
      if (x - x === 0) this.finite[kept++] = x;
    }
    sketch.updateMany(this.finite, kept);
  }

  /** Counts `count` values absent from a batch (its column missing): all missing. */
  updateMissing(count: number): void {
    this.counts[this.missingBin] = (this.counts[this.missingBin] as number) + count;
  }

  private bump(bin: number): void {
    this.counts[bin] = (this.counts[bin] as number) + 1;
  }

  private updateNumber(x: number): void {
    if (x !== x) {
      this.bump(this.missingBin);
      return;
    }
    if (this.referenceBins === 0) this.bump(this.unseen);
    else {
      const bin = numericBin(this.edges, x);
      this.bump(bin >= 0 ? bin : bin === BELOW ? this.below : this.above);
    }
    if (x - x === 0) this.quantiles?.update(x);
  }

  /** Folds `other` (a window of the same feature against the same reference) into this one. */
  merge(other: FeatureWindow): this {
    if (other.binning !== this.binning) {
      throw invalid(`cannot merge windows of "${this.name}" built against different references`);
    }
    const incoming = other === this ? this.counts.slice() : other.counts;
    for (let i = 0; i < this.counts.length; i++)
      this.counts[i] = (this.counts[i] as number) + (incoming[i] as number);
    if (this.quantiles !== null && other.quantiles !== null) this.quantiles.merge(other.quantiles);
    return this;
  }

  /** Live counts: reference bins, then below, above, unseen, missing. */
  binnedCounts(): number[] {
    return Array.from(this.counts);
  }

  /** The reference's counts in the same order (its missing values in the missing bin). */
  referenceCounts(): number[] {
    const feature = this.feature;
    const bins =
      feature.kind === "numerical"
        ? feature.binCounts
        : feature.kind === "binary"
          ? feature.categories.map((c) => c.count)
          : [...feature.categories.map((c) => c.count), feature.other];
    return [...bins, 0, 0, 0, feature.missing];
  }

  /** A label per bin, in the same order: "[e0, e1)" ranges, category values, then the extra bins. */
  binLabels(): string[] {
    const feature = this.feature;
    let labels: string[];
    if (feature.kind === "numerical") {
      const e = feature.edges;
      labels =
        e.length === 1
          ? [`[${e[0]}, ${e[0]}]`]
          : e.slice(1).map((hi, i) => `[${e[i]}, ${hi}${i === e.length - 2 ? "]" : ")"}`);
    } else {
      labels = feature.categories.map((c) => c.value);
      if (feature.kind === "categorical") labels.push(OTHER_CATEGORY);
    }
    return [...labels, ...EXTRA_BINS];
  }

  toJSON(): FeatureWindowJSON {
    return { feature: this.name, counts: this.binnedCounts(), sketch: this.quantiles?.toJSON() ?? null };
  }

  static fromJSON(feature: FeatureProfile, json: unknown, field = "window"): FeatureWindow {
    if (!isPlainObject(json)) throw invalid(`${field} must be an object`);
    if (json.feature !== feature.name) {
      throw invalid(`${field}.feature must be "${feature.name}", got ${JSON.stringify(json.feature)}`);
    }
    const counts = json.counts;
    const window = new FeatureWindow(feature);
    if (
      !Array.isArray(counts) ||
      counts.length !== window.counts.length ||
      !counts.every((c) => typeof c === "number" && Number.isSafeInteger(c) && c >= 0)
    ) {
      throw invalid(`${field}.counts must be ${window.counts.length} non-negative integers`);
    }
    window.counts.set(counts as number[]);
    if (window.quantiles === null) {
      if (json.sketch !== null) throw invalid(`${field}.sketch must be null for a ${feature.kind} feature`);
      return window;
    }
    const sketch = QuantileSketch.fromJSON(json.sketch, `${field}.sketch`);
    if (sketch.count > window.count) throw invalid(`${field}.sketch holds more values than ${field}.counts`);
    window.quantiles = sketch;
    return window;
  }
}

export interface WindowSketchOptions extends FeatureWindowOptions {
  /** Only features with this role (inputs, or model outputs); default all. */
  readonly role?: FeatureRole;
}

export interface WindowSketchJSON {
  readonly rows: number;
  readonly features: FeatureWindowJSON[];
}

/** One window over all features of a profile (or all of one role). */
export class WindowSketch {
  readonly profile: ReferenceProfile;
  private windows: FeatureWindow[];
  private rowCount = 0;

  constructor(profile: ReferenceProfile, options: WindowSketchOptions = {}) {
    this.profile = profile;
    const seed = options.seed ?? 0;
    this.windows = profile.features
      .filter((f) => options.role === undefined || f.role === options.role)
      .map((f, i) => new FeatureWindow(f, { k: options.k ?? 200, seed: (seed + i) >>> 0 }));
  }

  get features(): readonly FeatureWindow[] {
    return this.windows;
  }

  get rows(): number {
    return this.rowCount;
  }

  feature(name: string): FeatureWindow | undefined {
    return this.features.find((f) => f.name === name);
  }

  /** Counts one row; a feature absent from the row counts as missing. */
  updateRow(row: Readonly<Record<string, unknown>>): void {
    const features = this.windows;
    for (let i = 0; i < features.length; i++) {
      const window = features[i] as FeatureWindow;
      window.update(row[window.name]);
    }
    this.rowCount++;
  }

  /**
   * Counts a batch of `rows` rows given as columns (a Float64Array per feature, NaN for missing);
   * the same counts as `updateRow` on each row. A feature with no column counts as missing.
   */
  updateColumns(columns: Readonly<Record<string, Float64Array>>, rows: number): void {
    if (!Number.isSafeInteger(rows) || rows < 0)
      throw invalid(`rows must be a non-negative integer, got ${rows}`);
    for (const window of this.windows) {
      const column = Object.hasOwn(columns, window.name) ? columns[window.name] : undefined;
      if (column !== undefined && column.length < rows) {
        throw invalid(`column "${window.name}" has ${column.length} values, fewer than the ${rows} rows`);
      }
    }
    for (const window of this.windows) {
      const column = Object.hasOwn(columns, window.name) ? columns[window.name] : undefined;
      if (column === undefined) window.updateMissing(rows);
      else window.updateColumn(column, rows);
    }
    this.rowCount += rows;
  }

  merge(other: WindowSketch): this {
    if (other.features.length !== this.features.length) {
      throw invalid("cannot merge window sketches over different sets of features");
    }
    const otherRows = other.rowCount;
    this.features.forEach((window, i) => window.merge(other.features[i] as FeatureWindow));
    this.rowCount += otherRows;
    return this;
  }

  toJSON(): WindowSketchJSON {
    return { rows: this.rowCount, features: this.features.map((f) => f.toJSON()) };
  }

  static fromJSON(profile: ReferenceProfile, json: unknown, options: WindowSketchOptions = {}): WindowSketch {
    if (!isPlainObject(json)) throw invalid("window sketch must be an object");
    const rows = json.rows;
    if (typeof rows !== "number" || !Number.isSafeInteger(rows) || rows < 0) {
      throw invalid("window.rows must be a non-negative integer");
    }
    const sketch = new WindowSketch(profile, options);
    const features = json.features;
    if (!Array.isArray(features) || features.length !== sketch.features.length) {
      throw invalid(`window.features must hold ${sketch.features.length} feature windows`);
    }
    const restored = sketch.features.map((f, i) =>
      FeatureWindow.fromJSON(f.feature, features[i], `window.features[${i}]`),
    );
    sketch.windows = restored;
    sketch.rowCount = rows;
    return sketch;
  }
}
