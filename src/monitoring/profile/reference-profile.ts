/**
 * A reference profile: what each feature (and each model output) looked like in the data a
 * model version was trained or validated on. Windows of live traffic are compared against it.
 *
 * Per feature, `count` is the number of non-missing values and `missing` the number of missing
 * ones (null, undefined, "", NaN, or the column absent from a row), so count + missing = rows.
 *
 * Numerical features carry bin edges e0 < e1 < … < em from the reference quantiles: m bins
 * [e0, e1), …, [e(m-1), em] (the last one closed). A constant column has one edge and one bin,
 * [e0, e0]. A column with no values at all has no edges and no bins. `binCounts` holds the
 * reference values per bin; they are exact when `binsExact` is true, otherwise the quantile
 * sketch's estimate (see profile-builder.ts).
 *
 * Categorical and binary features carry category counts. Binary categories are always "0" and
 * "1" (booleans become 0 and 1). Categorical ones keep the most frequent categories; `other`
 * counts the rest (the "__other__" bin).
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { QuantileSketch, type QuantileSketchJSON } from "../../math/sketches/quantile-sketch.js";
import { parseProfileCalibration, type ProfileCalibration } from "./calibration.js";

import { FEATURE_KINDS, type FeatureKind } from "../../math/stats/test.js";
export { FEATURE_KINDS, type FeatureKind };

/** Inputs the model reads, or outputs it produced (for prediction drift). */
export const FEATURE_ROLES = ["input", "output"] as const;
export type FeatureRole = (typeof FEATURE_ROLES)[number];

export const OTHER_CATEGORY = "__other__";

export interface CategoryCount {
  readonly value: string;
  readonly count: number;
}

interface FeatureProfileCommon {
  readonly name: string;
  readonly role: FeatureRole;
  readonly count: number;
  readonly missing: number;
}

export interface NumericalFeatureProfile extends FeatureProfileCommon {
  readonly kind: "numerical";
  /** null when the column has no values. `std` is the population standard deviation. */
  readonly mean: number | null;
  readonly std: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly edges: number[];
  readonly binCounts: number[];
  readonly binsExact: boolean;
  readonly sketch: QuantileSketchJSON;
}

export interface CategoricalFeatureProfile extends FeatureProfileCommon {
  readonly kind: "categorical";
  /** Most frequent first. */
  readonly categories: CategoryCount[];
  /** Values in categories not kept (beyond `maxCategories`). */
  readonly other: number;
  /**
   * 0 when the counts are exact. Otherwise each kept count may be low by up to this much (the
   * builder had to forget rare categories to bound memory); `other` absorbs the difference.
   */
  readonly categoryCountError: number;
}

export interface BinaryFeatureProfile extends FeatureProfileCommon {
  readonly kind: "binary";
  /** The share of 1s, and its population standard deviation; null when the column has no values. */
  readonly mean: number | null;
  readonly std: number | null;
  /** Always [{ value: "0", … }, { value: "1", … }]. */
  readonly categories: CategoryCount[];
}

export type FeatureProfile = NumericalFeatureProfile | CategoricalFeatureProfile | BinaryFeatureProfile;

export interface ReferenceProfile {
  readonly version: 1;
  readonly rows: number;
  readonly features: FeatureProfile[];
  /** Epoch milliseconds. */
  readonly createdAt: number;
  /** Score → P(positive) fitted on the labelled reference, for CBPE (see calibration.ts). */
  readonly calibration?: ProfileCalibration;
}

export function serializeProfile(profile: ReferenceProfile): string {
  return JSON.stringify(profile);
}

/** Parses and validates a profile; every error names the field that is wrong. */
export function parseProfile(text: string): ReferenceProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`reference profile is not valid JSON: ${(error as Error).message}`);
  }
  return validateProfile(json);
}

export function validateProfile(json: unknown): ReferenceProfile {
  if (!isPlainObject(json)) throw invalid("reference profile must be a JSON object");
  if (json.version !== 1) {
    throw invalid(`profile.version must be 1, got ${JSON.stringify(json.version)}`, { field: "version" });
  }
  const rows = count(json.rows, "profile.rows");
  if (rows < 1) throw invalid("profile.rows must be at least 1", { field: "rows" });
  const createdAt = count(json.createdAt, "profile.createdAt");
  if (!Array.isArray(json.features))
    throw invalid("profile.features must be an array", { field: "features" });
  const names = new Set<string>();
  const features = json.features.map((feature: unknown, i) => {
    const parsed = validateFeature(feature, `profile.features[${i}]`, rows);
    if (names.has(parsed.name)) throw invalid(`profile.features[${i}].name "${parsed.name}" appears twice`);
    names.add(parsed.name);
    return parsed;
  });
  const calibration =
    json.calibration === undefined ? {} : { calibration: parseProfileCalibration(json.calibration) };
  return { version: 1, rows, features, createdAt, ...calibration };
}

