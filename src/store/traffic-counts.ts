/**
 * The `traffic_counts` table: one row per (replica, deployment, epoch, variant) holding that
 * replica's cumulative requests, errors and latency sketch (JSON) for the epoch. Each replica
 * writes only its own rows, so upserts never contend; readers sum over replicas.
 */
import type { Kysely } from "kysely";
import type { Database, TrafficCountsTable } from "./schema.js";

export type TrafficCountRow = TrafficCountsTable;

export class TrafficCountStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts or replaces the rows (each is a replica's whole count so far, not an increment). */
  async upsert(rows: readonly TrafficCountRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto("traffic_counts")
      .values([...rows])
      .onConflict((oc) =>
        oc.columns(["replica", "deployment", "epoch", "variant"]).doUpdateSet((eb) => ({
          requests: eb.ref("excluded.requests"),
          errors: eb.ref("excluded.errors"),
          latency: eb.ref("excluded.latency"),
          updated_at: eb.ref("excluded.updated_at"),
        })),
      )
      .execute();
  }

  /** Every replica's row for one variant in one epoch. */
  async variant(deployment: string, epoch: string, variant: string): Promise<TrafficCountRow[]> {
    return this.db
      .selectFrom("traffic_counts")
      .selectAll()
      .where("deployment", "=", deployment)
      .where("epoch", "=", epoch)
      .where("variant", "=", variant)
      .execute();
  }

  /** One replica's rows of an epoch (what an earlier process with the same replica name left). */
  async replica(replica: string, deployment: string, epoch: string): Promise<TrafficCountRow[]> {
    return this.db
      .selectFrom("traffic_counts")
      .selectAll()
      .where("replica", "=", replica)
      .where("deployment", "=", deployment)
      .where("epoch", "=", epoch)
      .execute();
  }

  /** Deletes every replica's rows of an epoch; returns how many. */
  async forget(deployment: string, epoch: string): Promise<number> {
    const result = await this.db
      .deleteFrom("traffic_counts")
      .where("deployment", "=", deployment)
      .where("epoch", "=", epoch)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes rows last written before `before` (epoch ms); returns how many. */
  async sweep(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom("traffic_counts")
      .where("updated_at", "<", before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
