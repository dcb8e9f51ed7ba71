/**
 * The prediction log's request-path half: `record` is an O(1) append to a bounded buffer and
 * never throws or waits; a timer drains the buffer to the store in batches. When the buffer is
 * full the new row is dropped and counted (the request still succeeds), so logging can never
 * slow serving down or take it over.
 */
import type { PredictionRecord, PredictionSink } from "../domain/prediction.js";

export interface PredictionLogOptions {
  /** Rows held in memory at most; beyond it rows are dropped and counted. */
  readonly capacity: number;
  /** Rows per store write. */
  readonly batchSize: number;
  /** How often the buffer is drained, in milliseconds. */
  readonly flushIntervalMs: number;
}

export const DEFAULT_PREDICTION_LOG: PredictionLogOptions = {
  capacity: 50_000,
  batchSize: 128,
  flushIntervalMs: 200,
};

export interface PredictionLogStats {
  readonly buffered: number;
  readonly capacity: number;
  readonly written: number;
  readonly dropped: number;
  readonly writeFailures: number;
  readonly lastError: string | null;
}

export class PredictionLog {
  private buffer: PredictionRecord[] = [];
  /** The batch being written now: out of the buffer, not yet in the store. */
  private writing: readonly PredictionRecord[] = [];
  private written = 0;
  private dropped = 0;
  private writeFailures = 0;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private soon = false;

  constructor(
    private readonly sink: PredictionSink,
    private readonly options: PredictionLogOptions = DEFAULT_PREDICTION_LOG,
  ) {}

  /** Returns false when the row was dropped because the buffer is full. */
  record(row: PredictionRecord): boolean {
    if (this.buffer.length >= this.options.capacity) {
      this.dropped++;
      return false;
    }
    this.buffer.push(row);
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

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Which of these request ids are held here, buffered or being written: served, but not in the
   * store yet. Read synchronously, so a row is either seen here or already committed.
   */
  holding(requestIds: ReadonlySet<string>): Set<string> {
    const held = new Set<string>();
    for (const rows of [this.writing, this.buffer]) {
      for (const row of rows) if (requestIds.has(row.requestId)) held.add(row.requestId);
    }
    return held;
  }

  stats(): PredictionLogStats {
    return {
      buffered: this.buffer.length,
      capacity: this.options.capacity,
      written: this.written,
      dropped: this.dropped,
      writeFailures: this.writeFailures,
      lastError: this.lastError,
    };
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.options.batchSize);
      this.writing = batch;
      try {
        await this.sink.write(batch);
        this.written += batch.length;
      } catch (error) {
        // Keep the rows for the next tick: a store that is briefly down loses nothing until the
        // buffer itself fills, and then the loss is counted as drops.
        this.writeFailures++;
        this.lastError = error instanceof Error ? error.message : String(error);
        const room = Math.max(0, this.options.capacity - this.buffer.length);
        const kept = batch.slice(0, room);
        this.dropped += batch.length - kept.length;
        this.buffer = kept.concat(this.buffer);
        return;
      } finally {
        this.writing = [];
      }
    }
  }
}
