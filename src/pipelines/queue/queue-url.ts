/**
 * `--queue` names the engine steps go through: `redis://host:port[/db]` (BullMQ on Redis) or
 * `postgres://…` (BullMQ's PostgreSQL backend, in its own schema). `?queue=NAME` picks the queue
 * (default `ballast-steps`), so several Ballasts can share one Redis or database; on PostgreSQL
 * `?schema=NAME` picks the schema (default `ballast_queue`). Both are taken out of the URL
 * before it reaches the driver.
 */
import { invalidField, shown } from "../../registry/field.js";

export type QueueUrl =
  | { readonly backend: "redis"; readonly url: string; readonly queue: string }
  | { readonly backend: "postgres"; readonly url: string; readonly queue: string; readonly schema: string };

export const DEFAULT_QUEUE_NAME = "ballast-steps";
export const DEFAULT_QUEUE_SCHEMA = "ballast_queue";
const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function parseQueueUrl(raw: string, field = "--queue"): QueueUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidField(field, `expected redis://host:port or postgres://user@host/db, got ${shown(raw)}`);
  }
  const queue = url.searchParams.get("queue") ?? DEFAULT_QUEUE_NAME;
  if (!QUEUE_NAME.test(queue))
    throw invalidField(`${field} queue`, `expected a queue name, got ${shown(queue)}`);
  url.searchParams.delete("queue");
  if (url.protocol === "redis:" || url.protocol === "rediss:")
    return { backend: "redis", url: url.toString(), queue };
  if (url.protocol === "postgres:" || url.protocol === "postgresql:") {
    const schema = url.searchParams.get("schema") ?? DEFAULT_QUEUE_SCHEMA;
    if (!SCHEMA_NAME.test(schema))
      throw invalidField(`${field} schema`, `expected a lowercase schema name, got ${shown(schema)}`);
    url.searchParams.delete("schema");
    return { backend: "postgres", url: url.toString(), queue, schema };
  }
  throw invalidField(field, `expected a redis:// or postgres:// URL, got ${shown(url.protocol)}`);
}
