/**
 * Market data in: instruments, their bars, and the streaming indicators after every bar. One
 * door for every source (the HTTP API, `ballast instruments load`, a pipeline).
 *
 * An append is one transaction (instrument-store.ts): the bars and the indicator state move
 * together or not at all, and appends to one instrument take turns, across replicas too. Within
 * this process they also run one at a time per instrument, so listeners hear batches in the
 * order they were committed.
 *
 * Listeners (`onBars`) are called after the commit, once per batch that added bars, with the
 * bars added in time order. They are awaited before the append answers (a slow listener slows
 * its client, which is the back-pressure wanted for a joined outcome), and a listener that
 * throws is counted, never fails the append: the bars are stored by then. A replica's listeners
 * hear the appends made through that replica.
 */
import type { Clock } from "../domain/clock.js";
import { BallastError, conflict, invalid, notFound } from "../domain/errors.js";
import { SerialQueue } from "../domain/serial-queue.js";
import { planAppend, type AppendPlan } from "../markets/bar-append.js";
import { parseBars, type MarketBar } from "../markets/bar-input.js";
import {
  checkInstrumentId,
  emptyIndicatorSet,
  MAX_REORDER_TOLERANCE,
  parseInstrumentConfig,
  sameIndicators,
  type IndicatorSnapshot,
  type InstrumentConfig,
} from "../markets/instrument.js";
import {
  InstrumentStore,
  type BarWithIndicators,
  type StoredInstrument,
} from "../markets/instrument-store.js";

/** A bar this append stored, with what the indicators say after it. */
export interface AcceptedBar {
  readonly bar: MarketBar;
  /** ln(close / previous close); null for the instrument's first bar. */
  readonly logReturn: number | null;
  /** The close equals the previous one. */
  readonly repeated: boolean;
  /** The step from the previous bar is longer than the instrument's maxGap. */
  readonly gap: boolean;
  /** It landed before bars already stored (within reorderTolerance); their indicators were recomputed. */
  readonly late: boolean;
  readonly indicators: IndicatorSnapshot;
}

export type BarsListener = (instrument: string, accepted: readonly AcceptedBar[]) => void | Promise<void>;

export interface AppendResult {
  readonly instrument: string;
  /** New bars stored. */
  readonly accepted: number;
  /** Bars equal to one already stored (or sent twice in the batch): nothing changed. */
  readonly duplicates: number;
  /** New bars that arrived after a bar with a later time, and were put in their place. */
  readonly reordered: number;
  /** New bars whose close repeats the previous one. */
  readonly repeated: number;
  /** New bars after a step longer than maxGap. */
  readonly gaps: number;
  /** The newest bar's indicators after the batch (null while the instrument has no bars). */
  readonly last: IndicatorSnapshot | null;
}

