/**
 * Confidence-based performance estimation (CBPE), after NannyML (docs: "How it works —
 * performance estimation"; code: nannyml/performance_estimation/confidence_based/metrics.py).
 * With a calibrated probability p_i = P(y_i = 1 | score_i) and the model's decision
 * ŷ_i = [score_i >= threshold], each row is expected to contribute
 *
 *   E[TP] = Σ_{ŷ=1} p_i,  E[FP] = Σ_{ŷ=1} (1 − p_i),  E[FN] = Σ_{ŷ=0} p_i,  E[TN] = Σ_{ŷ=0} (1 − p_i)
 *
 * and accuracy, precision, recall and F1 are those of the expected confusion matrix (a ratio
 * of expectations, as NannyML's estimate_precision etc.). ROC AUC follows NannyML's
 * estimate_roc_auc: an expected ROC curve from the expected TP and FP at every threshold,
 * integrated by trapezoids. Written as pairs, that is the Mann–Whitney AUC of the window in
 * which row i counts as a positive of weight p_i and a negative of weight 1 − p_i; here the
 * curve is closed at (0, 0), where NannyML's code stops at its highest score (earlier
 * releases) or appends an artificial threshold at 1 (later ones); the difference is one
 * trapezoid, O(1/n). Like NannyML's, the pair sum includes each row paired with itself
 * (weight p_i(1 − p_i)/2), another O(1/n) term. Because the calibrator is monotone, ranking by the
 * raw score or by p gives the same value.
 *
 * Memory is bounded as in ClassificationAccumulator: per score bucket, the row count and the
 * sum of p. Rows whose label has already arrived count with p = their label, so the estimate
 * turns into the realised metric as labels come in (`label` swaps p for y in the sum).
 * The calibrator must be the same for merged windows.
 */
import { conflict, invalid } from "../../domain/errors.js";
import { confusionMetrics, type ConfusionMetricName } from "./confusion.js";
import { calibrate, sameCalibration, type IsotonicCalibration } from "./isotonic.js";
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

export type CbpeMetricName = ConfusionMetricName | "rocAuc";

export interface CbpeEstimate {
  readonly count: number;
  /** Rows that count with their real label rather than their calibrated probability. */
  readonly labelled: number;
  readonly threshold: number;
  /** Expected confusion-matrix entries (fractional). */
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  readonly accuracy: number | null;
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
  readonly rocAuc: number | null;
  /** Bound on the bucketing error of rocAuc (not on the estimation error); 0 on the grid. */
  readonly rocAucErrorBound: number | null;
  readonly reasons: Partial<Record<CbpeMetricName, string>>;
}

/** Plain-JSON form; the calibrator is stored once with the reference, not in every window. */
export interface CbpeState {
  readonly kind: "cbpe";
  /** [bucket, rows, labelled, Σ p (labels for labelled rows)], ascending by bucket. */
  readonly buckets: [number, number, number, number][];
  readonly offGrid: number;
}

interface BucketSums {
  rows: number;
  labelled: number;
  /** Σ p over unlabelled rows + Σ y over labelled rows. */
  positive: number;
}

export class CbpeAccumulator {
  private readonly buckets = new Map<number, BucketSums>();
  private offGrid = 0;

  constructor(readonly calibration: IsotonicCalibration) {}

  add(score: number, label: 0 | 1 | null = null): void {
    checkScore(score);
    checkBinaryLabel(label, true);
    const b = this.bucket(scoreBucket(score));
    if (!isOnGrid(score)) this.offGrid += 1;
    b.rows += 1;
    if (label === null) {
      b.positive += calibrate(this.calibration, score);
    } else {
      b.labelled += 1;
      b.positive += label;
    }
  }

  /** The label of an earlier unlabelled prediction with this score has arrived. */
  label(score: number, label: 0 | 1): void {
    checkScore(score);
    checkBinaryLabel(label, false);
    const b = this.buckets.get(scoreBucket(score));
    if (b === undefined || b.labelled >= b.rows) {
      throw conflict(
        `no unlabelled prediction with score ${score} in this window to label; add the prediction before its label`,
        { score },
      );
    }
    b.labelled += 1;
    b.positive += label - calibrate(this.calibration, score);
  }

