/**
 * Requests, errors and latency per variant of the deployments being rolled out, counted on the
 * request path (a map lookup and a sketch update) for the analysis to read.
 *
 * Counts belong to an epoch, the rollout's id: every replica learns of a rollout and calls
 * `watch(deployment, epoch)`, so all count the same period, and a new rollout starts from zero.
 * With a ledger (PostgreSQL, several replicas) a flusher writes this replica's cumulative counts
 * every `flushMs` and at `close`, and `read` sums every replica's counts and merges their latency
 * sketches; without one (SQLite, one process) `read` answers from memory and counts start again
 * after a restart, while the sequential tests' state, persisted with the rollout, carries the
 * evidence gathered so far. No request waits for the database either way.
 */
import { systemClock, type Clock } from "../domain/clock.js";
import { QuantileSketch } from "../math/sketches/quantile-sketch.js";
import type { InferenceObserver, InferenceOutcome } from "../serving/inference.js";
import {
  TRAFFIC_MAX_AGE_MS,
  addTraffic,
  type TrafficEntry,
  type TrafficLedger,
  type VariantTraffic,
} from "./traffic-ledger.js";

interface VariantCounts extends VariantTraffic {
  /** Counted since the last write. */
  dirty: boolean;
  writtenAt: number;
}

interface EpochCounts {
  readonly epoch: string;
  readonly variants: Map<string, VariantCounts>;
  /**
   * Whether what this replica's row already held when it started counting the epoch (an earlier
   * process of the same name) has been added in; until then nothing is written.
   */
  adopted: boolean;
}

export interface TrafficReading {
  readonly requests: number;
  readonly errors: number;
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface TrafficMeterOptions {
  /** Shares counts between replicas; absent, the meter counts and reads in memory only. */
  readonly ledger?: TrafficLedger;
  readonly clock?: Clock;
  /** How often `start`'s timer writes counts. Default 1 s. */
  readonly flushMs?: number;
  /** Rows are rewritten at least this often, even without new traffic, so the sweep spares them. Default 1 h. */
  readonly refreshMs?: number;
  /** How often the flusher sweeps rows nobody writes any more. Default 1 h. */
  readonly sweepEveryMs?: number;
  /** Rows not written for this long are swept. Default 7 days. */
  readonly maxAgeMs?: number;
  /** A timer flush failed (the next one tries again with the counts so far). */
  readonly onFlushError?: (error: unknown) => void;
}

/** Outcomes that are the caller's fault do not count against a model. */
const CLIENT_ERRORS = new Set(["invalid_argument", "not_found", "payload_too_large", "unauthenticated"]);

const FLUSH_MS = 1000;
const REFRESH_MS = 3_600_000;
const SWEEP_EVERY_MS = 3_600_000;

export class TrafficMeter implements InferenceObserver {
  private readonly watched = new Map<string, EpochCounts>();
  private readonly ledger: TrafficLedger | undefined;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private flushes: Promise<void> = Promise.resolve();
  private pendingFlushes = 0;
  private sweptAt = -Infinity;

  constructor(private readonly options: TrafficMeterOptions = {}) {
    this.ledger = options.ledger;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Counts the deployment's traffic under `epoch` (the rollout's id). Calling it again with the
   * same epoch keeps the counts; another epoch starts from zero.
   */
  watch(deployment: string, epoch: string): void {
    if (this.watched.get(deployment)?.epoch === epoch) return;
    this.watched.set(deployment, { epoch, variants: new Map(), adopted: false });
  }

  /** Stops counting the deployment (what was written stays, for `forget` or the sweep). */
  unwatch(deployment: string): void {
    this.watched.delete(deployment);
  }

  /** The epoch the deployment is counted under, if it is watched. */
  epochOf(deployment: string): string | undefined {
    return this.watched.get(deployment)?.epoch;
  }

  watching(): Array<{ deployment: string; epoch: string }> {
    return [...this.watched].map(([deployment, e]) => ({ deployment, epoch: e.epoch }));
  }

  observe(outcome: InferenceOutcome): void {
    const watched = this.watched.get(outcome.deployment);
    if (watched === undefined || CLIENT_ERRORS.has(outcome.code)) return;
    const counts = countsOf(watched, outcome.variant);
    counts.requests++;
    // A fallback's answer hides the variant's failure from the client, not from the analysis.
    if (outcome.code !== "ok" || outcome.fallback !== undefined) counts.errors++;
    counts.latencyMs.update(outcome.seconds * 1000);
    counts.dirty = true;
  }

