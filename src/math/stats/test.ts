/**
 * What a drift test is. Each test lives in its own file and is registered in `index.ts` with its
 * kind and default threshold (Evidently's stattests folder is the precedent).
 */
import { invalid } from "../../domain/errors.js";

/** A p-value test reports drift when the p-value falls below the threshold; a distance when it reaches it. */
export type StatKind = "distance" | "p_value";
/** The kinds a reference profile assigns to features; tests declare which they apply to. */
export const FEATURE_KINDS = ["numerical", "categorical", "binary"] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/**
 * Two aligned histograms: counts per bin, same bins, same order (bins may include below-range,
 * above-range, unseen-category and missing bins).
 */
export interface BinnedPair {
  readonly reference: ArrayLike<number>;
  readonly current: ArrayLike<number>;
}

/** Two exact samples (sorted ascending is NOT assumed). */
export interface SamplePair {
  readonly reference: ArrayLike<number>;
  readonly current: ArrayLike<number>;
}

export interface StatResult {
  /** Which test produced this result (its registered name). */
  readonly test: string;
  /** The p-value for p-value tests, the distance for distance tests. Never NaN. */
  readonly score: number;
  readonly drifted: boolean;
  readonly threshold: number;
  readonly kind: StatKind;
  /** Test-specific numbers behind the score (the KS statistic, chi-square degrees of freedom, the log base…). */
  readonly detail?: Readonly<Record<string, number | string>>;
}

interface StatTestInfo {
  readonly name: string;
  readonly kind: StatKind;
  readonly defaultThreshold: number;
  readonly appliesTo: readonly FeatureKind[];
  /** One line for reports and `--help`. */
  readonly description: string;
}

export interface BinnedStatTest extends StatTestInfo {
  readonly input: "binned";
  run(pair: BinnedPair, threshold?: number): StatResult;
}

export interface SampleStatTest extends StatTestInfo {
  readonly input: "samples";
  run(pair: SamplePair, threshold?: number): StatResult;
}

export type StatTest = BinnedStatTest | SampleStatTest;

/** p-value tests: drifted = p < threshold. Distances: drifted = distance >= threshold. */
export function isDrifted(kind: StatKind, score: number, threshold: number): boolean {
  return kind === "p_value" ? score < threshold : score >= threshold;
}

/** The threshold to use: the caller's (checked) or the test's default. */
export function thresholdFor(
  test: { readonly name: string; readonly kind: StatKind; readonly defaultThreshold: number },
  threshold: number | undefined,
): number {
  if (threshold === undefined) return test.defaultThreshold;
  if (!Number.isFinite(threshold) || threshold < 0 || (test.kind === "p_value" && threshold > 1)) {
    throw invalid(
      `${test.name}: threshold ${threshold} is out of range; use ${test.kind === "p_value" ? "a p-value in [0, 1]" : "a finite distance >= 0"}`,
      { test: test.name, threshold },
    );
  }
  return threshold;
}

export function statResult(
  test: { readonly name: string; readonly kind: StatKind; readonly defaultThreshold: number },
  score: number,
  threshold: number | undefined,
  detail?: Record<string, number | string>,
): StatResult {
  const t = thresholdFor(test, threshold);
  const base = {
    test: test.name,
    score,
    drifted: isDrifted(test.kind, score, t),
    threshold: t,
    kind: test.kind,
  };
  return detail === undefined ? base : { ...base, detail };
}