  merge(other: CbpeAccumulator): CbpeAccumulator {
    if (!sameCalibration(this.calibration, other.calibration)) {
      throw conflict(
        "cannot merge CBPE windows estimated with different calibrators; re-estimate with one reference",
      );
    }
    const out = this.clone();
    for (const [k, b] of other.buckets) {
      const mine = out.bucket(k);
      mine.rows += b.rows;
      mine.labelled += b.labelled;
      mine.positive += b.positive;
    }
    out.offGrid += other.offGrid;
    return out;
  }

  clone(): CbpeAccumulator {
    const out = new CbpeAccumulator(this.calibration);
    for (const [k, b] of this.buckets) out.buckets.set(k, { ...b });
    out.offGrid = this.offGrid;
    return out;
  }

  estimate(threshold = 0.5): CbpeEstimate {
    const start = thresholdBucket(threshold);
    const sorted = sortedBuckets(this.buckets);
    let count = 0;
    let labelled = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    const weighted = sorted.map(([k, b]) => {
      // Clamped: sums of p in [0, 1] stay in [0, rows] up to rounding, which must not go negative.
      const positive = Math.min(b.rows, Math.max(0, b.positive));
      const negative = b.rows - positive;
      count += b.rows;
      labelled += b.labelled;
      if (k >= start) {
        tp += positive;
        fp += negative;
      } else {
        fn += positive;
        tn += negative;
      }
      return { positive, negative };
    });
    const confusion = confusionMetrics({ tp, fp, fn, tn });
    const auc = bucketedRocAuc(weighted, this.offGrid === 0);
    const reasons: Partial<Record<CbpeMetricName, string>> = { ...confusion.reasons };
    if (count === 0) {
      reasons.accuracy = "no predictions in this window";
      reasons.rocAuc = "no predictions in this window";
    } else if (auc.reason !== undefined) {
      reasons.rocAuc = `expected ${auc.reason} (the calibrator gives every row in this window the same class)`;
    }
    if (reasons.recall !== undefined) reasons.recall = "no expected positives";
    return {
      count,
      labelled,
      threshold,
      tp,
      fp,
      fn,
      tn,
      accuracy: confusion.accuracy,
      precision: confusion.precision,
      recall: confusion.recall,
      f1: confusion.f1,
      rocAuc: auc.auc,
      rocAucErrorBound: auc.errorBound,
      reasons,
    };
  }

  toJSON(): CbpeState {
    return {
      kind: "cbpe",
      buckets: sortedBuckets(this.buckets).map(([k, b]) => [k, b.rows, b.labelled, b.positive]),
      offGrid: this.offGrid,
    };
  }

  static fromJSON(state: CbpeState, calibration: IsotonicCalibration): CbpeAccumulator {
    if (
      state === null ||
      typeof state !== "object" ||
      state.kind !== "cbpe" ||
      !Array.isArray(state.buckets)
    ) {
      throw invalid('CBPE state must be an object with kind "cbpe" and a buckets array');
    }
    if (!Number.isSafeInteger(state.offGrid) || state.offGrid < 0) {
      throw invalid(`CBPE state: offGrid must be a non-negative integer; got ${String(state.offGrid)}`);
    }
    const out = new CbpeAccumulator(calibration);
    for (const entry of state.buckets) {
      const [k, rows, labelled, positive] = Array.isArray(entry) ? entry : [];
      const ok =
        Number.isInteger(k) &&
        (k as number) >= 0 &&
        (k as number) <= SCORE_GRID &&
        !out.buckets.has(k as number) &&
        Number.isSafeInteger(rows) &&
        Number.isSafeInteger(labelled) &&
        (labelled as number) >= 0 &&
        (labelled as number) <= (rows as number) &&
        typeof positive === "number" &&
        Number.isFinite(positive);
      if (!ok) {
        throw invalid(
          `CBPE state: bad bucket ${JSON.stringify(entry)}; expected distinct [bucket, rows, labelled, sum]`,
        );
      }
      out.buckets.set(k as number, {
        rows: rows as number,
        labelled: labelled as number,
        positive: positive as number,
      });
    }
    out.offGrid = state.offGrid;
    return out;
  }

  private bucket(k: number): BucketSums {
    let b = this.buckets.get(k);
    if (b === undefined) {
      b = { rows: 0, labelled: 0, positive: 0 };
      this.buckets.set(k, b);
    }
    return b;
  }
}
