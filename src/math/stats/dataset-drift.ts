/**
 * Dataset-level drift: the share of features that drifted, compared with a share threshold
 * (Evidently's default 0.5: the dataset drifted when at least half its features did).
 *
 * With many p-value tests some reject by chance, so their p-values can be adjusted first
 * (distance tests are left as they are):
 * - "bonferroni": p_adj = min(1, m·p), m = number of p-value tests;
 * - "benjamini-hochberg": with p sorted ascending, p_adj(i) = min over j >= i of m·p(j)/j, capped at 1
 *   (the step-up adjusted p-values of statsmodels' multipletests(method="fdr_bh")).
 * A feature then drifted when p_adj < its threshold (the same strict rule as unadjusted p-values).
 */
import { invalid } from "../../domain/errors.js";
import { isDrifted, type StatKind, type StatResult } from "./test.js";

export type Correction = "none" | "bonferroni" | "benjamini-hochberg";

export interface FeatureResult {
  readonly feature: string;
  readonly result: StatResult;
}

export interface FeatureDrift {
  readonly feature: string;
  readonly test: string;
  readonly kind: StatKind;
  /** The test's own score (unadjusted). */
  readonly score: number;
  /** The score the verdict used: the adjusted p-value under a correction, else the score. */
  readonly adjustedScore: number;
  readonly threshold: number;
  readonly drifted: boolean;
}

export interface DatasetDrift {
  readonly features: readonly FeatureDrift[];
  readonly driftedCount: number;
  readonly share: number;
  readonly shareThreshold: number;
  readonly correction: Correction;
  readonly drifted: boolean;
}

export interface DatasetDriftOptions {
  /** Share of drifted features at or above which the dataset counts as drifted (default 0.5). */
  readonly share?: number;
  readonly correction?: Correction;
}

/** Bonferroni-adjusted p-values, in input order. */
export function bonferroni(pValues: readonly number[]): number[] {
  return pValues.map((p) => Math.min(1, p * pValues.length));
}

/** Benjamini–Hochberg adjusted p-values, in input order. */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => (pValues[a] as number) - (pValues[b] as number));
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const index = order[rank - 1] as number;
    running = Math.min(running, ((pValues[index] as number) * m) / rank);
    adjusted[index] = running;
  }
  return adjusted;
}

const CORRECTIONS: Readonly<Record<Correction, (p: readonly number[]) => number[]>> = {
  none: (p) => [...p],
  bonferroni,
  "benjamini-hochberg": benjaminiHochberg,
};

export function datasetDrift(
  results: readonly FeatureResult[],
  options: DatasetDriftOptions = {},
): DatasetDrift {
  const shareThreshold = options.share ?? 0.5;
  const correction = options.correction ?? "none";
  if (results.length === 0) throw invalid("dataset drift needs at least one feature result");
  if (!(shareThreshold >= 0 && shareThreshold <= 1)) {
    throw invalid(`dataset drift share must be in [0, 1], got ${shareThreshold}`);
  }
  const adjust = Object.hasOwn(CORRECTIONS, correction) ? CORRECTIONS[correction] : undefined;
  if (adjust === undefined) {
    throw invalid(`unknown correction "${String(correction)}"; use none, bonferroni or benjamini-hochberg`);
  }
  for (const { feature, result } of results) {
    if (!Number.isFinite(result.score) && !(result.kind === "distance" && result.score === Infinity)) {
      throw invalid(`feature "${feature}" has score ${result.score}; every score must be a number`);
    }
  }
  const pIndexes = results.flatMap((r, i) => (r.result.kind === "p_value" ? [i] : []));
  const adjusted = adjust(pIndexes.map((i) => (results[i] as FeatureResult).result.score));
  const adjustedByIndex = new Map(pIndexes.map((index, k) => [index, adjusted[k] as number]));

  const features = results.map(({ feature, result }, i): FeatureDrift => {
    const adjustedScore = adjustedByIndex.get(i) ?? result.score;
    return {
      feature,
      test: result.test,
      kind: result.kind,
      score: result.score,
      adjustedScore,
      threshold: result.threshold,
      drifted: isDrifted(result.kind, adjustedScore, result.threshold),
    };
  });
  const driftedCount = features.filter((f) => f.drifted).length;
  const share = driftedCount / features.length;
  return { features, driftedCount, share, shareThreshold, correction, drifted: share >= shareThreshold };
}