function validateFeature(json: unknown, at: string, rows: number): FeatureProfile {
  if (!isPlainObject(json)) throw invalid(`${at} must be an object`);
  const name = json.name;
  if (typeof name !== "string" || name === "") throw invalid(`${at}.name must be a non-empty string`);
  const kind = oneOf(json.kind, FEATURE_KINDS, `${at}.kind`);
  const role = oneOf(json.role, FEATURE_ROLES, `${at}.role`);
  const valueCount = count(json.count, `${at}.count`);
  const missing = count(json.missing, `${at}.missing`);
  if (valueCount + missing !== rows) {
    throw invalid(`${at}: count + missing must equal profile.rows (${rows}), got ${valueCount} + ${missing}`);
  }
  const common = { name, role, count: valueCount, missing };
  if (kind === "numerical") {
    const stats = {
      mean: statistic(json.mean, `${at}.mean`, valueCount),
      std: statistic(json.std, `${at}.std`, valueCount),
      min: statistic(json.min, `${at}.min`, valueCount),
      max: statistic(json.max, `${at}.max`, valueCount),
    };
    const edges = numbers(json.edges, `${at}.edges`);
    for (let i = 1; i < edges.length; i++) {
      if (!((edges[i] ?? 0) > (edges[i - 1] ?? 0))) throw invalid(`${at}.edges must be strictly increasing`);
    }
    if ((valueCount === 0) !== (edges.length === 0)) {
      throw invalid(`${at}.edges must be empty exactly when the feature has no values`);
    }
    const binCounts = numbers(json.binCounts, `${at}.binCounts`);
    const bins = edges.length === 0 ? 0 : Math.max(1, edges.length - 1);
    if (binCounts.length !== bins) throw invalid(`${at}.binCounts must have ${bins} entries (one per bin)`);
    binCounts.forEach((c, i) => count(c, `${at}.binCounts[${i}]`));
    if (sum(binCounts) !== valueCount)
      throw invalid(`${at}.binCounts must sum to ${at}.count (${valueCount})`);
    if (typeof json.binsExact !== "boolean") throw invalid(`${at}.binsExact must be true or false`);
    const sketch = QuantileSketch.fromJSON(json.sketch, `${at}.sketch`);
    if (sketch.count !== valueCount)
      throw invalid(`${at}.sketch must hold ${at}.count (${valueCount}) values`);
    return {
      ...common,
      kind,
      ...stats,
      edges,
      binCounts,
      binsExact: json.binsExact,
      sketch: sketch.toJSON(),
    };
  }
  const categories = categoryCounts(json.categories, `${at}.categories`);
  if (kind === "binary") {
    if (categories.length !== 2 || categories[0]?.value !== "0" || categories[1]?.value !== "1") {
      throw invalid(`${at}.categories of a binary feature must be "0" then "1"`);
    }
    if (sum(categories.map((c) => c.count)) !== valueCount) {
      throw invalid(`${at}.categories must sum to ${at}.count (${valueCount})`);
    }
    return {
      ...common,
      kind,
      mean: statistic(json.mean, `${at}.mean`, valueCount),
      std: statistic(json.std, `${at}.std`, valueCount),
      categories,
    };
  }
  const other = count(json.other, `${at}.other`);
  if (sum(categories.map((c) => c.count)) + other !== valueCount) {
    throw invalid(`${at}.categories and ${at}.other must sum to ${at}.count (${valueCount})`);
  }
  const categoryCountError = count(json.categoryCountError, `${at}.categoryCountError`);
  return { ...common, kind, categories, other, categoryCountError };
}

function categoryCounts(json: unknown, at: string): CategoryCount[] {
  if (!Array.isArray(json)) throw invalid(`${at} must be an array`);
  const seen = new Set<string>();
  return json.map((entry: unknown, i) => {
    if (!isPlainObject(entry) || typeof entry.value !== "string") {
      throw invalid(`${at}[${i}] must be an object with a string value and a count`);
    }
    if (seen.has(entry.value) || entry.value === OTHER_CATEGORY) {
      throw invalid(`${at}[${i}].value "${entry.value}" is repeated or reserved`);
    }
    seen.add(entry.value);
    return { value: entry.value, count: count(entry.count, `${at}[${i}].count`) };
  });
}

function count(value: unknown, at: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${at} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A finite number when the feature has values, null when it has none. */
function statistic(value: unknown, at: string, valueCount: number): number | null {
  if (valueCount === 0) {
    if (value !== null) throw invalid(`${at} must be null when the feature has no values`);
    return null;
  }
  if (typeof value !== "number" || !Number.isFinite(value)) throw invalid(`${at} must be a finite number`);
  return value;
}

function numbers(value: unknown, at: string): number[] {
  if (!Array.isArray(value) || !value.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw invalid(`${at} must be an array of finite numbers`);
  }
  return value as number[];
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], at: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`${at} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
