/**
 * Streaming volatility indicators: O(1) work per bar, state that is plain JSON (persisted,
 * resumed after a restart), and merge for those where two consecutive segments' states make
 * sense together (the windowed ones: realized volatility and the efficiency ratio).
 *
 *   log return          r_t = ln(C_t / C_{t-1})
 *   realized volatility sqrt(sum r^2 / m) over the last `window` returns (m <= window), not demeaned
 *   EWMA volatility     RiskMetrics: s2_{t+1} = lambda s2_t + (1 - lambda) r_t^2, lambda 0.94,
 *                       seeded with the first return's square; the value is the forecast for the next bar
 *   ATR                 Wilder's: the mean of the first `period` true ranges, then
 *                       ATR_t = ((period - 1) ATR_{t-1} + TR_t) / period; only when bars carry high and low
 *   GARCH volatility    sqrt of a fitted model's next-period variance, its state moved on by each return
 *                       (times `garchScale`: the model's units, e.g. percent)
 *   efficiency ratio    Kaufman: |C_t - C_{t-n}| / sum |C_i - C_{i-1}| over the last n changes (0 when flat)
 *   drawdown            C_t / max(C) - 1 and its worst value so far
 *
 * Repeated prices and gaps, on purpose:
 * - A close equal to the previous one gives a zero return flagged `repeated`. Series such as
 *   EuStockMarkets fill holidays with the last price, so these zeros are not market moves; with
 *   `skipRepeats` they are left out of the return-based estimators (realized, EWMA, GARCH),
 *   which then neither see a fake calm day nor move their windows. Price-based ones (ATR,
 *   efficiency ratio, drawdown) take the bar as it is.
 * - Bars must come in time order; a bar not after the last one is refused. A step longer than
 *   `maxGap` (in the bars' time units) is flagged `gap`; its return spans the gap (one return,
 *   not one per missing bar: nothing is invented).
 */
import { invalid } from "../domain/errors.js";
import { nextVariance, updateGarch, type GarchModel } from "./garch.js";

export interface Bar {
  readonly time: number;
  readonly close: number;
  readonly open?: number;
  readonly high?: number;
  readonly low?: number;
}

export interface IndicatorConfig {
  /** Realized volatility windows, in returns. */
  readonly windows: readonly number[];
  readonly ewmaLambda: number;
  readonly atrPeriod: number;
  readonly efficiencyPeriod: number;
  readonly skipRepeats: boolean;
  /** Longest step between bars that is not a gap; Infinity for none. */
  readonly maxGap: number;
  /** Returns are multiplied by this before they reach the GARCH model (100 for a model fitted on percent returns). */
  readonly garchScale: number;
}

export const DEFAULT_INDICATORS: IndicatorConfig = {
  windows: [20],
  ewmaLambda: 0.94,
  atrPeriod: 14,
  efficiencyPeriod: 10,
  skipRepeats: false,
  maxGap: Number.POSITIVE_INFINITY,
  garchScale: 1,
};

export interface IndicatorValues {
  readonly time: number;
  /** Undefined on the first bar. */
  readonly logReturn: number | undefined;
  readonly repeated: boolean;
  readonly gap: boolean;
  /** Per window, in the order configured; undefined until a return has been seen. */
  readonly realizedVolatility: Array<number | undefined>;
  readonly ewmaVolatility: number | undefined;
  readonly atr: number | undefined;
  readonly garchVolatility: number | undefined;
  readonly efficiencyRatio: number | undefined;
  readonly drawdown: number;
  readonly maxDrawdown: number;
}

/** A window of the last `size` values, as JSON. */
export interface RingState {
  readonly size: number;
  /** Oldest first. */
  readonly values: number[];
  /**
   * The running sum and the pushes since it was last re-added, so a restored window continues
   * bit for bit where it stopped (absent in older states: the sum is then re-added from values).
   */
  readonly sum?: number;
  readonly sinceResum?: number;
  /** Where the next value goes in the buffer (a full window re-adds its sum in buffer order). */
  readonly head?: number;
}

/** The window with its running sum (re-added every `size` pushes, so rounding does not pile up). */
class Ring {
  readonly size: number;
  private readonly buffer: Float64Array;
  private count = 0;
  private head = 0;
  private total = 0;
  private sinceResum = 0;

  constructor(size: number) {
    this.size = size;
    this.buffer = new Float64Array(size);
  }

  push(value: number): number | undefined {
    let dropped: number | undefined;
    if (this.count === this.size) {
      dropped = this.buffer[this.head] as number;
      this.total -= dropped;
    } else this.count++;
    this.buffer[this.head] = value;
    this.total += value;
    this.head = (this.head + 1) % this.size;
    if (++this.sinceResum >= this.size) this.resum();
    return dropped;
  }

