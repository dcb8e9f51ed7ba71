/**
 * Drift of one window against its reference: binned tests (PSI, chi-square, Jensen–Shannon,
 * Hellinger, z-test) on the window's counts in the reference's bins; KS and Wasserstein on the
 * raw values when both sides have them (offline reports keep them while they fit in memory, see
 * raw-values.ts; a sketch that has not compacted yet holds them too), else from the two KLL
 * sketches. The test per feature comes from the default rule unless the caller names one.
 *
 * Missing values (absent, null, "", NaN) are not a distribution: by default (`missing: "ignore"`)
 * they are left out of every test and reported on their own as `missingShare`, so clients that
 * send only some features do not read as drift. `missing: "drift"` keeps the missing bin in the
 * binned tests, so a change in the missing rate counts as drift.
 *
 * Each result says how it was computed (`method`) and whether it is what the raw data gives
 * (`exact`); `methodLabel` is the one text reports show ("exact", "sketch ±0.03").
 *
 * Error of the sketch-based tests (k = 200, rank error ≤ 3/k = 0.015 per sketch, see
 * quantile-sketch.ts; a side with raw values adds none): the KS statistic D is within the sum
 * of the two sides' errors of the exact D; the p-value is taken at D minus that bound, so sketch
 * noise never reads as drift (a conservative test); the normed Wasserstein distance is within
 * 2·(ε_ref + ε_cur) times the data's range over the reference std (worst case; tested against the
 * exact values). Binned tests are exact on the counts when the reference's counts are (the
 * profile says `binsExact`; category counts always are).
 */
import { invalid } from "../domain/errors.js";
import type { FeatureProfile, ReferenceProfile } from "./profile/reference-profile.js";
import { QuantileSketch, rankErrorBound, DEFAULT_K } from "../math/sketches/quantile-sketch.js";
import type { FeatureWindow, WindowSketch } from "./sketches/feature-window.js";
import { STAT_TESTS, statTest } from "../math/stats/index.js";
import { chooseStatTest } from "../math/stats/default-rule.js";
import { ksPValue, ksStatisticFromCdfs } from "../math/stats/ks.js";
import { wassersteinFromQuantiles } from "../math/stats/wasserstein.js";
import type { RawValueSource } from "./raw-values.js";
import { statResult, type StatResult, type StatTest } from "../math/stats/test.js";
import { datasetDrift, type Correction, type DatasetDrift } from "../math/stats/dataset-drift.js";

/** Quantile steps for the Wasserstein integral: finer than a k = 200 sketch can resolve. */
const WASSERSTEIN_STEPS = 2000;

export interface DriftOptions {
  /** Per-feature test names overriding the default rule. */
  readonly tests?: Readonly<Record<string, string>>;
  /** Per-feature thresholds overriding each test's default. */
  readonly thresholds?: Readonly<Record<string, number>>;
  /** Only these features (default: every input feature of the profile). */
  readonly features?: readonly string[];
  readonly correction?: Correction;
  /** Share of drifted features at which the dataset counts as drifted (default 0.5). */
  readonly share?: number;
  /**
   * "ignore" (default): missing values are left out of the tests and reported as `missingShare`;
   * "drift": the binned tests count the missing bin, so a changed missing rate is drift.
   */
  readonly missing?: MissingPolicy;
}

export const MISSING_POLICIES = ["ignore", "drift"] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];

export interface FeatureDriftResult extends StatResult {
  readonly feature: string;
  readonly featureKind: FeatureProfile["kind"];
  readonly referenceCount: number;
  readonly currentCount: number;
  readonly currentMissing: number;
  /** Share of the window's rows without a value for this feature (0 when the window is empty). */
  readonly missingShare: number;
  /** The same share in the reference. */
  readonly referenceMissingShare: number;
  /**
   * "binned" when computed on counts, "samples" on the raw values of both sides, "sketch" from
   * quantile sketches (one side may be raw values).
   */
  readonly method: "binned" | "samples" | "sketch";
  /** True when the score is what the raw data gives (scipy's value), false when approximate. */
  readonly exact: boolean;
  /** Largest error of the score's statistic due to the sketches (KS: of D), if any. */
  readonly errorBound?: number;
  /** The two distributions in the reference's bins, for plots. */
  readonly bins: { readonly labels: string[]; readonly reference: number[]; readonly current: number[] };
  /** Set when the feature could not be tested (no values in the window). */
  readonly skipped?: string;
}

export interface DriftResult {
  readonly referenceRows: number;
  readonly currentRows: number;
  readonly features: FeatureDriftResult[];
  readonly dataset: DatasetDrift | null;
}

/** Raw values of each side, where they were kept (offline reports); absent: sketches only. */
export interface RawSides {
  readonly reference?: RawValueSource;
  readonly current?: RawValueSource;
}

/** What a report shows for how a row was computed: "exact", "sketch ±0.03", or why it is approximate. */
export function methodLabel(f: Pick<FeatureDriftResult, "method" | "exact" | "errorBound">): string {
  if (f.exact) return "exact";
  if (f.method === "sketch") return `sketch ±${Number((f.errorBound ?? 0).toPrecision(2))}`;
  return "approximate (reference bins estimated)";
}

