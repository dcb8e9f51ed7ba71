/** The sklearn reference values written by scripts/fixtures/make_performance_reference.py. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

export interface ClassificationCase {
  name: string;
  scores: number[];
  labels: (0 | 1 | null)[];
  count: number;
  labelled: number;
  byThreshold: {
    threshold: number;
    accuracy: number | null;
    precision: number | null;
    recall: number | null;
    f1: number | null;
    illDefined: string[];
  }[];
  rocAuc: number | null;
  logLoss: number | null;
}

export interface RegressionCase {
  name: string;
  predictions: number[];
  actuals: (number | null)[];
  count: number;
  labelled: number;
  mae: number | null;
  rmse: number | null;
}

export interface IsotonicCase {
  name: string;
  scores: number[];
  labels: (0 | 1)[];
  knotsX: number[];
  knotsY: number[];
  probes: number[];
  calibrated: number[];
}

export interface CbpeCase {
  referenceScores: number[];
  referenceLabels: (0 | 1)[];
  windowScores: number[];
  calibrated: number[];
  byThreshold: {
    threshold: number;
    tp: number;
    fp: number;
    fn: number;
    tn: number;
    accuracy: number;
    precision: number;
    recall: number;
    f1: number;
  }[];
  rocAuc: number;
}

export interface Reference {
  provenance: Record<string, unknown>;
  classification: ClassificationCase[];
  regression: RegressionCase[];
  isotonic: IsotonicCase[];
  cbpe: CbpeCase;
}

export const reference = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../fixtures/performance/reference.json", import.meta.url)), "utf8"),
) as Reference;

/** |actual − expected| ≤ tol · max(1, |expected|), with the name in the message. */
export function close(actual: number | null, expected: number | null, tol: number, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${String(actual)}`);
    return;
  }
  assert.notEqual(actual, null, `${what}: expected ${expected}, got null`);
  const a = actual as number;
  assert.ok(
    Math.abs(a - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${a} differs from ${expected} by ${Math.abs(a - expected)}`,
  );
}
