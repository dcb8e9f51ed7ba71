/**
 * A walk-forward of the volatility specialists through a returns series: fit on the training
 * prefix r_1..r_T, then for each later period t forecast the variance of r_t from r_1..r_{t-1}
 * alone, and only then see r_t. The parameters stay those of the training fit (no refit here);
 * the state moves one return at a time: GARCH through updateGarch (O(1)), EWMA by its own
 * recursion, HAR-RV and the last value from the window that ends at t − 1. The future is never
 * read: the forecast for t is computed before r_t is touched (the test checks that changing
 * r_t leaves it alone).
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

export interface WalkForwardOptions {
  /** Returns in the training prefix (the fit). */
  readonly train: number;
  /** EWMA decay (RiskMetrics' 0.94 by default). */
  readonly lambda?: number;
  /** The last value's window: mean squared return over this many days (22 by default). */
  readonly lastValueWindow?: number;
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
  const lambda = options.lambda ?? RISKMETRICS_LAMBDA;
  const lastWindow = options.lastValueWindow ?? HAR_MONTH;
  if (!Number.isInteger(train) || train < Math.max(lastWindow, HAR_MONTH)) {
    throw invalid(`train must be an integer of at least ${Math.max(lastWindow, HAR_MONTH)}, not ${train}`, {
      field: "train",
    });
  }
  const prefix = returns.subarray(0, train);
  const fittedGarch = fitGarch(prefix, { kind: options.garchKind ?? "garch", standardErrors: false }).model;
  let garch = fittedGarch;
  const harRv = fitHarRv(prefix).coefficients;
  // EWMA started as the served one is: the training window's mean square, then its recursion.
  let ewma = 0;
  for (const r of prefix) ewma += r * r;
  ewma /= train;
  for (const r of prefix) ewma = lambda * ewma + (1 - lambda) * r * r;

  const m = returns.length - train;
  const realized = new Float64Array(m);
  const out = {
    garch: new Float64Array(m),
    ewma: new Float64Array(m),
    "har-rv": new Float64Array(m),
    "last-value": new Float64Array(m),
  };
  for (let i = 0; i < m; i++) {
    const t = train + i;
    // Forecasts for r_t from r_0..r_{t-1}.
    out.garch[i] = nextVariance(garch);
    out.ewma[i] = ewma;
    out["har-rv"][i] = forecastFromWindow({ kind: "har-rv", coefficients: harRv }, returns, 1, {
      from: t - HAR_MONTH,
      width: HAR_MONTH,
      row: t + 1,
    })[0] as number;
    out["last-value"][i] = forecastFromWindow({ kind: "last-value" }, returns, 1, {
      from: t - lastWindow,
      width: lastWindow,
      row: t + 1,
    })[0] as number;
    // Now r_t is seen.
    const r = returns[t] as number;
    realized[i] = r * r;
    garch = updateGarch(garch, r);
    ewma = lambda * ewma + (1 - lambda) * r * r;
  }
  return { start: train, realized, forecasts: out, fitted: { garch: fittedGarch, harRv } };
}
