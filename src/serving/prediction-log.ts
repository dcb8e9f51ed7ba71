/**
 * The prediction log's request-path half: `record` is an O(1) append to a buffer bounded in rows
 * and in bytes, and never throws or waits; a timer drains the buffer to the store in batches.
 * When the buffer is full the new row is dropped and counted (the request still succeeds), so
 * logging can never slow serving down or take it over.
 *
 * A batch the store refuses because of a row in it is split in halves until that row is alone;
 * the row is set aside (counted by reason, the last few kept for `GET /api/v1/prediction-log`)
 * and the others are written, so no request can stop the log. A batch that fails because the
 * store is unavailable is kept whole and retried. Rows still buffered when the log stops are
 * counted as unflushed, never lost in silence.
 */
import {
  REJECT_REASONS,
  UnwritableBatch,
  type PredictionRecord,
  type PredictionSink,
  type RejectReason,
} from "../domain/prediction.js";

export interface PredictionLogOptions {
  /** Rows held in memory at most; beyond it rows are dropped and counted. */
  readonly capacity: number;
  /** Estimated bytes held in memory at most; beyond it rows are dropped and counted. */
  readonly capacityBytes: number;
  /** Rows per store write. */
  readonly batchSize: number;
  /** How often the buffer is drained, in milliseconds. */
  readonly flushIntervalMs: number;
}

export const DEFAULT_PREDICTION_LOG: PredictionLogOptions = {
  capacity: 50_000,
  capacityBytes: 64 * 1024 * 1024,
  batchSize: 128,
  flushIntervalMs: 200,
};

/** What a row recorded without an estimate of its size counts for. */
export const DEFAULT_ROW_BYTES = 1024;
/** How long `stop` waits for a store that does not answer. */
const STOP_TIMEOUT_MS = 10_000;
/** Rejections kept for the API: enough to see a pattern, few enough to stay small. */
const RECENT_REJECTIONS = 10;
/** A store's error text can be long (SQL, values); the API shows its start. */
const MESSAGE_CHARS = 300;

export interface Rejection {
  readonly requestId: string;
  readonly deployment: string;
  readonly variant: string;
  readonly reason: RejectReason;
  readonly message: string;
  /** Epoch ms of the prediction. */
  readonly createdAt: number;
}

export interface PredictionLogStats {
  readonly buffered: number;
  readonly capacity: number;
  readonly bufferedBytes: number;
  readonly capacityBytes: number;
  readonly written: number;
  readonly dropped: number;
  /** Rows set aside because the store refused them, by reason. */
  readonly rejected: Readonly<Record<RejectReason, number>>;
  /** The last few rows set aside, newest last. */
  readonly recentRejections: readonly Rejection[];
  /** Rows still buffered when the log stopped, because the store would not take them. */
  readonly unflushed: number;
  readonly writeFailures: number;
  readonly lastError: string | null;
}

export class PredictionLog {
  // Rows and their estimated sizes side by side: no wrapper object per request.
  private buffer: PredictionRecord[] = [];
  private sizes: number[] = [];
  private bufferedBytes = 0;
  /** The batch being written now: out of the buffer, not yet in the store. */
  private inFlight: readonly PredictionRecord[] = [];
  private written = 0;
  private dropped = 0;
  private readonly rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<
    RejectReason,
    number
  >;
  private recentRejections: Rejection[] = [];
  private unflushed = 0;
  /** Rows in a write that has not answered yet. */
  private writing = 0;
  private writeFailures = 0;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private soon = false;
  private readonly options: PredictionLogOptions;

  constructor(
    private readonly sink: PredictionSink,
    options: Partial<PredictionLogOptions> = {},
  ) {
    this.options = { ...DEFAULT_PREDICTION_LOG, ...options };
  }

