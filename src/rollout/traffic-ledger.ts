/**
 * Traffic counts shared between replicas. Every replica counts its own requests in memory (the
 * TrafficMeter, on the request path) and writes its cumulative counts per rollout epoch,
 * deployment and variant as one row of its own (`traffic_counts`) about once a second; whoever
 * judges a canary sums the requests and errors of every replica's row and merges their latency
 * sketches (KLL sketches merge with the same error bound as one sketch fed everything).
 *
 * A replica's row stays after it stops, so traffic it served still counts; rows of an epoch are
 * deleted when its rollout ends (`forget`), and rows nobody has written for `maxAgeMs` are swept
 * (a replica that stopped long ago, an epoch whose `forget` failed or raced a late flush).
 *
 * On SQLite there is one process, so nothing to merge: `trafficLedgerFor` gives no ledger there
 * and the meter reads its own memory, as before. The table exists on SQLite too and this code
 * runs on it (the tests run it on both), but better-sqlite3 writes on the event loop, the thread
 * that serves requests (the reason the prediction log writes from a worker), and a sketch
 * upserted every second there would buy nothing a single process needs.
 */
import { systemClock, type Clock } from "../domain/clock.js";
import { QuantileSketch, type QuantileSketchJSON } from "../math/sketches/quantile-sketch.js";
import type { Store } from "../store/db.js";
import { TrafficCountStore, type TrafficCountRow } from "../store/traffic-counts.js";

/** One variant's counts: a replica's own, or the sum over replicas. */
export interface VariantTraffic {
  requests: number;
  errors: number;
  readonly latencyMs: QuantileSketch;
}

/** One replica's cumulative counts for a variant, as written. */
export interface TrafficEntry {
  readonly deployment: string;
  readonly epoch: string;
  readonly variant: string;
  readonly requests: number;
  readonly errors: number;
  readonly latencyMs: QuantileSketchJSON;
}

/** How long rows nobody writes any more are kept. */
export const TRAFFIC_MAX_AGE_MS = 7 * 86_400_000;

export class TrafficLedger {
  constructor(
    private readonly store: TrafficCountStore,
    /** Names this process's rows; unique among the replicas sharing the database. */
    readonly replica: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Upserts this replica's rows (whole counts, so a repeated or late write is harmless). */
  async write(entries: readonly TrafficEntry[]): Promise<void> {
    const now = this.clock.now();
    await this.store.upsert(
      entries.map((e): TrafficCountRow => ({
        replica: this.replica,
        deployment: e.deployment,
        epoch: e.epoch,
        variant: e.variant,
        requests: e.requests,
        errors: e.errors,
        latency: JSON.stringify(e.latencyMs),
        updated_at: now,
      })),
    );
  }

  /**
   * What this replica's name already has in the epoch, per variant: left by an earlier process
   * of the same name (a restarted pod), which the new one adds to rather than overwrites.
   */
  async mine(deployment: string, epoch: string): Promise<Map<string, VariantTraffic>> {
    const rows = await this.store.replica(this.replica, deployment, epoch);
    return new Map(rows.map((row) => [row.variant, sum([row])]));
  }

  /**
   * The variant's counts in the epoch: this replica's row (`mine`, undefined without one) apart
   * from the sum over every other replica's (`others`), so the caller can put its fresher
   * counts from memory in place of its own row.
   */
  async variant(
    deployment: string,
    epoch: string,
    variant: string,
  ): Promise<{ mine: VariantTraffic | undefined; others: VariantTraffic }> {
    const rows = await this.store.variant(deployment, epoch, variant);
    const mine = rows.filter((r) => r.replica === this.replica);
    return {
      mine: mine.length === 0 ? undefined : sum(mine),
      others: sum(rows.filter((r) => r.replica !== this.replica)),
    };
  }

  /** Deletes every replica's rows of a finished epoch. */
  forget(deployment: string, epoch: string): Promise<number> {
    return this.store.forget(deployment, epoch);
  }

  /** Deletes rows nobody has written for `maxAgeMs`. */
  sweep(maxAgeMs = TRAFFIC_MAX_AGE_MS): Promise<number> {
    return this.store.sweep(this.clock.now() - maxAgeMs);
  }
}

/**
 * Sums rows' counts and merges their sketches. A sketch that does not parse or merge (written by
 * a version with another k) is left out of the latency, not out of the counts.
 */
function sum(rows: readonly TrafficCountRow[]): VariantTraffic {
  const total: VariantTraffic = { requests: 0, errors: 0, latencyMs: new QuantileSketch() };
  for (const row of rows) {
    total.requests += row.requests;
    total.errors += row.errors;
    try {
      total.latencyMs.merge(QuantileSketch.fromJSON(JSON.parse(row.latency), "latency"));
    } catch {
      // counted above; its latencies cannot be combined with the others
    }
  }
  return total;
}

/** Adds `part` into `total` (part is unchanged). */
export function addTraffic(total: VariantTraffic, part: VariantTraffic): void {
  total.requests += part.requests;
  total.errors += part.errors;
  total.latencyMs.merge(part.latencyMs);
}

/** The ledger for a store: PostgreSQL (several replicas) has one; SQLite (one process) none. */
export function trafficLedgerFor(
  store: Store,
  /** This process's rows: the replica id (store/replicas.ts), never reused. */
  replica: string,
  clock: Clock = systemClock,
): TrafficLedger | undefined {
  return store.dialect === "postgres"
    ? new TrafficLedger(new TrafficCountStore(store.db), replica, clock)
    : undefined;
}
