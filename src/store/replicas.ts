/**
 * Who is serving: each replica has an id (host, pid and a random part, so a restarted process
 * with a recycled pid is a new replica) and a row in `replicas` it refreshes every few seconds
 * with the revision it serves. Rows say what replicas reported; a row not refreshed for
 * `staleMs` is shown as not alive, and one silent for a day is removed.
 *
 * Times are the replicas' own clocks: a few seconds of skew only shift when a row looks stale,
 * and nothing is decided from them (leases use the database's clock).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Kysely } from "kysely";
import { systemClock, type Clock } from "../domain/clock.js";
import type { Database } from "./schema.js";

export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_STALE_MS = 30_000;
const FORGOTTEN_MS = 24 * 60 * 60 * 1000;

/** `<host>-<pid>-<6 hex>`: unique per process start, readable in logs and lease rows. */
export function replicaId(host: string = hostname(), pid: number = process.pid): string {
  return `${host}-${pid}-${randomBytes(3).toString("hex")}`;
}

export interface ReplicaStatus {
  readonly id: string;
  readonly startedAt: number;
  readonly lastSeen: number;
  readonly servedRevision: number | null;
  readonly alive: boolean;
}

export interface HeartbeatOptions {
  readonly id: string;
  readonly clock?: Clock;
  readonly intervalMs?: number;
  readonly staleMs?: number;
  readonly onError?: (error: unknown) => void;
}

export class ReplicaHeartbeat {
  readonly id: string;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly staleMs: number;
  private readonly onError: (error: unknown) => void;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    options: HeartbeatOptions,
  ) {
    this.id = options.id;
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? DEFAULT_HEARTBEAT_MS;
    this.staleMs = options.staleMs ?? DEFAULT_STALE_MS;
    this.onError = options.onError ?? (() => {});
    this.startedAt = this.clock.now();
  }

  /** Records that this replica is alive and serves `servedRevision`. */
  async beat(servedRevision: number | null = null): Promise<void> {
    const now = this.clock.now();
    await this.db
      .insertInto("replicas")
      .values({ id: this.id, started_at: this.startedAt, last_seen: now, served_revision: servedRevision })
      .onConflict((oc) => oc.column("id").doUpdateSet({ last_seen: now, served_revision: servedRevision }))
      .execute();
    await this.db
      .deleteFrom("replicas")
      .where("last_seen", "<", now - FORGOTTEN_MS)
      .execute();
  }

  /** Beats now and every `intervalMs`, reporting what `served()` says at each beat. */
  start(served: () => number | null = () => null): void {
    if (this.timer !== undefined) return;
    const beat = (): void => {
      this.beating ??= this.beat(served())
        .catch(this.onError)
        .finally(() => (this.beating = undefined));
    };
    beat();
    this.timer = setInterval(beat, this.intervalMs);
    this.timer.unref();
  }

  async list(): Promise<ReplicaStatus[]> {
    const now = this.clock.now();
    const rows = await this.db.selectFrom("replicas").selectAll().orderBy("id").execute();
    return rows.map((r) => ({
      id: r.id,
      startedAt: Number(r.started_at),
      lastSeen: Number(r.last_seen),
      servedRevision: r.served_revision === null ? null : Number(r.served_revision),
      alive: now - Number(r.last_seen) <= this.staleMs,
    }));
  }

  /** Stops beating and removes this replica's row: a clean shutdown is not a dead replica. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    await this.db.deleteFrom("replicas").where("id", "=", this.id).execute();
  }
}