  /**
   * Returns false when the row was dropped because the buffer is full. `bytes` is the caller's
   * estimate of the row's size (it knows the request's shape; the log does not walk rows).
   */
  record(row: PredictionRecord, bytes = DEFAULT_ROW_BYTES): boolean {
    if (
      this.buffer.length >= this.options.capacity ||
      this.bufferedBytes + bytes > this.options.capacityBytes
    ) {
      this.dropped++;
      return false;
    }
    this.buffer.push(row);
    this.sizes.push(bytes);
    this.bufferedBytes += bytes;
    // A full batch goes out on the next turn of the event loop rather than waiting for the
    // timer: rows held for long outlive the young generation and make garbage collection dear.
    if (this.buffer.length === this.options.batchSize && this.timer !== undefined && !this.soon) {
      this.soon = true;
      setImmediate(() => {
        this.soon = false;
        void this.flush();
      });
    }
    return true;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  /** Drains everything buffered so far; concurrent calls share one drain. */
  flush(): Promise<void> {
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  /**
   * Stops the timer and writes what is buffered, waiting at most `timeoutMs` for a store that
   * hangs. Rows the store has not taken by then (buffered, or in a write that has not answered)
   * are counted as unflushed (see `stats()`) and released, so the count says what shutdown lost.
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      this.flush().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    this.unflushed += this.buffer.length + (settled ? 0 : this.writing);
    this.buffer = [];
    this.sizes = [];
    this.bufferedBytes = 0;
  }

  /**
   * Which of these request ids are held here, buffered or being written: served, but not in the
   * store yet. Read synchronously, so a row is either seen here or already committed.
   */
  holding(requestIds: ReadonlySet<string>): Set<string> {
    const held = new Set<string>();
    for (const rows of [this.inFlight, this.buffer]) {
      for (const row of rows) if (requestIds.has(row.requestId)) held.add(row.requestId);
    }
    return held;
  }

  stats(): PredictionLogStats {
    return {
      buffered: this.buffer.length,
      capacity: this.options.capacity,
      bufferedBytes: this.bufferedBytes,
      capacityBytes: this.options.capacityBytes,
      written: this.written,
      dropped: this.dropped,
      rejected: { ...this.rejected },
      recentRejections: [...this.recentRejections],
      unflushed: this.unflushed,
      writeFailures: this.writeFailures,
      lastError: this.lastError,
    };
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.options.batchSize);
      const sizes = this.sizes.splice(0, batch.length);
      for (const s of sizes) this.bufferedBytes -= s;
      this.writing = batch.length;
      this.inFlight = batch;
      try {
        const unwritten = await this.writeSplitting(batch);
        if (unwritten > 0) {
          // The store is unavailable: keep the rows not yet written for the next tick, so a
          // store that is briefly down loses nothing until the buffer itself fills; then the
          // loss is counted as drops.
          this.requeue(batch.slice(batch.length - unwritten), sizes.slice(sizes.length - unwritten));
          return;
        }
      } finally {
        // After the requeue, in the same turn: `holding` never misses a row in between.
        this.writing = 0;
        this.inFlight = [];
      }
    }
  }

  /**
   * Writes the batch, halving it whenever the store refuses it for a row's content, until that
   * row is alone and is set aside. Returns how many rows at the batch's end were not written
   * because the store is unavailable (0 when all were written or set aside).
   */
  private async writeSplitting(batch: readonly PredictionRecord[]): Promise<number> {
    try {
      const outcome = await this.sink.write(batch);
      const refused = outcome?.refused ?? [];
      this.written += batch.length - refused.length;
      for (const r of refused) this.reject(batch[r.index] as PredictionRecord, r.reason, r.message);
      return 0;
    } catch (error) {
      if (!(error instanceof UnwritableBatch)) {
        this.writeFailures++;
        this.lastError = error instanceof Error ? error.message : String(error);
        return batch.length;
      }
      if (batch.length === 1) {
        this.reject(batch[0] as PredictionRecord, error.reason, error.message);
        return 0;
      }
      const half = Math.ceil(batch.length / 2);
      const first = await this.writeSplitting(batch.slice(0, half));
      if (first > 0) return first + (batch.length - half);
      return this.writeSplitting(batch.slice(half));
    }
  }

  private reject(row: PredictionRecord, reason: RejectReason, message: string): void {
    this.rejected[reason]++;
    this.recentRejections.push({
      requestId: row.requestId,
      deployment: row.deployment,
      variant: row.variant,
      reason,
      message: message.length > MESSAGE_CHARS ? `${message.slice(0, MESSAGE_CHARS)}…` : message,
      createdAt: row.createdAt,
    });
    if (this.recentRejections.length > RECENT_REJECTIONS) this.recentRejections.shift();
  }

  /** Puts unwritten rows back at the head, as far as the bounds leave room for them. */
  private requeue(rows: PredictionRecord[], sizes: number[]): void {
    let roomRows = Math.max(0, this.options.capacity - this.buffer.length);
    let roomBytes = this.options.capacityBytes - this.bufferedBytes;
    let kept = 0;
    let keptBytes = 0;
    while (kept < rows.length && roomRows > 0 && (sizes[kept] as number) <= roomBytes) {
      roomRows--;
      roomBytes -= sizes[kept] as number;
      keptBytes += sizes[kept] as number;
      kept++;
    }
    this.dropped += rows.length - kept;
    this.buffer = rows.slice(0, kept).concat(this.buffer);
    this.sizes = sizes.slice(0, kept).concat(this.sizes);
    this.bufferedBytes += keptBytes;
  }
}
