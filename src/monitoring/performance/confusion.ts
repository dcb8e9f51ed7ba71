/**
 * Accuracy, precision, recall and F1 from one confusion matrix. Entries may be fractional:
 * CBPE fills them with expected counts. A metric whose denominator is zero is null with a
 * reason (sklearn warns and answers 0 there; a monitor must not mistake "undefined" for "0").
 */
export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
}

export type ConfusionMetricName = "accuracy" | "precision" | "recall" | "f1";

export interface ConfusionMetrics {
  readonly accuracy: number | null;
  readonly precision: number | null;
  readonly recall: number | null;
  /** 2·TP / (2·TP + FP + FN): defined whenever anything is positive, predicted or actual. */
  readonly f1: number | null;
  readonly reasons: Partial<Record<ConfusionMetricName, string>>;
}

export function confusionMetrics(c: Confusion): ConfusionMetrics {
  const reasons: Partial<Record<ConfusionMetricName, string>> = {};
  const total = c.tp + c.fp + c.fn + c.tn;
  const ratio = (name: ConfusionMetricName, num: number, den: number, why: string): number | null => {
    if (den > 0) return num / den;
    reasons[name] = why;
    return null;
  };
  return {
    accuracy: ratio("accuracy", c.tp + c.tn, total, "no labelled rows"),
    precision: ratio("precision", c.tp, c.tp + c.fp, "no row scored at or above the threshold"),
    recall: ratio("recall", c.tp, c.tp + c.fn, "no positive labels"),
    f1: ratio("f1", 2 * c.tp, 2 * c.tp + c.fp + c.fn, "no positive labels and no positive predictions"),
    reasons,
  };
}
