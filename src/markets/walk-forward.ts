/**
 * A walk-forward of the volatility specialists through a returns series: fit on the training
 * prefix r_1..r_T, then for each later period t forecast the variance of r_t from r_1..r_{t-1}
 * alone, and only then see r_t. The parameters stay those of the training fit (no refit here);
 * the state moves one return at a time: GARCH through updateGarch (O(1)), EWMA by its own
 * recursion, HAR-RV and the last value from the window that ends at t − 1. The future is never
 * read: the forecast for t is computed before r_t is touched (the test checks that changing
 * r_t leaves it alone).
 *
 * The per-specialist step is a `SpecialistTracker` (fitted on a window, then `next()` and
 * `see(r)`), which the backtest (backtest.ts) uses as well, with refits: a tracker only ever
 * holds the returns it was given, so it cannot read ahead.
 */
import { invalid } from "../domain/errors.js";
import { fitGarch, nextVariance, updateGarch, type GarchKind, type GarchModel } from "./garch.js";
import {
  fitHarRv,
  forecastFromWindow,
  HAR_MONTH,
  RISKMETRICS_LAMBDA,
  type HarRvCoefficients,
} from "./specialists.js";
import { checkSeries } from "./series.js";

/** The specialists a walk-forward can fit and step itself: the builtin kinds, GJR apart. */
export const TRACKED_KINDS = ["garch", "gjr", "ewma", "har-rv", "last-value"] as const;
export type TrackedKind = (typeof TRACKED_KINDS)[number];

export interface TrackerOptions {
  /** EWMA decay (RiskMetrics' 0.94 by default). */
  readonly lambda?: number;
  /** The last value's window: mean squared return over this many days (22 by default). */
  readonly lastValueWindow?: number;
}

/** One specialist walking forward: the variance of the return after the last one it saw. */
export interface SpecialistTracker {
  readonly kind: TrackedKind;
  /** h for the next return, from what was seen so far. */
  next(): number;
  /** One more return seen. */
  see(value: number): void;
  /** The fitted parameters (JSON), for a refit log. */
  readonly fitted: Readonly<Record<string, unknown>>;
}

/** The fewest returns a tracker of this kind is fitted on. */
export function trackerMinimum(kind: TrackedKind, options: TrackerOptions = {}): number {
  if (kind === "garch" || kind === "gjr") return 100;
  if (kind === "har-rv") return HAR_MONTH + 30;
  if (kind === "last-value") return options.lastValueWindow ?? HAR_MONTH;
  return 1;
}

/** A tracker fitted on `train` (the returns up to now, oldest first), its state at the last of them. */
export function fitTracker(
  kind: TrackedKind,
  train: Float64Array,
  options: TrackerOptions = {},
): SpecialistTracker {
  switch (kind) {
    case "garch":
    case "gjr": {
      let model: GarchModel = fitGarch(train, { kind, standardErrors: false }).model;
      return {
        kind,
        next: () => nextVariance(model),
        see: (r) => {
          model = updateGarch(model, r);
        },
        fitted: { ...model.params },
      };
    }
    case "ewma": {
      const lambda = options.lambda ?? RISKMETRICS_LAMBDA;
      // Started as the served one is: the window's mean square, then its recursion.
      let v = 0;
      for (const r of train) v += r * r;
      v /= train.length;
      for (const r of train) v = lambda * v + (1 - lambda) * r * r;
      return {
        kind,
        next: () => v,
        see: (r) => {
          v = lambda * v + (1 - lambda) * r * r;
        },
        fitted: { lambda },
      };
    }
    case "har-rv": {
      const coefficients = fitHarRv(train).coefficients;
      const recent = new RecentReturns(HAR_MONTH, train);
      const specialist = { kind: "har-rv", coefficients } as const;
      return {
        kind,
        next: () => forecastFromWindow(specialist, recent.window(), 1)[0] as number,
        see: (r) => recent.push(r),
        fitted: { ...coefficients },
      };
    }
    case "last-value": {
      const width = options.lastValueWindow ?? HAR_MONTH;
      const recent = new RecentReturns(width, train);
      return {
        kind,
        next: () => forecastFromWindow({ kind: "last-value" }, recent.window(), 1)[0] as number,
        see: (r) => recent.push(r),
        fitted: { window: width },
      };
    }
  }
}

