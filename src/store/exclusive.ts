/**
 * A section of work that runs on one replica at a time: on PostgreSQL, under a transaction-scoped
 * advisory lock named by `name` (released when the work ends, or when a dead replica's connection
 * closes); on SQLite, one node, the work just runs. The work itself uses other connections, so
 * it must not wait for a lock this section's transaction holds (it holds only the advisory one).
 */
import { sql } from "kysely";
import type { Store } from "./db.js";

export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

export const UNSHARED: Exclusive = (work) => work();

export function exclusiveSection(store: Store, name: string): Exclusive {
  if (store.dialect !== "postgres") return UNSHARED;
  return (work) =>
    store.db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${name}))`.execute(tx);
      return work();
    });
}
