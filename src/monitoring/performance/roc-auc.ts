/**
 * ROC AUC over score buckets: the Mann–Whitney form, which equals the trapezoid area under the
 * ROC curve that sklearn.metrics.roc_auc_score computes, ties counting one half:
 *
 *   AUC = Σ_b pos_b · (Σ_{c<b} neg_c + ½ · neg_b) / (P · N)
 *
 * Weights may be fractional (CBPE's expected positives and negatives). Buckets are ordered
 * exactly, so the only error comes from pairs that share a bucket but not a score: each is
 * counted ½ where the truth is 0 or 1, hence |error| ≤ ½ · Σ_b pos_b · neg_b / (P · N), the
 * bound returned with the value (0 when every score is known to lie on the grid).
 */
export interface WeightedBucket {
  readonly positive: number;
  readonly negative: number;
}

export interface BucketedAuc {
  readonly auc: number | null;
  /** Upper bound on |AUC - exact AUC| from within-bucket pairs; null with the AUC. */
  readonly errorBound: number | null;
  readonly reason?: string;
}

/** `buckets` in ascending score order; `exact` when every score sits on the grid. */
export function bucketedRocAuc(buckets: readonly WeightedBucket[], exact: boolean): BucketedAuc {
  let positives = 0;
  let negatives = 0;
  for (const b of buckets) {
    positives += b.positive;
    negatives += b.negative;
  }
  if (!(positives > 0)) return { auc: null, errorBound: null, reason: "no positive labels" };
  if (!(negatives > 0)) return { auc: null, errorBound: null, reason: "no negative labels" };
  let below = 0;
  let wins = 0;
  let sameBucket = 0;
  for (const b of buckets) {
    wins += b.positive * (below + 0.5 * b.negative);
    sameBucket += b.positive * b.negative;
    below += b.negative;
  }
  const pairs = positives * negatives;
  return { auc: wins / pairs, errorBound: exact ? 0 : (0.5 * sameBucket) / pairs };
}
