/**
 * Realised performance of a binary probabilistic classifier over one window, as a value that
 * merges associatively (windows into longer windows, replicas into one) in bounded memory.
 *
 * Rows are kept as counts per score bucket (see score-grid.ts): positives, negatives and rows
 * still waiting for their label. That is enough for every threshold metric at any threshold on
 * the grid, and for ROC AUC — exact for scores on the grid (ties included, as sklearn's
 * roc_auc_score), otherwise within the reported `rocAucErrorBound`. Log loss needs the exact
 * score, so each labelled row adds its term to a running sum when it is labelled.
 *
 * Labels arrive late: `add(score, null)` logs the prediction; `label(score, y)` later moves one
 * unlabelled row of that score to the labelled side; `relabel` handles a replaced label.
 */
import { conflict, invalid } from "../../domain/errors.js";
import { confusionMetrics, type ConfusionMetricName } from "./confusion.js";
import { bucketedRocAuc } from "./roc-auc.js";
import {
  checkBinaryLabel,
  checkScore,
  isOnGrid,
  SCORE_GRID,
  scoreBucket,
  sortedBuckets,
  thresholdBucket,
} from "./score-grid.js";

/**
 * Scores are clipped to [ε, 1 − ε] before the logarithm, ε = 2^-52 (float64 machine epsilon),
 * as sklearn.metrics.log_loss does with its default eps="auto" (sklearn ≥ 1.2; older releases
 * used 1e-15). A confident wrong answer thus costs at most −ln ε ≈ 36.04, not infinity.
 */
export const LOG_LOSS_EPS = Number.EPSILON;

export type ClassificationMetricName = ConfusionMetricName | "coverage" | "rocAuc" | "logLoss";

export interface ClassificationMetrics {
  /** Predictions in the window. */
  readonly count: number;
  /** Predictions whose label has arrived; every metric below is over these rows. */
  readonly labelled: number;
  /** labelled / count. */
  readonly coverage: number | null;
  /** Rows with score >= threshold are predicted positive. */
  readonly threshold: number;
  readonly accuracy: number | null;
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
  readonly rocAuc: number | null;
  /** |rocAuc − exact AUC| ≤ this; 0 when every score lies on the 1e-4 grid. */
  readonly rocAucErrorBound: number | null;
  readonly logLoss: number | null;
  /** Why each null metric is null. */
  readonly reasons: Partial<Record<ClassificationMetricName, string>>;
}

interface BucketCounts {
  positive: number;
  negative: number;
  unlabelled: number;
}

/** Plain-JSON form, for persisting a closed window. */
export interface ClassificationState {
  readonly kind: "classification";
  /** [bucket, positives, negatives, unlabelled], ascending by bucket. */
  readonly buckets: [number, number, number, number][];
  readonly logLossSum: number;
  readonly offGrid: number;
}

