/**
 * The default choice of drift test, one readable rule (Evidently's is the precedent):
 *
 *   numerical,   reference size <= 1000  -> ks            (exact small-sample p-values)
 *   numerical,   reference size  > 1000  -> wasserstein   (normed; p-values flag tiny shifts on big data)
 *   binary,      reference size <= 1000  -> z-test
 *   categorical, reference size <= 1000  -> chi-square
 *   categorical or binary, size  > 1000  -> jensen-shannon
 *
 * The rule is a table scanned top to bottom; the first row whose kind matches and whose size
 * limit holds wins. A sketch-based variant (tests that read a quantile sketch instead of raw
 * samples) is one more row, or a different table passed to `chooseStatTest`.
 */
import { invalid } from "../../domain/errors.js";
import type { FeatureKind } from "./test.js";

export const SMALL_SAMPLE_LIMIT = 1000;

export interface DefaultRuleRow {
  readonly kinds: readonly FeatureKind[];
  /** The row applies while the reference size is at most this (Infinity: always). */
  readonly maxReferenceSize: number;
  readonly test: string;
}

export const DEFAULT_RULE: readonly DefaultRuleRow[] = [
  { kinds: ["numerical"], maxReferenceSize: SMALL_SAMPLE_LIMIT, test: "ks" },
  { kinds: ["numerical"], maxReferenceSize: Infinity, test: "wasserstein" },
  { kinds: ["binary"], maxReferenceSize: SMALL_SAMPLE_LIMIT, test: "z-test" },
  { kinds: ["categorical"], maxReferenceSize: SMALL_SAMPLE_LIMIT, test: "chi-square" },
  { kinds: ["categorical", "binary"], maxReferenceSize: Infinity, test: "jensen-shannon" },
];

/** The rule as people read it (reports, `--help`). */
export function describeRule(rule: readonly DefaultRuleRow[] = DEFAULT_RULE): string {
  return rule
    .map(
      (row) =>
        `${row.kinds.join(" or ")}${row.maxReferenceSize === Infinity ? "" : ` with reference size <= ${row.maxReferenceSize}`}: ${row.test}`,
    )
    .join("; ");
}

export const DEFAULT_RULE_TEXT = describeRule(DEFAULT_RULE);

export interface FeatureForChoice {
  readonly kind: FeatureKind;
  /** Number of non-missing reference values. */
  readonly referenceSize: number;
}

/** The registered name of the test the rule picks for this feature. */
export function chooseStatTest(
  feature: FeatureForChoice,
  rule: readonly DefaultRuleRow[] = DEFAULT_RULE,
): string {
  if (!Number.isInteger(feature.referenceSize) || feature.referenceSize < 0) {
    throw invalid(`referenceSize must be a non-negative integer, got ${feature.referenceSize}`);
  }
  const row = rule.find((r) => r.kinds.includes(feature.kind) && feature.referenceSize <= r.maxReferenceSize);
  if (row === undefined)
    throw invalid(`no drift test rule covers a ${feature.kind} feature`, { kind: feature.kind });
  return row.test;
}