export function evaluateDrift(
  profile: ReferenceProfile,
  window: WindowSketch,
  options: DriftOptions = {},
  raw: RawSides = {},
): DriftResult {
  const names = options.features ?? profile.features.filter((f) => f.role === "input").map((f) => f.name);
  for (const name of Object.keys(options.tests ?? {})) {
    if (!names.includes(name)) throw invalid(`tests: '${name}' is not a feature being evaluated`);
  }
  const features = names.map((name) => {
    const featureWindow = window.feature(name);
    if (featureWindow === undefined) throw invalid(`features: '${name}' is not in the reference profile`);
    const feature = featureWindow.feature;
    const testName =
      options.tests?.[name] ?? chooseStatTest({ kind: feature.kind, referenceSize: feature.count });
    const test = statTest(testName);
    if (!test.appliesTo.includes(feature.kind)) {
      throw invalid(
        `tests.${name}: ${test.name} does not apply to a ${feature.kind} feature; use one of ${Object.values(
          STAT_TESTS,
        )
          .filter((t) => t.appliesTo.includes(feature.kind))
          .map((t) => t.name)
          .join(", ")}`,
      );
    }
    return featureDrift(featureWindow, test, options.thresholds?.[name], raw, options.missing ?? "ignore");
  });
  const tested = features.filter((f) => f.skipped === undefined);
  return {
    referenceRows: profile.rows,
    currentRows: window.rows,
    features,
    dataset:
      tested.length === 0
        ? null
        : datasetDrift(
            tested.map((f) => ({ feature: f.feature, result: f })),
            { correction: options.correction, share: options.share },
          ),
  };
}

function featureDrift(
  window: FeatureWindow,
  test: StatTest,
  threshold: number | undefined,
  raw: RawSides,
  missing: MissingPolicy,
): FeatureDriftResult {
  const feature = window.feature;
  const reference = Array.from(window.referenceCounts());
  const current = Array.from(window.binnedCounts());
  const labels = window.binLabels();
  const currentMissing = window.missing;
  const seen = window.count;
  const referenceSeen = feature.count + feature.missing;
  const base = {
    feature: feature.name,
    featureKind: feature.kind,
    referenceCount: feature.count,
    currentCount: seen - currentMissing,
    currentMissing,
    missingShare: seen === 0 ? 0 : currentMissing / seen,
    referenceMissingShare: referenceSeen === 0 ? 0 : feature.missing / referenceSeen,
    bins: { labels, reference, current },
  };
  // Nothing to compare: the test's "no drift" value, with the reason.
  const skipped = (reason: string): FeatureDriftResult => ({
    ...base,
    ...statResult(test, test.kind === "p_value" ? 1 : 0, threshold),
    drifted: false,
    method: "binned",
    exact: true,
    skipped: reason,
  });
  if (base.currentCount === 0) return skipped("no values in the window");
  if (test.input === "binned") {
    const counted = missing === "drift" ? { reference, current } : withoutMissing(reference, current);
    if (sum(counted.reference) === 0) return skipped("no values in the reference");
    const pair = test.name === "z-test" ? binaryPair(counted.reference, counted.current) : counted;
    // Category counts are always exact; numerical bins only when the profile counted them.
    const exact = feature.kind !== "numerical" || feature.binsExact;
    return { ...base, ...test.run(pair, threshold), method: "binned", exact };
  }
  const sides = rawSides(window, raw);
  if (sides.reference !== null && sides.current !== null && sides.reference.length > 0) {
    if (sides.current.length === 0) {
      // Values in the window, none of them finite numbers (all text or ±Infinity): nothing to compare.
      const result = statResult(test, test.kind === "p_value" ? 1 : 0, threshold);
      return {
        ...base,
        ...result,
        drifted: false,
        method: "samples",
        exact: true,
        skipped: "no finite values in the window",
      };
    }
    const result = test.run({ reference: sides.reference, current: sides.current }, threshold);
    return { ...base, ...result, method: "samples", exact: true };
  }
  const result = sketchTest(window, test, threshold, sides);
  return { ...base, ...result, method: "sketch", exact: result.errorBound === 0 };
}

/**
 * Each side's raw values: those kept by the caller, or a sketch's own items while it holds every
 * value (not compacted yet); null when only an estimate is left.
 */
function rawSides(
  window: FeatureWindow,
  raw: RawSides,
): { reference: Float64Array | null; current: Float64Array | null } {
  const feature = window.feature;
  if (feature.kind !== "numerical") return { reference: null, current: null };
  const fromSketch = (sketch: QuantileSketch | null): Float64Array | null =>
    sketch !== null && sketch.isExact ? sketch.sortedItems().values : null;
  const referenceSketch = QuantileSketch.fromJSON(feature.sketch, `profile.features.${feature.name}.sketch`);
  return {
    reference: raw.reference?.(feature.name) ?? fromSketch(referenceSketch),
    current: raw.current?.(feature.name) ?? fromSketch(window.sketch),
  };
}

