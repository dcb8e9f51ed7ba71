/**
 * Instruments, their bars and their indicator state in the store. An append runs in one
 * transaction that reads the state row (locked FOR UPDATE on PostgreSQL, so two replicas
 * appending to one instrument take turns), writes the bars and moves the state with a revision
 * compare-and-set: a crash leaves either the bars and their indicators or neither.
 */
import type { Kysely, Transaction } from "kysely";
import { BallastError, notFound } from "../domain/errors.js";
import type { Store } from "../store/db.js";
import { fromJson, toJson } from "../store/json.js";
import type { Database } from "../store/schema.js";
import type { IndicatorState } from "./indicators.js";
import type { MarketBar } from "./bar-input.js";
import type { AppendPlan } from "./bar-append.js";
import { DEFAULT_INSTRUMENT, type IndicatorSnapshot, type InstrumentConfig } from "./instrument.js";

export interface StoredInstrument {
  readonly id: string;
  readonly config: InstrumentConfig;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly bars: number;
  readonly lastTime: number | null;
  /** The newest bar with the indicators after it. */
  readonly last: { readonly bar: MarketBar; readonly indicators: IndicatorSnapshot } | null;
}

/** What an append reads, under the instrument's lock. */
export interface LockedState {
  readonly state: IndicatorState;
  readonly checkpoint: IndicatorState;
  readonly bars: number;
  readonly lastTime: number | null;
  readonly revision: number;
}

export interface BarWithIndicators {
  readonly bar: MarketBar;
  readonly indicators: IndicatorSnapshot;
}

/** Rows per insert: 8 columns each, well under SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 500;
const LOOKUP_CHUNK = 500;

export class InstrumentStore {
  private readonly db: Kysely<Database>;
  private readonly dialect: Store["dialect"];

  constructor(store: Pick<Store, "db" | "dialect">) {
    this.db = store.db;
    this.dialect = store.dialect;
  }

  /** Creates the instrument with an empty state unless it exists; true when this call created it. */
  async create(id: string, config: InstrumentConfig, empty: IndicatorState, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const made = await tx
        .insertInto("instruments")
        .values({ id, config: toJson(config), created_at: now, updated_at: now })
        .onConflict((oc) => oc.column("id").doNothing())
        .executeTakeFirst();
      if (Number(made.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      await tx
        .insertInto("instrument_states")
        .values({
          instrument: id,
          state: toJson(empty),
          checkpoint: toJson(empty),
          bars: 0,
          last_time: null,
          last_bar: null,
          revision: 0,
          updated_at: now,
        })
        .execute();
      return true;
    });
  }

  /** New settings and an empty state for an instrument that has no bars (refused once it has). */
  async replaceEmpty(
    id: string,
    config: InstrumentConfig,
    empty: IndicatorState,
    now: number,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const cleared = await tx
        .updateTable("instrument_states")
        .set({ state: toJson(empty), checkpoint: toJson(empty), updated_at: now })
        .where("instrument", "=", id)
        .where("bars", "=", 0)
        .executeTakeFirst();
      if (Number(cleared.numUpdatedRows) !== 1)
        throw new BallastError(
          "conflict",
          `instrument '${id}' received bars meanwhile; its indicator settings stay`,
        );
      await tx
        .updateTable("instruments")
        .set({ config: toJson(config), updated_at: now })
        .where("id", "=", id)
        .execute();
    });
  }

  async setConfig(id: string, config: InstrumentConfig, now: number): Promise<void> {
    await this.db
      .updateTable("instruments")
      .set({ config: toJson(config), updated_at: now })
      .where("id", "=", id)
      .execute();
  }

  async get(id: string): Promise<StoredInstrument | null> {
    const row = await this.instruments().where("i.id", "=", id).executeTakeFirst();
    return row === undefined ? null : instrumentOf(row);
  }

  /** In id order, at most `limit`. */
  async list(limit: number): Promise<StoredInstrument[]> {
    const rows = await this.instruments().orderBy("i.id").limit(limit).execute();
    return rows.map(instrumentOf);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom("instruments")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Bars in time order within [from, to], at most `limit`, with their indicators. */
  async bars(
    id: string,
    from: number | undefined,
    to: number | undefined,
    limit: number,
  ): Promise<BarWithIndicators[]> {
    let query = this.db.selectFrom("instrument_bars").selectAll().where("instrument", "=", id);
    if (from !== undefined) query = query.where("time", ">=", from);
    if (to !== undefined) query = query.where("time", "<=", to);
    const rows = await query.orderBy("time").limit(limit).execute();
    return rows.map((r) => ({
      bar: barOf(r),
      indicators: fromJson<IndicatorSnapshot>(r.indicators, null as never),
    }));
  }

  /** The newest `limit` bars, oldest first. */
  async latestBars(id: string, limit: number): Promise<BarWithIndicators[]> {
    const rows = await this.db
      .selectFrom("instrument_bars")
      .selectAll()
      .where("instrument", "=", id)
      .orderBy("time", "desc")
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({
      bar: barOf(r),
      indicators: fromJson<IndicatorSnapshot>(r.indicators, null as never),
    }));
  }

  /**
   * Runs `work` in a transaction holding the instrument's state row, then writes what it planned.
   * Throws not_found for an unknown instrument.
   */
  async append<T>(
    id: string,
    now: number,
    work: (locked: LockedState, reads: AppendReads) => Promise<{ plan: AppendPlan; result: T }>,
  ): Promise<T> {
    return this.db.transaction().execute(async (tx) => {
      const select = tx.selectFrom("instrument_states").selectAll().where("instrument", "=", id);
      const row = await (this.dialect === "postgres" ? select.forUpdate() : select).executeTakeFirst();
      if (row === undefined) throw notFound(`no instrument '${id}'`);
      const locked: LockedState = {
        state: fromJson<IndicatorState>(row.state, null as never),
        checkpoint: fromJson<IndicatorState>(row.checkpoint, null as never),
        bars: Number(row.bars),
        lastTime: row.last_time,
        revision: Number(row.revision),
      };
      const { plan, result } = await work(locked, readsIn(tx, id));
      if (plan.state === undefined) return result;
      for (let i = 0; i < plan.inserted.length; i += INSERT_CHUNK) {
        await tx
          .insertInto("instrument_bars")
          .values(plan.inserted.slice(i, i + INSERT_CHUNK).map((p) => barRow(id, p.bar, p.indicators)))
          .execute();
      }
      for (const r of plan.recomputed) {
        await tx
          .updateTable("instrument_bars")
          .set({ indicators: toJson(r.indicators) })
          .where("instrument", "=", id)
          .where("time", "=", r.bar.time)
          .execute();
      }
      const newest = plan.newest;
      const moved = await tx
        .updateTable("instrument_states")
        .set({
          state: toJson(plan.state),
          checkpoint: toJson(plan.checkpoint ?? locked.checkpoint),
          bars: locked.bars + plan.inserted.length,
          last_time: newest?.bar.time ?? locked.lastTime,
          ...(newest === undefined ? {} : { last_bar: toJson(newest) }),
          revision: locked.revision + 1,
          updated_at: now,
        })
        .where("instrument", "=", id)
        .where("revision", "=", locked.revision)
        .executeTakeFirst();
      // Only a writer that bypassed the lock (another SQLite process) gets here; nothing is kept.
      if (Number(moved.numUpdatedRows) !== 1)
        throw new BallastError(
          "conflict",
          `instrument '${id}' was appended to at the same time; send the batch again`,
        );
      return result;
    });
  }

  private instruments() {
    return this.db
      .selectFrom("instruments as i")
      .innerJoin("instrument_states as s", "s.instrument", "i.id")
      .select(["i.id", "i.config", "i.created_at", "i.updated_at", "s.bars", "s.last_time", "s.last_bar"]);
  }
}