  get length(): number {
    return this.count;
  }
  get sum(): number {
    return this.total;
  }
  /** The i-th oldest value held. */
  at(i: number): number {
    const start = this.count === this.size ? this.head : 0;
    return this.buffer[(start + i) % this.size] as number;
  }

  private resum(): void {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.buffer[i] as number;
    this.total = s;
    this.sinceResum = 0;
  }

  toJSON(): RingState {
    return {
      size: this.size,
      values: Array.from({ length: this.count }, (_, i) => this.at(i)),
      sum: this.total,
      sinceResum: this.sinceResum,
      head: this.head,
    };
  }

  /** Refills from a state; its sum and count since re-adding when it has them (exact resume). */
  load(state: RingState): this {
    const { sum, sinceResum, head, values } = state;
    if (sum === undefined || sinceResum === undefined || head === undefined || values.length > this.size) {
      for (const v of values.slice(-this.size)) this.push(v);
      return this;
    }
    this.count = values.length;
    this.head = head;
    const start = this.count === this.size ? head : 0;
    values.forEach((v, i) => (this.buffer[(start + i) % this.size] = v));
    this.total = sum;
    this.sinceResum = sinceResum;
    return this;
  }

  static from(state: RingState): Ring {
    return new Ring(state.size).load(state);
  }
}

/** The state of a whole set, as JSON. */
export interface IndicatorState {
  readonly config: Omit<IndicatorConfig, "maxGap"> & { readonly maxGap: number | null };
  readonly bars: number;
  readonly lastTime: number | null;
  readonly lastClose: number | null;
  readonly realized: RingState[];
  readonly ewmaVariance: number | null;
  readonly atr: { readonly value: number | null; readonly seed: number[] };
  readonly garch: GarchModel | null;
  readonly closes: RingState;
  readonly absChanges: RingState;
  readonly peak: number | null;
  readonly maxDrawdown: number;
}

export class IndicatorSet {
  readonly config: IndicatorConfig;
  private bars = 0;
  private lastTime: number | undefined;
  private lastClose: number | undefined;
  private readonly realized: Ring[];
  private ewmaVariance: number | undefined;
  private atrValue: number | undefined;
  private atrSeed: number[] = [];
  private garch: GarchModel | undefined;
  private readonly closes: Ring;
  private readonly absChanges: Ring;
  private peak: number | undefined;
  private maxDrawdown = 0;

  constructor(config: Partial<IndicatorConfig> = {}, garch?: GarchModel) {
    const c = { ...DEFAULT_INDICATORS, ...config };
    for (const w of c.windows)
      if (!Number.isInteger(w) || w < 1) throw invalid(`windows must be positive integers, got ${w}`);
    if (!(c.ewmaLambda > 0 && c.ewmaLambda < 1))
      throw invalid(`ewmaLambda must be in (0, 1), got ${c.ewmaLambda}`);
    if (!Number.isInteger(c.atrPeriod) || c.atrPeriod < 1)
      throw invalid(`atrPeriod must be a positive integer, got ${c.atrPeriod}`);
    if (!Number.isInteger(c.efficiencyPeriod) || c.efficiencyPeriod < 1)
      throw invalid(`efficiencyPeriod must be a positive integer, got ${c.efficiencyPeriod}`);
    if (!(c.maxGap > 0)) throw invalid(`maxGap must be > 0, got ${c.maxGap}`);
    this.config = c;
    this.realized = c.windows.map((w) => new Ring(w));
    this.closes = new Ring(c.efficiencyPeriod + 1);
    this.absChanges = new Ring(c.efficiencyPeriod);
    this.garch = garch;
  }

