/**
 * `ballast worker --server URL --queue URL [--token T] [--concurrency N]`: takes pipeline steps
 * from the queue (BullMQ on Redis or PostgreSQL) and runs them here. The server stays the
 * orchestrator; a worker needs only its URL and a token (inputs are downloaded from it, outputs
 * uploaded to it) and the queue. Only steps that need no server (`anywhere`: split, train…)
 * are queued. Runs until SIGINT/SIGTERM; a step in progress then finishes first.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { parseDuration } from "../../domain/duration.js";
import { invalid } from "../../domain/errors.js";
import { httpArtifactClient } from "../../pipelines/queue/artifact-client.js";
import { stepQueueWorker } from "../../pipelines/queue/bullmq.js";
import { parseQueueUrl } from "../../pipelines/queue/queue-url.js";
import { runStepTask } from "../../pipelines/queue/step-worker.js";
import { stepKinds } from "../../pipelines/steps/index.js";
import { serverOptions } from "../client.js";
import { parsePositiveInt } from "../options.js";

interface WorkerOptions {
  server: string;
  token?: string;
  queue?: string;
  concurrency: string;
  workDir?: string;
  lockDuration: string;
  stalledInterval: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  serverOptions(
    program
      .command("worker")
      .description(
        "Run pipeline steps taken from a queue (BullMQ on Redis or PostgreSQL) for a Ballast server",
      ),
  )
    .option("--queue <url>", "redis://host:port or postgres://…, as the server's --queue (or $BALLAST_QUEUE)")
    .option("--concurrency <n>", "steps run at once", "1")
    .option("--work-dir <dir>", "where steps get their working directories (default: the system's temp dir)")
    .option("--lock-duration <duration>", "how long a job stays this worker's without renewal", "30s")
    .option("--stalled-interval <duration>", "how often jobs of dead workers are looked for", "30s")
    .option("--quiet", "no line per step")
    .action(async (options: WorkerOptions) => {
      const queueUrl = options.queue ?? process.env.BALLAST_QUEUE;
      if (queueUrl === undefined || queueUrl === "") throw invalid("--queue is required (or $BALLAST_QUEUE)");
      const q = parseQueueUrl(queueUrl);
      const concurrency = parsePositiveInt(options.concurrency, "--concurrency");
      const lockDurationMs = parseDuration(options.lockDuration, "--lock-duration");
      const stalledIntervalMs = parseDuration(options.stalledInterval, "--stalled-interval");
      const artifacts = httpArtifactClient(options.server, options.token ?? process.env.BALLAST_TOKEN);
      const workRoot = join(options.workDir ?? tmpdir(), `ballast-worker-${process.pid}`);
      const say = (line: string) => {
        if (options.quiet !== true) process.stderr.write(`${line}\n`);
      };
      const worker = stepQueueWorker(
        q,
        async (job) => {
          const task = job.data.task;
          say(
            `step ${task.pipeline}/${task.runId}/${task.step} (attempt ${task.attempt}, ${task.kind}) started`,
          );
          // Stopping waits for the step (worker.close); its own timeout is the only abort here.
          const running = new AbortController();
          const result = await runStepTask(
            task,
            {
              kinds: stepKinds,
              artifacts,
              workRoot,
              log: (line) => {
                say(`  ${task.step}: ${line}`);
                void job.log(line).catch(() => undefined);
              },
            },
            running.signal,
          );
          say(`step ${task.pipeline}/${task.runId}/${task.step} finished`);
          return result;
        },
        { concurrency, lockDurationMs, stalledIntervalMs },
      );
      await worker.waitUntilReady();
      process.stderr.write(
        `ballast worker ${process.pid} taking steps from ${q.backend} queue ${q.queue} for ${options.server} (concurrency ${concurrency})\n`,
      );
      const stop = async () => {
        await worker.close();
        process.exit(0);
      };
      process.once("SIGINT", () => void stop());
      process.once("SIGTERM", () => void stop());
    });
}
