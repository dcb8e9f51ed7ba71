/**
 * Market-data series in /metrics: the newest indicators of each instrument, read from the store
 * at scrape time (so every replica shows what any replica appended), and this process's counts
 * of bars taken and refused. Bounded: at most MAX_EXPORTED instruments (in id order) get
 * series; how many more there are is a gauge of its own.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { StoredInstrument } from "../markets/instrument-store.js";

export const MAX_EXPORTED_INSTRUMENTS = 100;

export interface InstrumentSource {
  list(limit: number): Promise<StoredInstrument[]>;
  count(): Promise<number>;
}

/** The counts an instruments service keeps (application/instruments.ts). */
export interface InstrumentCounts {
  readonly barsAccepted: number;
  readonly barsDuplicate: number;
  readonly barsRepeated: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly listenerErrors: number;
}

/** A scrape collects several gauges; they share one read of the store. */
const READ_REUSE_MS = 1000;

export function instrumentSeries(
  registry: Registry,
  source: InstrumentSource,
  counts: () => InstrumentCounts,
  maxExported = MAX_EXPORTED_INSTRUMENTS,
): void {
  let read: { at: number; rows: Promise<{ list: StoredInstrument[]; total: number }> } | undefined;
  const latest = () => {
    const now = performance.now();
    if (read === undefined || now - read.at > READ_REUSE_MS) {
      const rows = (async () => ({ list: await source.list(maxExported), total: await source.count() }))();
      read = { at: now, rows };
      // A failed read is not kept for the next scrape.
      rows.catch(() => (read = undefined));
    }
    return read.rows;
  };
  const perInstrument = (
    name: string,
    help: string,
    pick: (i: StoredInstrument) => number | null | undefined,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: ["instrument"] as const,
      registers: [registry],
      async collect(this: Gauge<"instrument">) {
        this.reset();
        for (const i of (await latest()).list) {
          const v = pick(i);
          if (typeof v === "number" && Number.isFinite(v)) this.set({ instrument: i.id }, v);
        }
      },
    });
  };
  new Gauge({
    name: "ballast_instrument_realized_volatility",
    help: "Realized volatility of an instrument's log returns over its last `window` returns (not annualised), after its newest bar.",
    labelNames: ["instrument", "window"] as const,
    registers: [registry],
    async collect(this: Gauge<"instrument" | "window">) {
      this.reset();
      for (const i of (await latest()).list) {
        for (const [window, v] of Object.entries(i.last?.indicators.realizedVolatility ?? {}))
          if (v !== null) this.set({ instrument: i.id, window }, v);
      }
    },
  });
  perInstrument(
    "ballast_instrument_ewma_volatility",
    "RiskMetrics EWMA volatility of an instrument's log returns after its newest bar (the forecast for the next).",
    (i) => i.last?.indicators.ewmaVolatility,
  );
  perInstrument(
    "ballast_instrument_garch_volatility",
    "An instrument's GARCH conditional volatility after its newest bar (the forecast for the next), in the model's units; only with a garch model in its config.",
    (i) => i.last?.indicators.garchVolatility,
  );
  perInstrument(
    "ballast_instrument_atr",
    "Average true range (Wilder) of an instrument, in price units; only for bars with high and low.",
    (i) => i.last?.indicators.atr,
  );
  perInstrument(
    "ballast_instrument_efficiency_ratio",
    "Kaufman efficiency ratio of an instrument's closes (1 a straight trend, 0 no net move).",
    (i) => i.last?.indicators.efficiencyRatio,
  );
  perInstrument(
    "ballast_instrument_drawdown",
    "An instrument's close over its highest close so far, minus 1 (0 at a peak, negative below).",
    (i) => i.last?.indicators.drawdown,
  );
  perInstrument(
    "ballast_instrument_max_drawdown",
    "The worst drawdown of an instrument so far.",
    (i) => i.last?.indicators.maxDrawdown,
  );
  perInstrument("ballast_instrument_bars", "Bars stored for an instrument.", (i) => i.bars);
  perInstrument(
    "ballast_instrument_last_time",
    "Time of an instrument's newest bar, in the units its bars use (epoch ms for dates).",
    (i) => i.lastTime,
  );
  new Gauge({
    name: "ballast_instruments_unexported",
    help: `Instruments without series of their own here (beyond the first ${maxExported} by id).`,
    registers: [registry],
    async collect(this: Gauge) {
      const { list, total } = await latest();
      this.set(Math.max(0, total - list.length));
    },
  });
  new Counter({
    name: "ballast_instrument_bars_total",
    help: "Bars received by this process, by outcome: accepted (stored) or duplicate (equal to a stored bar: nothing changed).",
    labelNames: ["outcome"] as const,
    registers: [registry],
    collect(this: Counter<"outcome">) {
      const c = counts();
      this.reset();
      this.inc({ outcome: "accepted" }, c.barsAccepted);
      this.inc({ outcome: "duplicate" }, c.barsDuplicate);
    },
  });
  new Counter({
    name: "ballast_instrument_bars_repeated_total",
    help: "Accepted bars whose close repeats the previous one (holiday-filled prices), flagged in their indicators.",
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      this.inc(counts().barsRepeated);
    },
  });
  new Counter({
    name: "ballast_instrument_bars_refused_total",
    help: "Batches of bars refused, by reason: invalid (a field), conflict (differs from a stored bar), too_late (beyond reorderTolerance), too_large (batch size).",
    labelNames: ["reason"] as const,
    registers: [registry],
    collect(this: Counter<"reason">) {
      this.reset();
      for (const [reason, n] of Object.entries(counts().refused)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: "ballast_instrument_listener_errors_total",
    help: "Calls to accepted-bar listeners that threw or rejected (the bars were stored all the same).",
    registers: [registry],
    collect(this: Counter) {
      this.reset();
      this.inc(counts().listenerErrors);
    },
  });
}