/** The last `width` returns seen, oldest first (a bounded window, filled from the training data). */
class RecentReturns {
  private readonly buffer: Float64Array;
  private readonly ordered: Float64Array;
  private head = 0;
  private count = 0;
  constructor(
    private readonly width: number,
    seed: Float64Array,
  ) {
    if (seed.length < width)
      throw invalid(`a window of ${width} returns needs at least ${width} to start from, got ${seed.length}`);
    this.buffer = new Float64Array(width);
    this.ordered = new Float64Array(width);
    for (let i = seed.length - width; i < seed.length; i++) this.push(seed[i] as number);
  }
  push(r: number): void {
    this.buffer[this.head] = r;
    this.head = (this.head + 1) % this.width;
    this.count = Math.min(this.count + 1, this.width);
  }
  window(): Float64Array {
    for (let i = 0; i < this.width; i++)
      this.ordered[i] = this.buffer[(this.head + i) % this.width] as number;
    return this.ordered;
  }
}

export interface WalkForwardOptions extends TrackerOptions {
  /** Returns in the training prefix (the fit). */
  readonly train: number;
  readonly garchKind?: GarchKind;
}

export interface WalkForward {
  /** Index (0-based) of the first forecast period: `train`. */
  readonly start: number;
  /** Realised proxy per forecast period: the squared return r_t². */
  readonly realized: Float64Array;
  /** One-step variance forecasts per specialist, aligned with `realized`. */
  readonly forecasts: {
    readonly garch: Float64Array;
    readonly ewma: Float64Array;
    readonly "har-rv": Float64Array;
    readonly "last-value": Float64Array;
  };
  readonly fitted: { readonly garch: GarchModel; readonly harRv: HarRvCoefficients };
}

export function walkForward(values: ArrayLike<number>, options: WalkForwardOptions): WalkForward {
  const returns = checkSeries(values, { model: "a walk-forward", minimum: options.train + 1 });
  const train = options.train;
  const lastWindow = options.lastValueWindow ?? HAR_MONTH;
  if (!Number.isInteger(train) || train < Math.max(lastWindow, HAR_MONTH)) {
    throw invalid(`train must be an integer of at least ${Math.max(lastWindow, HAR_MONTH)}, not ${train}`, {
      field: "train",
    });
  }
  const prefix = returns.subarray(0, train);
  const fittedGarch = fitGarch(prefix, { kind: options.garchKind ?? "garch", standardErrors: false }).model;
  const trackers = {
    garch: fitTracker(options.garchKind ?? "garch", prefix, options),
    ewma: fitTracker("ewma", prefix, options),
    "har-rv": fitTracker("har-rv", prefix, options),
    "last-value": fitTracker("last-value", prefix, options),
  };
  const m = returns.length - train;
  const realized = new Float64Array(m);
  const out = {
    garch: new Float64Array(m),
    ewma: new Float64Array(m),
    "har-rv": new Float64Array(m),
    "last-value": new Float64Array(m),
  };
  const kinds = ["garch", "ewma", "har-rv", "last-value"] as const;
  for (let i = 0; i < m; i++) {
    const t = train + i;
    // Forecasts for r_t from r_0..r_{t-1}; then r_t is seen.
    for (const k of kinds) out[k][i] = trackers[k].next();
    const r = returns[t] as number;
    realized[i] = r * r;
    for (const k of kinds) trackers[k].see(r);
  }
  return {
    start: train,
    realized,
    forecasts: out,
    fitted: { garch: fittedGarch, harRv: trackers["har-rv"].fitted as unknown as HarRvCoefficients },
  };
}