  /**
   * The variant's traffic in the epoch: with a ledger, every replica's (this one's from memory,
   * the others' as last written); without, this replica's.
   */
  async read(deployment: string, variant: string, epoch: string): Promise<TrafficReading> {
    if (this.ledger === undefined) {
      const watched = this.watched.get(deployment);
      return readingOf(watched?.epoch === epoch ? watched.variants.get(variant) : undefined);
    }
    const { mine, others } = await this.ledger.variant(deployment, epoch, variant);
    // Looked at after the query: a flush may have adopted the row meanwhile.
    const watched = this.watched.get(deployment);
    const current = watched?.epoch === epoch ? watched : undefined;
    const local = current?.variants.get(variant);
    // Adopted, memory holds everything the row does and more; not yet, the row is another
    // process's and memory has only what came after it.
    if (current?.adopted !== true && mine !== undefined) addTraffic(others, mine);
    if (local !== undefined) addTraffic(others, local);
    return readingOf(others);
  }

  /** The epoch's rollout ended: stops counting it here and deletes every replica's rows of it. */
  async forget(deployment: string, epoch: string): Promise<void> {
    if (this.watched.get(deployment)?.epoch === epoch) this.watched.delete(deployment);
    await this.ledger?.forget(deployment, epoch);
  }

  /** Writes this replica's counts that changed (or were not written for `refreshMs`); one at a time. */
  flush(): Promise<void> {
    this.pendingFlushes++;
    const run = async () => {
      try {
        await this.flushOnce();
      } finally {
        this.pendingFlushes--;
      }
    };
    const next = this.flushes.then(run, run);
    this.flushes = next;
    return next;
  }

  /** Starts the flusher (a no-op without a ledger). */
  start(): void {
    if (this.ledger === undefined || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // A slow database: skip a beat rather than queue flushes behind each other.
      if (this.pendingFlushes > 0) return;
      this.flush().catch((error: unknown) => this.options.onFlushError?.(error));
    }, this.options.flushMs ?? FLUSH_MS);
    this.timer.unref();
  }

  /** Stops the flusher and writes what was counted since the last flush. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async flushOnce(): Promise<void> {
    const ledger = this.ledger;
    if (ledger === undefined) return;
    for (const [deployment, watched] of [...this.watched]) {
      if (watched.adopted || ![...watched.variants.values()].some((c) => c.dirty)) continue;
      const earlier = await ledger.mine(deployment, watched.epoch);
      // Flushes run one at a time, so nobody adopted it meanwhile; it may have been unwatched.
      for (const [variant, traffic] of earlier) {
        const counts = countsOf(watched, variant);
        addTraffic(counts, traffic);
        counts.dirty = true;
      }
      watched.adopted = true;
    }
    const now = this.clock.now();
    const refreshMs = this.options.refreshMs ?? REFRESH_MS;
    const written: VariantCounts[] = [];
    const entries: TrafficEntry[] = [];
    for (const [deployment, watched] of this.watched) {
      if (!watched.adopted) continue;
      for (const [variant, counts] of watched.variants) {
        if (!counts.dirty && now - counts.writtenAt < refreshMs) continue;
        entries.push({
          deployment,
          epoch: watched.epoch,
          variant,
          requests: counts.requests,
          errors: counts.errors,
          latencyMs: counts.latencyMs.toJSON(),
        });
        counts.dirty = false;
        written.push(counts);
      }
    }
    try {
      await ledger.write(entries);
    } catch (error) {
      for (const counts of written) counts.dirty = true;
      throw error;
    }
    for (const counts of written) counts.writtenAt = now;
    if (now - this.sweptAt >= (this.options.sweepEveryMs ?? SWEEP_EVERY_MS)) {
      this.sweptAt = now;
      await ledger.sweep(this.options.maxAgeMs ?? TRAFFIC_MAX_AGE_MS);
    }
  }
}

function countsOf(watched: EpochCounts, variant: string): VariantCounts {
  let counts = watched.variants.get(variant);
  if (counts === undefined) {
    counts = { requests: 0, errors: 0, latencyMs: new QuantileSketch(), dirty: false, writtenAt: -Infinity };
    watched.variants.set(variant, counts);
  }
  return counts;
}

function readingOf(traffic: VariantTraffic | undefined): TrafficReading {
  if (traffic === undefined || traffic.requests === 0 || traffic.latencyMs.count === 0)
    return { requests: traffic?.requests ?? 0, errors: traffic?.errors ?? 0, p50: null, p99: null };
  return {
    requests: traffic.requests,
    errors: traffic.errors,
    p50: traffic.latencyMs.quantile(0.5),
    p99: traffic.latencyMs.quantile(0.99),
  };
}
