/**
 * BullMQ's PostgreSQL backend (bullmq 6.x ships it: `createPostgresBackend`, checked in the
 * installed package rather than assumed), so `--queue postgres://…` needs no Redis: the same
 * Queue, Worker and QueueEvents, with jobs, locks, stalled-job detection and completion events
 * in tables of their own schema (created on first connect).
 */
import { createPostgresBackend } from "bullmq";
import type { QueueUrl } from "./queue-url.js";

export function postgresConnection(q: Extract<QueueUrl, { backend: "postgres" }>) {
  // A small pool per process: a worker holds one LISTEN connection and a few for its jobs.
  return { connectionString: q.url, schema: q.schema, migrate: true, max: 4 };
}

export { createPostgresBackend };
