/**
 * The prediction-log sink for SQLite: batches go to a worker thread that inserts them with a
 * prepared statement. Rows are turned into flat values here (JSON text for inputs and
 * outputs), so what crosses the thread boundary is cheap to copy, and a row whose JSON cannot
 * be made is refused here on its own.
 */
import type { Worker } from "node:worker_threads";
import {
  UnwritableBatch,
  type PredictionRecord,
  type PredictionSink,
  type WriteOutcome,
} from "../domain/prediction.js";
import { duplicateOf, rowFault, serialisePredictions, type SerialisedPrediction } from "./prediction-rows.js";
import { siblingModule, startModuleWorker } from "./worker.js";

export type PredictionRowValues = [string, string, string, string, number, string, string, number, number];
export type WriterMessage = { type: "write"; id: number; rows: PredictionRowValues[] } | { type: "close" };
export type WriterReply =
  { id: number; error: null; duplicates: number[] } | { id: number; error: string; code: string | undefined };

export class SqlitePredictionWriter implements PredictionSink {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (duplicates: number[]) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private failure: Error | undefined;

  constructor(file: string, busyTimeoutMs = 5000) {
    this.worker = startModuleWorker(siblingModule(import.meta.url, "sqlite-prediction-worker"), {
      file,
      busyTimeoutMs,
    });
    // An idle writer must not keep the process alive; one with work in flight must.
    this.worker.unref();
    this.worker.on("message", (reply: WriterReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.error === null) {
        waiter?.resolve(reply.duplicates);
        return;
      }
      const message = `prediction log write failed: ${reply.error}`;
      const reason = rowFault(reply.code);
      waiter?.reject(reason === null ? new Error(message) : new UnwritableBatch(reason, message));
    });
    this.worker.on("error", (error: unknown) =>
      this.failAll(
        new Error(`prediction log writer failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
    );
    this.worker.on("exit", (code) => this.failAll(new Error(`prediction log writer stopped (exit ${code})`)));
  }

  async write(rows: readonly PredictionRecord[]): Promise<WriteOutcome> {
    if (this.failure !== undefined) throw this.failure;
    const serialised = await serialisePredictions(rows);
    if (serialised.rows.length === 0) return { refused: serialised.refused };
    const id = this.nextId++;
    const values = serialised.rows.map(({ record: r, inputs, outputs }): PredictionRowValues => [
      r.requestId,
      r.variant,
      r.deployment,
      r.model,
      r.modelVersion,
      inputs,
      outputs,
      r.latencyMs,
      r.createdAt,
    ]);
    const duplicates = await new Promise<number[]>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "write", id, rows: values } satisfies WriterMessage);
    });
    return {
      refused: [
        ...serialised.refused,
        ...duplicates.map((i) => duplicateOf(serialised.rows[i] as SerialisedPrediction)),
      ],
    };
  }

  /** Lets queued batches finish, then stops the worker. */
  async close(): Promise<void> {
    if (this.failure !== undefined) return;
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.postMessage({ type: "close" } satisfies WriterMessage);
    await exited;
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