/** Why bars were refused, for /metrics. */
export const REFUSAL_REASONS = ["invalid", "conflict", "too_late", "too_large"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface InstrumentStats {
  readonly barsAccepted: number;
  readonly barsDuplicate: number;
  readonly barsRepeated: number;
  readonly refused: Readonly<Record<RefusalReason, number>>;
  readonly listenerErrors: number;
}

export const MAX_LIST = 1000;
export const MAX_BARS_READ = 10_000;

export class Instruments {
  private readonly store: InstrumentStore;
  private readonly clock: Clock;
  private readonly listeners = new Set<BarsListener>();
  private readonly queues = new Map<string, { queue: SerialQueue; pending: number }>();
  private readonly counts = {
    barsAccepted: 0,
    barsDuplicate: 0,
    barsRepeated: 0,
    refused: { invalid: 0, conflict: 0, too_late: 0, too_large: 0 } as Record<RefusalReason, number>,
    listenerErrors: 0,
  };

  constructor(store: InstrumentStore, clock: Clock) {
    this.store = store;
    this.clock = clock;
  }

  /** Subscribes to accepted bars; returns the unsubscribe. */
  onBars(listener: BarsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Creates the instrument (defaults for what `config` leaves out) or checks the existing one
   * agrees: an instrument's indicator settings cannot change under its stored bars (409).
   */
  async ensure(id: string, config?: unknown): Promise<StoredInstrument> {
    checkInstrumentId(id);
    const existing = await this.store.get(id);
    if (existing !== null) {
      if (config !== undefined && config !== null) {
        const wanted = parseInstrumentConfig(config, existing.config);
        if (JSON.stringify(wanted) !== JSON.stringify(existing.config))
          throw conflict(
            `instrument '${id}' exists with a different config; change it with PUT /api/v1/instruments/${id}`,
          );
      }
      return existing;
    }
    const parsed = parseInstrumentConfig(config);
    await this.store.create(id, parsed, emptyIndicatorSet(parsed).state(), this.clock.now());
    return this.get(id);
  }

  /**
   * Creates or reconfigures. The reorder tolerance may change at any time; the indicator
   * settings only while the instrument has no bars (its stored indicators would not match).
   */
  async put(id: string, config: unknown): Promise<StoredInstrument> {
    checkInstrumentId(id);
    const existing = await this.store.get(id);
    if (existing === null) return this.ensure(id, config ?? {});
    const wanted = parseInstrumentConfig(config, existing.config);
    if (!sameIndicators(wanted, existing.config)) {
      if (existing.bars > 0)
        throw conflict(
          `instrument '${id}' has ${existing.bars} bars computed with its current indicator settings; ` +
            `only reorderTolerance can change now (load the bars into a new instrument to change the others)`,
        );
      // No bars: the empty state is rebuilt by appending through a fresh instrument row.
      return this.recreateEmpty(id, wanted);
    }
    await this.store.setConfig(id, wanted, this.clock.now());
    return this.get(id);
  }

  async get(id: string): Promise<StoredInstrument> {
    checkInstrumentId(id);
    const found = await this.store.get(id);
    if (found === null) throw notFound(`no instrument '${id}'`);
    return found;
  }

  async list(limit = MAX_LIST): Promise<{ instruments: StoredInstrument[]; total: number }> {
    return { instruments: await this.store.list(limit), total: await this.store.count() };
  }

  async bars(
    id: string,
    range: { from?: number; to?: number; limit?: number } = {},
  ): Promise<BarWithIndicators[]> {
    await this.get(id);
    const limit = range.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BARS_READ)
      throw invalid(`limit must be an integer in [1, ${MAX_BARS_READ}]`, { field: "limit" });
    return this.store.bars(id, range.from, range.to, limit);
  }

  /** The newest bars (at most MAX_BARS_READ), oldest first: the dashboard's price line. */
  async latestBars(id: string, limit: number): Promise<BarWithIndicators[]> {
    await this.get(id);
    return this.store.latestBars(id, Math.min(Math.max(1, Math.floor(limit)), MAX_BARS_READ));
  }

  /** Appends a batch (see bar-append.ts for what is taken, repeated, reordered or refused). */
  async appendBars(id: string, rawBars: unknown, config?: unknown): Promise<AppendResult> {
    let received;
    try {
      checkInstrumentId(id);
      received = parseBars(rawBars);
    } catch (error) {
      this.refused(error);
      throw error;
    }
    const instrument = await this.ensure(id, config);
    return this.serially(id, async () => {
      const now = this.clock.now();
      let plan: AppendPlan;
      try {
        plan = await this.store.append(id, now, async (locked, reads) => {
          const { config: c } = instrument;
          // The checkpoint is kept `reorderTolerance` bars behind the newest, so the tail after
          // it is never longer than the largest tolerance; a longer one is a bug, not a guess.
          const tail = await reads.after(locked.checkpoint.lastTime, MAX_REORDER_TOLERANCE + 1);
          if (tail.length > MAX_REORDER_TOLERANCE)
            throw new BallastError(
              "internal",
              `instrument '${id}': its checkpoint is more than ${MAX_REORDER_TOLERANCE} bars behind`,
            );
          const olderTimes = received
            .map((r) => r.bar.time)
            .filter((t) => locked.lastTime !== null && t <= locked.lastTime);
          const existing = olderTimes.length === 0 ? new Map() : await reads.at(olderTimes);
          const made = planAppend({
            config: c,
            checkpoint: locked.checkpoint,
            lastTime: locked.lastTime,
            tail,
            existing,
            received,
          });
          return { plan: made, result: made };
        });
      } catch (error) {
        this.refused(error);
        throw error;
      }
      const accepted: AcceptedBar[] = plan.inserted.map((p) => ({
        bar: p.bar,
        logReturn: p.indicators.logReturn,
        repeated: p.indicators.repeated,
        gap: p.indicators.gap,
        late: p.late,
        indicators: p.indicators,
      }));
      const repeated = accepted.filter((a) => a.repeated).length;
      this.counts.barsAccepted += accepted.length;
      this.counts.barsDuplicate += plan.duplicates;
      this.counts.barsRepeated += repeated;
      if (accepted.length > 0) await this.tell(id, accepted);
      const last = plan.newest?.indicators ?? (await this.store.get(id))?.last?.indicators ?? null;
      return {
        instrument: id,
        accepted: accepted.length,
        duplicates: plan.duplicates,
        reordered: plan.reordered,
        repeated,
        gaps: accepted.filter((a) => a.gap).length,
        last,
      };
    });
  }

  stats(): InstrumentStats {
    return { ...this.counts, refused: { ...this.counts.refused } };
  }

  private async tell(id: string, accepted: readonly AcceptedBar[]): Promise<void> {
    for (const listener of [...this.listeners]) {
      try {
        await listener(id, accepted);
      } catch {
        this.counts.listenerErrors++;
      }
    }
  }

  private refused(error: unknown): void {
    if (!(error instanceof BallastError)) return;
    const reason: RefusalReason | undefined =
      error.code === "payload_too_large"
        ? "too_large"
        : error.code === "conflict"
          ? "conflict"
          : error.code === "invalid_argument"
            ? error.details?.reason === "too_late"
              ? "too_late"
              : "invalid"
            : undefined;
    if (reason !== undefined) this.counts.refused[reason]++;
  }

  private async recreateEmpty(id: string, config: InstrumentConfig): Promise<StoredInstrument> {
    await this.serially(id, async () => {
      await this.store.replaceEmpty(id, config, emptyIndicatorSet(config).state(), this.clock.now());
    });
    return this.get(id);
  }

  /** One append at a time per instrument in this process; the map forgets idle instruments. */
  private async serially<T>(id: string, work: () => Promise<T>): Promise<T> {
    const entry = this.queues.get(id) ?? { queue: new SerialQueue(), pending: 0 };
    this.queues.set(id, entry);
    entry.pending++;
    try {
      return await entry.queue.run(work);
    } finally {
      if (--entry.pending === 0) this.queues.delete(id);
    }
  }
}
