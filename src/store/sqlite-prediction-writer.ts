/**
 * The prediction-log sink for SQLite: batches go to a worker thread that inserts them with a
 * prepared statement. Rows are turned into flat values here (JSON text for inputs and
 * outputs), so what crosses the thread boundary is cheap to copy.
 */
import type { Worker } from "node:worker_threads";
import type { PredictionRecord, PredictionSink } from "../domain/prediction.js";
import { siblingModule, startModuleWorker } from "./worker.js";

export type PredictionRowValues = [string, string, string, string, number, string, string, number, number];
export type WriterMessage = { type: "write"; id: number; rows: PredictionRowValues[] } | { type: "close" };
export interface WriterReply {
  id: number;
  error: string | null;
}

export class SqlitePredictionWriter implements PredictionSink {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
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
      if (reply.error === null) waiter?.resolve();
      else waiter?.reject(new Error(`prediction log write failed: ${reply.error}`));
    });
    this.worker.on("error", (error: unknown) =>
      this.failAll(
        new Error(`prediction log writer failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
    );
    this.worker.on("exit", (code) => this.failAll(new Error(`prediction log writer stopped (exit ${code})`)));
  }

  write(rows: readonly PredictionRecord[]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    const values = rows.map((r): PredictionRowValues => [
      r.requestId,
      r.variant,
      r.deployment,
      r.model,
      r.modelVersion,
      JSON.stringify(r.inputs),
      JSON.stringify(r.outputs),
      r.latencyMs,
      r.createdAt,
    ]);
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: "write", id, rows: values } satisfies WriterMessage);
    });
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