  update(bar: Bar): IndicatorValues {
    const { time, close } = bar;
    if (!Number.isFinite(time)) throw invalid(`bar time ${String(time)} is not a finite number`);
    if (!(Number.isFinite(close) && close > 0))
      throw invalid(`bar at ${time}: close ${String(close)} is not a positive number`);
    if (this.lastTime !== undefined && !(time > this.lastTime))
      throw invalid(`bar at ${time} is not after the last one (${this.lastTime}); bars come in time order`);
    const gap = this.lastTime !== undefined && time - this.lastTime > this.config.maxGap;
    const previous = this.lastClose;
    const logReturn = previous === undefined ? undefined : Math.log(close / previous);
    const repeated = previous !== undefined && close === previous;

    if (logReturn !== undefined && !(repeated && this.config.skipRepeats)) {
      const square = logReturn * logReturn;
      for (const ring of this.realized) ring.push(square);
      const lambda = this.config.ewmaLambda;
      this.ewmaVariance =
        this.ewmaVariance === undefined ? square : lambda * this.ewmaVariance + (1 - lambda) * square;
      if (this.garch !== undefined) this.garch = updateGarch(this.garch, logReturn * this.config.garchScale);
    }

    if (bar.high !== undefined && bar.low !== undefined) {
      const tr =
        previous === undefined
          ? bar.high - bar.low
          : Math.max(bar.high - bar.low, Math.abs(bar.high - previous), Math.abs(bar.low - previous));
      const n = this.config.atrPeriod;
      if (this.atrValue !== undefined) this.atrValue = ((n - 1) * this.atrValue + tr) / n;
      else {
        this.atrSeed.push(tr);
        if (this.atrSeed.length === n) {
          this.atrValue = this.atrSeed.reduce((a, b) => a + b, 0) / n;
          this.atrSeed = [];
        }
      }
    }

    if (previous !== undefined) this.absChanges.push(Math.abs(close - previous));
    this.closes.push(close);

    this.peak = this.peak === undefined ? close : Math.max(this.peak, close);
    const drawdown = close / this.peak - 1;
    this.maxDrawdown = Math.min(this.maxDrawdown, drawdown);

    this.bars++;
    this.lastTime = time;
    this.lastClose = close;
    return {
      time,
      logReturn,
      repeated,
      gap,
      realizedVolatility: this.realized.map((ring) =>
        ring.length === 0 ? undefined : Math.sqrt(ring.sum / ring.length),
      ),
      ewmaVolatility: this.ewmaVariance === undefined ? undefined : Math.sqrt(this.ewmaVariance),
      atr: this.atrValue,
      garchVolatility: this.garch === undefined ? undefined : Math.sqrt(nextVariance(this.garch)),
      efficiencyRatio: this.efficiencyRatio(),
      drawdown,
      maxDrawdown: this.maxDrawdown,
    };
  }

  private efficiencyRatio(): number | undefined {
    const n = this.config.efficiencyPeriod;
    if (this.closes.length < n + 1) return undefined;
    const path = this.absChanges.sum;
    if (!(path > 0)) return 0;
    return Math.abs(this.closes.at(n) - this.closes.at(0)) / path;
  }

  state(): IndicatorState {
    return {
      config: {
        ...this.config,
        windows: [...this.config.windows],
        maxGap: Number.isFinite(this.config.maxGap) ? this.config.maxGap : null,
      },
      bars: this.bars,
      lastTime: this.lastTime ?? null,
      lastClose: this.lastClose ?? null,
      realized: this.realized.map((r) => r.toJSON()),
      ewmaVariance: this.ewmaVariance ?? null,
      atr: { value: this.atrValue ?? null, seed: [...this.atrSeed] },
      garch: this.garch ?? null,
      closes: this.closes.toJSON(),
      absChanges: this.absChanges.toJSON(),
      peak: this.peak ?? null,
      maxDrawdown: this.maxDrawdown,
    };
  }

  static restore(state: IndicatorState): IndicatorSet {
    const set = new IndicatorSet(
      { ...state.config, maxGap: state.config.maxGap ?? Number.POSITIVE_INFINITY },
      state.garch ?? undefined,
    );
    set.bars = state.bars;
    set.lastTime = state.lastTime ?? undefined;
    set.lastClose = state.lastClose ?? undefined;
    state.realized.forEach((r, i) => set.realized[i]?.load(r));
    set.ewmaVariance = state.ewmaVariance ?? undefined;
    set.atrValue = state.atr.value ?? undefined;
    set.atrSeed = [...state.atr.seed];
    set.closes.load(state.closes);
    set.absChanges.load(state.absChanges);
    set.peak = state.peak ?? undefined;
    set.maxDrawdown = state.maxDrawdown;
    return set;
  }
}

/**
 * The windowed state of two consecutive segments of one series that share their boundary bar
 * (`later` was started from nothing on `earlier`'s last bar, so the return across the boundary
 * is in `later` and nowhere twice): the later
 * segment's windows topped up with the earlier one's newest values. Lets a backfill run in
 * chunks and join them. Only the windows are merged; the recursive estimators (EWMA, ATR,
 * GARCH, drawdown) depend on everything before them and must be resumed instead.
 */
export function mergeWindows(earlier: RingState, later: RingState): RingState {
  if (earlier.size !== later.size) throw invalid(`windows of ${earlier.size} and ${later.size} do not merge`);
  const values = [...earlier.values, ...later.values].slice(-later.size);
  return { size: later.size, values };
}

/** The realized volatility a merged window gives. */
export function realizedFromWindow(state: RingState): number | undefined {
  const ring = Ring.from(state);
  return ring.length === 0 ? undefined : Math.sqrt(ring.sum / ring.length);
}