/** Reads an append needs inside its transaction. */
export interface AppendReads {
  /** Stored bars after `time` (all of them when null), in time order, at most `limit`. */
  after(time: number | null, limit: number): Promise<MarketBar[]>;
  /** Stored bars at these times. */
  at(times: readonly number[]): Promise<Map<number, MarketBar>>;
}

function readsIn(tx: Transaction<Database>, id: string): AppendReads {
  return {
    async after(time, limit) {
      let query = tx.selectFrom("instrument_bars").selectAll().where("instrument", "=", id);
      if (time !== null) query = query.where("time", ">", time);
      const rows = await query.orderBy("time").limit(limit).execute();
      return rows.map(barOf);
    },
    async at(times) {
      const found = new Map<number, MarketBar>();
      for (let i = 0; i < times.length; i += LOOKUP_CHUNK) {
        const rows = await tx
          .selectFrom("instrument_bars")
          .selectAll()
          .where("instrument", "=", id)
          .where("time", "in", times.slice(i, i + LOOKUP_CHUNK))
          .execute();
        for (const r of rows) found.set(r.time, barOf(r));
      }
      return found;
    },
  };
}

function barRow(
  instrument: string,
  bar: MarketBar,
  indicators: IndicatorSnapshot,
): Database["instrument_bars"] {
  return {
    instrument,
    time: bar.time,
    open: bar.open ?? null,
    high: bar.high ?? null,
    low: bar.low ?? null,
    close: bar.close,
    volume: bar.volume ?? null,
    indicators: toJson(indicators),
  };
}

function barOf(row: Database["instrument_bars"]): MarketBar {
  return {
    time: Number(row.time),
    close: Number(row.close),
    ...(row.open === null ? {} : { open: Number(row.open) }),
    ...(row.high === null ? {} : { high: Number(row.high) }),
    ...(row.low === null ? {} : { low: Number(row.low) }),
    ...(row.volume === null ? {} : { volume: Number(row.volume) }),
  };
}

function instrumentOf(row: {
  id: string;
  config: string;
  created_at: number;
  updated_at: number;
  bars: number;
  last_time: number | null;
  last_bar: string | null;
}): StoredInstrument {
  return {
    id: row.id,
    // Rows written before a field existed read as its default (garch: none, garchScale 1).
    config: { ...DEFAULT_INSTRUMENT, ...fromJson<InstrumentConfig>(row.config, null as never) },
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    bars: Number(row.bars),
    lastTime: row.last_time === null ? null : Number(row.last_time),
    last: fromJson<StoredInstrument["last"]>(row.last_bar, null),
  };
}
