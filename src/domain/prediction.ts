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

/**
 * Why a row was set aside instead of written. A metric label, so a few fixed values:
 * `unserialisable` (its JSON cannot be made), `invalid_value` (the store refused a value in it),
 * `duplicate_request_id` (a row with its request id and variant was logged before).
 */
export type RejectReason = "unserialisable" | "invalid_value" | "duplicate_request_id";

export const REJECT_REASONS: readonly RejectReason[] = [
  "unserialisable",
  "invalid_value",
  "duplicate_request_id",
];

/** A row of a batch that the store did not take, by its index in the batch. */
export interface RefusedRow {
  readonly index: number;
  readonly reason: RejectReason;
  readonly message: string;
}

/** What a write did: every row of the batch was written except the refused ones. */
export interface WriteOutcome {
  readonly refused: readonly RefusedRow[];
}

/**
 * The store refused a whole batch because of what some row in it holds (not because it is
 * unavailable): writing the same batch again fails again, so the log splits it to find the row.
 */
export class UnwritableBatch extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Where the prediction log's batches go: the store, or a writer thread in front of it. A write
 * rejects with `UnwritableBatch` when a row is at fault, and with any other error when the
 * store is unavailable (the rows are then kept and retried). Resolving with nothing means every
 * row was written.
 */
export interface PredictionSink {
  write(rows: readonly PredictionRecord[]): Promise<WriteOutcome | void>;
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

/** One outcome joined to a logged prediction by request id (the store's scan gives them). */
export interface JoinedFeedback {
  readonly row: number;
  readonly kind: string;
  readonly label: unknown;
  readonly value: number | null;
  readonly createdAt: number;
}