export function logLossTerm(score: number, label: 0 | 1): number {
  const p = Math.min(Math.max(score, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
  return label === 1 ? -Math.log(p) : -Math.log(1 - p);
}

export class ClassificationAccumulator {
  private readonly buckets = new Map<number, BucketCounts>();
  private logLossSum = 0;
  /** Rows whose score is off the grid: while 0, ROC AUC is exact. */
  private offGrid = 0;

  /** One prediction; `label` null while its outcome is unknown. */
  add(score: number, label: 0 | 1 | null = null): void {
    checkScore(score);
    checkBinaryLabel(label, true);
    const b = this.bucket(scoreBucket(score));
    if (!isOnGrid(score)) this.offGrid += 1;
    if (label === null) {
      b.unlabelled += 1;
      return;
    }
    if (label === 1) b.positive += 1;
    else b.negative += 1;
    this.logLossSum += logLossTerm(score, label);
  }

  /** The label of an earlier unlabelled prediction with this score has arrived. */
  label(score: number, label: 0 | 1): void {
    checkScore(score);
    checkBinaryLabel(label, false);
    const b = this.buckets.get(scoreBucket(score));
    if (b === undefined || b.unlabelled === 0) {
      throw conflict(
        `no unlabelled prediction with score ${score} in this window to label; add the prediction before its label`,
        { score },
      );
    }
    b.unlabelled -= 1;
    if (label === 1) b.positive += 1;
    else b.negative += 1;
    this.logLossSum += logLossTerm(score, label);
  }

  /** A label was replaced (feedback is idempotent per row: the last one wins). */
  relabel(score: number, previous: 0 | 1, label: 0 | 1): void {
    checkScore(score);
    checkBinaryLabel(previous, false);
    checkBinaryLabel(label, false);
    const b = this.buckets.get(scoreBucket(score));
    const had = b === undefined ? 0 : previous === 1 ? b.positive : b.negative;
    if (b === undefined || had === 0) {
      throw conflict(`no prediction with score ${score} labelled ${previous} in this window to relabel`, {
        score,
        previous,
      });
    }
    if (previous === label) return;
    if (previous === 1) {
      b.positive -= 1;
      b.negative += 1;
    } else {
      b.negative -= 1;
      b.positive += 1;
    }
    this.logLossSum += logLossTerm(score, label) - logLossTerm(score, previous);
  }

  /** A new accumulator holding both windows; neither input changes. */
  merge(other: ClassificationAccumulator): ClassificationAccumulator {
    const out = this.clone();
    for (const [k, b] of other.buckets) {
      const mine = out.bucket(k);
      mine.positive += b.positive;
      mine.negative += b.negative;
      mine.unlabelled += b.unlabelled;
    }
    out.logLossSum += other.logLossSum;
    out.offGrid += other.offGrid;
    return out;
  }

  clone(): ClassificationAccumulator {
    const out = new ClassificationAccumulator();
    for (const [k, b] of this.buckets) out.buckets.set(k, { ...b });
    out.logLossSum = this.logLossSum;
    out.offGrid = this.offGrid;
    return out;
  }

  metrics(threshold = 0.5): ClassificationMetrics {
    const start = thresholdBucket(threshold);
    const sorted = sortedBuckets(this.buckets);
    let count = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (const [k, b] of sorted) {
      count += b.positive + b.negative + b.unlabelled;
      if (k >= start) {
        tp += b.positive;
        fp += b.negative;
      } else {
        fn += b.positive;
        tn += b.negative;
      }
    }
    const labelled = tp + fp + fn + tn;
    const confusion = confusionMetrics({ tp, fp, fn, tn });
    const auc = bucketedRocAuc(
      sorted.map(([, b]) => ({ positive: b.positive, negative: b.negative })),
      this.offGrid === 0,
    );
    const reasons: Partial<Record<ClassificationMetricName, string>> = { ...confusion.reasons };
    if (count === 0) reasons.coverage = "no predictions in this window";
    if (auc.reason !== undefined) reasons.rocAuc = auc.reason;
    if (labelled === 0) {
      reasons.logLoss = "no labelled rows";
      reasons.rocAuc = "no labelled rows";
    }
    return {
      count,
      labelled,
      coverage: count === 0 ? null : labelled / count,
      threshold,
      accuracy: confusion.accuracy,
      precision: confusion.precision,
      recall: confusion.recall,
      f1: confusion.f1,
      rocAuc: auc.auc,
      rocAucErrorBound: auc.errorBound,
      logLoss: labelled === 0 ? null : this.logLossSum / labelled,
      reasons,
    };
  }

  toJSON(): ClassificationState {
    return {
      kind: "classification",
      buckets: sortedBuckets(this.buckets).map(([k, b]) => [k, b.positive, b.negative, b.unlabelled]),
      logLossSum: this.logLossSum,
      offGrid: this.offGrid,
    };
  }

  static fromJSON(state: ClassificationState): ClassificationAccumulator {
    if (state === null || typeof state !== "object" || state.kind !== "classification") {
      throw invalid('classification state must be an object with kind "classification"');
    }
    if (!Array.isArray(state.buckets)) throw invalid("classification state: buckets must be an array");
    checkCount(state.offGrid, "offGrid");
    if (
      typeof state.logLossSum !== "number" ||
      !(state.logLossSum >= 0) ||
      !Number.isFinite(state.logLossSum)
    ) {
      throw invalid(
        `classification state: logLossSum must be a finite number >= 0; got ${String(state.logLossSum)}`,
      );
    }
    const out = new ClassificationAccumulator();
    for (const entry of state.buckets) {
      if (!Array.isArray(entry) || entry.length !== 4) {
        throw invalid("classification state: each bucket must be [bucket, positives, negatives, unlabelled]");
      }
      const [k, positive, negative, unlabelled] = entry;
      if (!Number.isInteger(k) || k < 0 || k > SCORE_GRID || out.buckets.has(k)) {
        throw invalid(
          `classification state: bucket index ${String(k)} is not a distinct integer in [0, ${SCORE_GRID}]`,
        );
      }
      checkCount(positive, "positives");
      checkCount(negative, "negatives");
      checkCount(unlabelled, "unlabelled");
      out.buckets.set(k, { positive, negative, unlabelled });
    }
    out.logLossSum = state.logLossSum;
    out.offGrid = state.offGrid;
    return out;
  }

  private bucket(k: number): BucketCounts {
    let b = this.buckets.get(k);
    if (b === undefined) {
      b = { positive: 0, negative: 0, unlabelled: 0 };
      this.buckets.set(k, b);
    }
    return b;
  }
}

function checkCount(value: unknown, what: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw invalid(`classification state: ${what} must be a non-negative integer; got ${String(value)}`);
  }
}
