/**
 * Leases for reconcilers that must run on one replica at a time (rollouts, source sync,
 * performance monitors, retention): one row per name in `leases`, taken or renewed by one
 * atomic upsert that succeeds only when the row is ours or has expired. A holder renews every
 * `renewMs` (3 s); a holder that dies stops renewing, its row expires after `ttlMs` (10 s) and
 * the next replica to try takes it, so a takeover happens within ttl + renew (13 s < 15 s).
 *
 * Invariant: `holds(name)` is true only until `ttlMs` after this keeper *sent* its last
 * successful upsert, measured on a monotonic clock. The row's expiry is counted from a moment
 * after that, so the keeper gives a lease up (locally) no later than anyone else may take it.
 *
 * Whose time decides expiry: on PostgreSQL the database's (`clock_timestamp()`), because
 * replicas' clocks may disagree and the one clock every replica's upsert is judged by is the
 * server's. On SQLite (one node) the process clock, which is the same clock for every keeper.
 * A test injects its manual clock and then that clock decides on both.
 */
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Clock } from "../domain/clock.js";
import type { Store } from "./db.js";
import type { Database } from "./schema.js";

export const DEFAULT_LEASE_TTL_MS = 10_000;
export const DEFAULT_LEASE_RENEW_MS = 3_000;

export interface LeaseKeeperOptions {
  /** Who this keeper is in the `holder` column: the replica's id. */
  readonly holder: string;
  readonly ttlMs?: number;
  readonly renewMs?: number;
  /** Decides expiry instead of the database's clock (tests); also the keeper's own clock then. */
  readonly clock?: Clock;
  /** A renewal the database refused; the lease is kept locally until its deadline. */
  readonly onError?: (name: string, error: unknown) => void;
}

export type LeaseListener = (name: string, held: boolean) => void;

export type LeaseRun<T> = { readonly ran: true; readonly value: T } | { readonly ran: false };

const monotonic: Clock = { now: () => performance.now() };

export class LeaseKeeper {
  private readonly db: Kysely<Database>;
  private readonly dialect: Store["dialect"];
  private readonly holder: string;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly decidingClock: Clock | undefined;
  private readonly localClock: Clock;
  private readonly onError: (name: string, error: unknown) => void;
  /** The names contended for, each with the local deadline of the lease held (if held). */
  private readonly names = new Map<string, { heldUntil: number | undefined }>();
  private readonly listeners = new Set<LeaseListener>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  /** Upserts under way, so close releases what they take. */
  private readonly attempts = new Set<Promise<void>>();
  private closed = false;

  constructor(store: Pick<Store, "db" | "dialect">, options: LeaseKeeperOptions) {
    this.db = store.db;
    this.dialect = store.dialect;
    this.holder = options.holder;
    this.ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.renewMs = options.renewMs ?? DEFAULT_LEASE_RENEW_MS;
    if (!(this.renewMs < this.ttlMs))
      throw new Error(`renewMs (${this.renewMs}) must be below ttlMs (${this.ttlMs})`);
    this.decidingClock =
      options.clock ?? (store.dialect === "sqlite" ? { now: () => Date.now() } : undefined);
    this.localClock = options.clock ?? monotonic;
    this.onError = options.onError ?? (() => {});
  }

  /** Renews every `renewMs` from now on (the timer does not keep the process alive). */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => void this.renew(), this.renewMs);
    this.timer.unref();
  }

  /** Joins the contest for `name` (once) and tries to take it now; true when held. */
  async contend(name: string): Promise<boolean> {
    if (!this.names.has(name)) this.names.set(name, { heldUntil: undefined });
    await this.attempt(name);
    return this.holds(name);
  }

  /** One round: renews the leases held and tries to take the others. Rounds never overlap. */
  renew(): Promise<void> {
    this.round ??= (async () => {
      try {
        for (const name of this.names.keys()) await this.attempt(name);
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  holds(name: string): boolean {
    const state = this.names.get(name);
    if (state?.heldUntil === undefined) return false;
    if (this.localClock.now() < state.heldUntil) return true;
    this.set(name, undefined);
    return false;
  }

  /** Runs `work` only while this replica holds `name` (contending for it on first use). */
  async run<T>(name: string, work: () => Promise<T>): Promise<LeaseRun<T>> {
    if (!this.names.has(name)) await this.contend(name);
    if (!this.holds(name)) return { ran: false };
    return { ran: true, value: await work() };
  }

  /** Called when a lease is taken, lost or released; returns the unsubscribe. */
  onChange(listener: LeaseListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Stops renewing and gives up the leases held, so another replica takes them at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([this.round, ...this.attempts]);
    for (const [name, state] of this.names) {
      if (state.heldUntil === undefined) continue;
      this.set(name, undefined);
      await this.db
        .deleteFrom("leases")
        .where("name", "=", name)
        .where("holder", "=", this.holder)
        .execute()
        .catch((error: unknown) => this.onError(name, error));
    }
  }

  private async attempt(name: string): Promise<void> {
    if (this.closed) return;
    const attempt = (async () => {
      const sentAt = this.localClock.now();
      try {
        const held = await this.upsert(name);
        this.set(name, held ? sentAt + this.ttlMs : undefined);
      } catch (error) {
        this.onError(name, error);
        this.holds(name); // a lease past its deadline is reported lost
      }
    })();
    this.attempts.add(attempt);
    await attempt;
    this.attempts.delete(attempt);
  }

  /** The one atomic statement: take the row if it is ours or expired, and say whether we did. */
  private async upsert(name: string): Promise<boolean> {
    const now: RawBuilder<number> =
      this.decidingClock === undefined
        ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
        : sql<number>`${this.decidingClock.now()}`;
    const ttl = this.dialect === "postgres" ? sql<number>`${this.ttlMs}::bigint` : sql<number>`${this.ttlMs}`;
    const row = await this.db
      .insertInto("leases")
      .values({ name, holder: this.holder, acquired_at: now, expires_at: sql<number>`${now} + ${ttl}` })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet({
            holder: (eb) => eb.ref("excluded.holder"),
            // A renewal keeps the time the lease was taken; a takeover starts it again.
            acquired_at: sql<number>`case when leases.holder = excluded.holder then leases.acquired_at else excluded.acquired_at end`,
            expires_at: (eb) => eb.ref("excluded.expires_at"),
          })
          .where((eb) =>
            eb.or([
              eb("leases.holder", "=", eb.ref("excluded.holder")),
              eb("leases.expires_at", "<=", eb.ref("excluded.acquired_at")),
            ]),
          ),
      )
      .returning("holder")
      .executeTakeFirst();
    return row !== undefined;
  }

  private set(name: string, heldUntil: number | undefined): void {
    const state = this.names.get(name);
    if (state === undefined) return;
    const was = state.heldUntil !== undefined;
    state.heldUntil = heldUntil;
    const is = heldUntil !== undefined;
    if (was === is) return;
    for (const listener of this.listeners) {
      try {
        listener(name, is);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
  }
}

export interface LeaseRow {
  readonly name: string;
  readonly holder: string;
  /** Epoch ms by the clock that decides expiry (the database's on PostgreSQL). */
  readonly expiresAt: number;
}

/** Every lease row, for GET /api/v1/replicas: who runs which reconciler. */
export async function leaseRows(db: Kysely<Database>): Promise<LeaseRow[]> {
  const rows = await db
    .selectFrom("leases")
    .select(["name", "holder", "expires_at"])
    .orderBy("name")
    .execute();
  return rows.map((r) => ({ name: r.name, holder: r.holder, expiresAt: Number(r.expires_at) }));
}
