/** One logged inference: the row that later feedback (labels, clicks) joins to. */
export interface PredictionRecord {
  readonly requestId: string;
  readonly deployment: string;
  readonly model: string;
  readonly modelVersion: number;
  readonly variant: string;
  /** Inputs as the client sent them, made JSON-safe (named features or tensors). */
  readonly inputs: unknown;
  readonly outputs: unknown;
  readonly latencyMs: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
}

/** Where the prediction log's batches go: the store, or a writer thread in front of it. */
export interface PredictionSink {
  write(rows: readonly PredictionRecord[]): Promise<void>;
}

/**
 * One outcome for an earlier prediction. `kind` is "label" for the ground truth (a class or a
 * number) or the name of a business event ("click", "conversion", …). `row` picks the row of a
 * batched request (0 for single-row requests). Idempotent per (requestId, row, kind): sending it
 * again replaces the value.
 */
export interface FeedbackRecord {
  readonly requestId: string;
  readonly row: number;
  readonly kind: string;
  readonly label?: string | number | boolean | null;
  readonly value?: number | null;
  readonly createdAt: number;
}
