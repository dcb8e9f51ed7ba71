/**
 * Steps through BullMQ, on Redis or on its PostgreSQL backend: the server enqueues a StepTask
 * (no data: the inputs are artifact hashes a worker downloads from the server) and waits for the
 * job's result through QueueEvents, within the attempt's timeout; `ballast worker` processes take
 * the jobs (step-worker.ts). A worker that dies holding a job stops renewing its lock; BullMQ's
 * stalled-job check puts the job back and another worker takes it, so the orchestrator still
 * gets exactly one result for the attempt (the job id is the attempt's, so enqueueing it again
 * after a server restart waits for the same job instead of running the step twice).
 */
import { createHash } from "node:crypto";
import { Queue, QueueEvents, Worker, type Job } from "bullmq";
import type { StepExecutor, StepTask, StepTaskResult } from "../step.js";
import { createPostgresBackend, postgresConnection } from "./postgres.js";
import { parseQueueUrl, type QueueUrl } from "./queue-url.js";

/** What a job carries: the task only. */
export interface StepJobData {
  readonly task: StepTask;
}

export interface QueueTuning {
  /** How long a worker's lock on a job lasts unless renewed (BullMQ `lockDuration`). */
  readonly lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (BullMQ `stalledInterval`). */
  readonly stalledIntervalMs?: number;
  /** Finished jobs kept for inspection, per state. */
  readonly keepFinished?: number;
}

const KEEP_FINISHED = 1000;

/**
 * The constructor arguments for one `--queue` URL. BullMQ's classes take the backend factory as
 * their third argument; its generic types differ per backend, and these options are handed
 * through unchanged, hence the loose type.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: per-backend generics
type Backend = { connection: any; factory: any };

export function backendFor(q: QueueUrl): Backend {
  if (q.backend === "postgres") return { connection: postgresConnection(q), factory: createPostgresBackend };
  // BullMQ's blocking commands need ioredis to retry forever rather than fail a request.
  return { connection: { url: q.url, maxRetriesPerRequest: null }, factory: undefined };
}

/** The job id of one attempt: the same attempt enqueued twice is one job. */
export function jobIdOf(task: Pick<StepTask, "runId" | "step" | "attempt">): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([task.runId, task.step, task.attempt]))
    .digest("hex");
  return `attempt-${digest.slice(0, 32)}`;
}

export class QueueExecutor implements StepExecutor {
  readonly #queue: Queue<StepJobData, StepTaskResult>;
  readonly #events: QueueEvents;
  readonly #ready: Promise<unknown>;
  readonly #keep: number;

  constructor(url: string | QueueUrl, tuning: QueueTuning = {}) {
    const q = typeof url === "string" ? parseQueueUrl(url) : url;
    const { connection, factory } = backendFor(q);
    this.#queue = new Queue<StepJobData, StepTaskResult>(q.queue, { connection }, factory);
    this.#events = new QueueEvents(q.queue, { connection }, factory);
    this.#keep = tuning.keepFinished ?? KEEP_FINISHED;
    // Connection errors are retried by the drivers; unhandled 'error' events would end the process.
    this.#queue.on("error", () => undefined);
    this.#events.on("error", () => undefined);
    this.#ready = Promise.all([this.#queue.waitUntilReady(), this.#events.waitUntilReady()]);
    // Seen by the first execute; a server that never queues a step must not die of it unheard.
    this.#ready.catch(() => undefined);
  }

  async execute(task: StepTask, signal: AbortSignal): Promise<StepTaskResult> {
    await this.#ready;
    signal.throwIfAborted();
    const job = await this.#queue.add(
      task.kind,
      { task },
      {
        jobId: jobIdOf(task),
        // Retries are the orchestrator's (with its backoff); a stalled job is put back by BullMQ.
        attempts: 1,
        removeOnComplete: this.#keep,
        removeOnFail: this.#keep,
      },
    );
    const finished = job.waitUntilFinished(this.#events, task.timeoutMs) as Promise<StepTaskResult>;
    const aborted = new Promise<never>((_, reject) => {
      const stop = () => reject(signal.reason instanceof Error ? signal.reason : new Error("step cancelled"));
      if (signal.aborted) stop();
      else signal.addEventListener("abort", stop, { once: true });
    });
    try {
      return await Promise.race([finished, aborted]);
    } catch (error) {
      // A job still waiting is taken back; one a worker runs finishes there, its result unread.
      await job.remove().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#events.close();
    await this.#queue.close();
  }
}

/** A BullMQ worker on the `--queue` URL, processing jobs with `process`. */
export function stepQueueWorker(
  url: string | QueueUrl,
  process: (job: Job<StepJobData, StepTaskResult>) => Promise<StepTaskResult>,
  options: { readonly concurrency?: number } & QueueTuning = {},
): Worker<StepJobData, StepTaskResult> {
  const q = typeof url === "string" ? parseQueueUrl(url) : url;
  const { connection, factory } = backendFor(q);
  const worker = new Worker<StepJobData, StepTaskResult>(
    q.queue,
    process,
    {
      connection,
      concurrency: options.concurrency ?? 1,
      ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
      ...(options.stalledIntervalMs === undefined ? {} : { stalledInterval: options.stalledIntervalMs }),
      // A job stalled once (its worker died) is put back; a second stall fails the attempt.
      maxStalledCount: 1,
    },
    factory,
  );
  worker.on("error", () => undefined);
  return worker;
}

/** Deletes a queue and its jobs (tests, and `ballast worker` users starting afresh). */
export async function obliterateQueue(url: string | QueueUrl): Promise<void> {
  const q = typeof url === "string" ? parseQueueUrl(url) : url;
  const { connection, factory } = backendFor(q);
  const queue = new Queue(q.queue, { connection }, factory);
  queue.on("error", () => undefined);
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
  }
}