/** The counts with the missing bin (always the last, see feature-window.ts) emptied on both sides. */
function withoutMissing(reference: number[], current: number[]): { reference: number[]; current: number[] } {
  const last = reference.length - 1;
  return {
    reference: reference.map((c, i) => (i === last ? 0 : c)),
    current: current.map((c, i) => (i === last ? 0 : c)),
  };
}

function sum(counts: readonly number[]): number {
  return counts.reduce((a, b) => a + b, 0);
}

/** The z-test takes [zeros, ones]: missing and unseen values are left out of the proportions. */
function binaryPair(reference: number[], current: number[]): { reference: number[]; current: number[] } {
  return { reference: reference.slice(0, 2), current: current.slice(0, 2) };
}

function sketchTest(
  window: FeatureWindow,
  test: StatTest,
  threshold: number | undefined,
  sides: { reference: Float64Array | null; current: Float64Array | null },
): StatResult & { errorBound: number } {
  const feature = window.feature;
  if (feature.kind !== "numerical" || window.sketch === null) {
    throw invalid(`${test.name} needs a numerical feature; '${feature.name}' is ${feature.kind}`);
  }
  // A side with raw values answers exactly; only the other side's sketch adds error.
  const referenceSketch = QuantileSketch.fromJSON(feature.sketch, `profile.features.${feature.name}.sketch`);
  const reference: Distribution =
    sides.reference !== null && sides.reference.length > 0
      ? new EmpiricalDistribution(sides.reference)
      : referenceSketch;
  const current: Distribution =
    sides.current !== null && sides.current.length > 0
      ? new EmpiricalDistribution(sides.current)
      : window.sketch;
  const bound = rankErrorBound(DEFAULT_K);
  if (test.name === "ks") {
    const points = mergedPoints(reference, current);
    const d = ksStatisticFromCdfs(
      points,
      (x) => reference.cdf(x),
      (x) => current.cdf(x),
    );
    const n1 = reference.count;
    const n2 = current.count;
    const errorBound = (reference.isExact ? 0 : bound) + (current.isExact ? 0 : bound);
    // At large n a p-value resolves a D far below the sketches' error, so noise would read as
    // drift: the p-value is taken at the smallest D the sketches allow (conservative).
    const p = ksPValue(Math.max(0, d - errorBound), n1, n2);
    return {
      ...statResult(test, p, threshold, { statistic: d, conservativeStatistic: Math.max(0, d - errorBound) }),
      errorBound,
    };
  }
  if (test.name === "wasserstein") {
    const distance = wassersteinFromQuantiles(
      (q) => reference.quantile(q),
      (q) => current.quantile(q),
      WASSERSTEIN_STEPS,
    );
    const std = feature.std ?? 0;
    const scale = std > 0 ? std : Math.max(Math.abs(feature.mean ?? 0), 1);
    // With rank error ε, Q̂(q) lies between Q(q-ε) and Q(q+ε), and ∫|Q(q+ε) - Q(q-ε)| dq
    // telescopes to at most 2ε·(max - min): a worst-case bound, loose for long-tailed data.
    const range = Math.max(reference.max, current.max) - Math.min(reference.min, current.min);
    const errorBound =
      (2 * ((reference.isExact ? 0 : bound) + (current.isExact ? 0 : bound)) * range) / scale;
    return { ...statResult(test, distance / scale, threshold, { distance, scale }), errorBound };
  }
  throw invalid(`${test.name} has no sketch-based form; use ks or wasserstein for numerical features`);
}

/** What the sketch-based tests read of a side: a quantile sketch, or the raw values themselves. */
interface Distribution {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly isExact: boolean;
  cdf(x: number): number;
  quantile(q: number): number;
  sortedItems(): { readonly values: Float64Array };
}

/** The empirical distribution of raw values: the same answers a sketch gives while it is exact. */
class EmpiricalDistribution implements Distribution {
  private readonly sorted: Float64Array;
  readonly isExact = true;

  constructor(values: Float64Array) {
    this.sorted = Float64Array.from(values).sort();
  }

  get count(): number {
    return this.sorted.length;
  }

  get min(): number {
    return this.sorted[0] as number;
  }

  get max(): number {
    return this.sorted[this.sorted.length - 1] as number;
  }

  /** Share of values ≤ x. */
  cdf(x: number): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo / this.sorted.length;
  }

  /** The smallest value whose share of values at or below it reaches q (as the sketch's quantile). */
  quantile(q: number): number {
    const n = this.sorted.length;
    return this.sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  }

  sortedItems(): { readonly values: Float64Array } {
    return { values: this.sorted };
  }
}

/** Every value either side retains: the points where either empirical CDF can jump. */
function mergedPoints(a: Distribution, b: Distribution): Float64Array {
  const x = a.sortedItems().values;
  const y = b.sortedItems().values;
  const out = new Float64Array(x.length + y.length);
  out.set(x);
  out.set(y, x.length);
  return out;
}
