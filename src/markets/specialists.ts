/**
 * The volatility specialists as forecasters from a window of recent returns: GARCH (and GJR),
 * EWMA (RiskMetrics), HAR-RV (Corsi 2009) and the last value. Each takes the returns r_1..r_W
 * of one window, oldest first, and gives the variances of the next `horizon` returns,
 * h_{W+1}..h_{W+horizon}. Nothing here keeps state between calls: a forecast depends on the
 * window and the parameters only, so any replica gives the same answer for the same request.
 *
 * - garch: the recursion of garch.ts run over the window from the long-run variance
 *   omega / (1 - persistence). The start is forgotten as beta^W (0.806^250 ≈ 4e-24 on DEM/GBP),
 *   so with a window of a few hundred returns the forecast is garch.ts's own. Beyond one step,
 *   h_{W+k} = omega + persistence · h_{W+k-1} (GJR's gamma counts half), as forecastVariance.
 * - ewma: v = lambda v + (1 - lambda) r^2 over the window, zero mean (RiskMetrics), started from
 *   the window's mean square (forgotten as lambda^W); flat beyond one step (the integrated case).
 * - har-rv: daily realized variance is the squared return (daily data carry no intraday
 *   returns); RV_{t+1} = b0 + bd RV_t + bw mean(RV_{t-4..t}) + bm mean(RV_{t-21..t}), fitted
 *   by OLS (fitHarRv); h steps by iterating, each forecast taking the place of the unseen RV.
 *   Needs a window of at least 22.
 * - last-value: the last realized variance, measured as the mean squared return over the
 *   window (window 1: the last squared return; 22: the last month's), flat for every step.
 *
 * A forecast that is not a positive finite number (an OLS fit can go negative; a window of
 * zero returns gives a last value of 0) is refused with an error naming the model and the row,
 * never returned as a number: a variance of 0 or less breaks QLIKE and every likelihood.
 */
import { invalid } from "../domain/errors.js";
import { invertSymmetric } from "../math/optimize/bfgs.js";
import { persistence, type GarchModel } from "./garch.js";
import { checkSeries } from "./series.js";

export const SPECIALIST_KINDS = ["garch", "ewma", "har-rv", "last-value"] as const;
export type SpecialistKind = (typeof SPECIALIST_KINDS)[number];

/** RiskMetrics' daily decay. */
export const RISKMETRICS_LAMBDA = 0.94;
/** Corsi's weekly and monthly spans, in trading days; HAR-RV needs the monthly one in its window. */
export const HAR_WEEK = 5;
export const HAR_MONTH = 22;

export interface HarRvCoefficients {
  readonly intercept: number;
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export type Specialist =
  | { readonly kind: "garch"; readonly garch: GarchModel }
  | { readonly kind: "ewma"; readonly lambda: number }
  | { readonly kind: "har-rv"; readonly coefficients: HarRvCoefficients }
  | { readonly kind: "last-value" };

/** The fewest returns in a window each kind can forecast from. */
export function minimumWindow(kind: SpecialistKind): number {
  return kind === "har-rv" ? HAR_MONTH : 1;
}

/**
 * h_{W+1}..h_{W+horizon} from the window `returns[from..from+width)`. `row` only names the
 * window in an error.
 */
export function forecastFromWindow(
  specialist: Specialist,
  returns: ArrayLike<number>,
  horizon: number,
  options: { from?: number; width?: number; row?: number } = {},
): Float64Array {
  const from = options.from ?? 0;
  const width = options.width ?? returns.length - from;
  const where = options.row === undefined ? "" : ` (row ${options.row})`;
  if (width < minimumWindow(specialist.kind)) {
    throw invalid(
      `${specialist.kind} needs a window of at least ${minimumWindow(specialist.kind)} returns, got ${width}${where}`,
    );
  }
  for (let i = from; i < from + width; i++) {
    if (!Number.isFinite(returns[i] as number)) {
      throw invalid(
        `return ${i - from + 1} of the window${where} is ${String(returns[i])}, not a finite number`,
      );
    }
  }
  const out = new Float64Array(horizon);
  switch (specialist.kind) {
    case "garch":
      garchPath(specialist.garch, returns, from, width, out);
      break;
    case "ewma":
      out.fill(ewmaNext(specialist.lambda, returns, from, width));
      break;
    case "har-rv":
      harPath(specialist.coefficients, returns, from, width, out);
      break;
    case "last-value":
      out.fill(meanSquare(returns, from, width));
      break;
  }
  for (let k = 0; k < horizon; k++) {
    const v = out[k] as number;
    if (!(v > 0) || !Number.isFinite(v)) {
      throw invalid(
        `${specialist.kind} forecast a variance of ${String(v)} for step ${k + 1}${where}; a variance must be a positive finite number`,
        { kind: specialist.kind, step: k + 1, ...(options.row === undefined ? {} : { row: options.row }) },
      );
    }
  }
  return out;
}

function meanSquare(r: ArrayLike<number>, from: number, width: number): number {
  let s = 0;
  for (let i = from; i < from + width; i++) s += (r[i] as number) ** 2;
  return s / width;
}

function garchPath(
  model: GarchModel,
  r: ArrayLike<number>,
  from: number,
  width: number,
  out: Float64Array,
): void {
  const { mu, omega, alpha, gamma, beta } = model.params;
  const p = persistence(model.params);
  let h = omega / (1 - p);
  for (let i = from; i < from + width; i++) {
    const z = (r[i] as number) - mu;
    // The same expression as garch.ts's nextVariance, so the arithmetic is the same.
    h = omega + (alpha + (z < 0 ? gamma : 0)) * z * z + beta * h;
  }
  for (let k = 0; k < out.length; k++) {
    out[k] = h;
    h = omega + p * h;
  }
}

function ewmaNext(lambda: number, r: ArrayLike<number>, from: number, width: number): number {
  let v = meanSquare(r, from, width);
  for (let i = from; i < from + width; i++) v = lambda * v + (1 - lambda) * (r[i] as number) ** 2;
  return v;
}

function harPath(
  c: HarRvCoefficients,
  r: ArrayLike<number>,
  from: number,
  width: number,
  out: Float64Array,
): void {
  // The last month of daily RVs, then each forecast appended in place of the unseen value.
  const rv: number[] = [];
  for (let i = from + width - HAR_MONTH; i < from + width; i++) rv.push((r[i] as number) ** 2);
  for (let k = 0; k < out.length; k++) {
    const next = harOne(c, rv, rv.length - 1);
    out[k] = next;
    rv.push(next);
  }
}

/** The regressors at day t of a daily RV series: [RV_t, weekly mean, monthly mean]. */
function harRegressors(rv: ArrayLike<number>, t: number): [number, number, number] {
  let week = 0;
  let month = 0;
  for (let j = 0; j < HAR_MONTH; j++) {
    const x = rv[t - j] as number;
    month += x;
    if (j < HAR_WEEK) week += x;
  }
  return [rv[t] as number, week / HAR_WEEK, month / HAR_MONTH];
}

function harOne(c: HarRvCoefficients, rv: ArrayLike<number>, t: number): number {
  const [d, w, m] = harRegressors(rv, t);
  return c.intercept + c.daily * d + c.weekly * w + c.monthly * m;
}

export interface HarRvFit {
  readonly coefficients: HarRvCoefficients;
  /** Regression rows used: n - 22. */
  readonly n: number;
  readonly rSquared: number;
}

/** Fewest returns for a HAR-RV fit: a month to start and enough rows for four coefficients. */
export const HAR_MIN_POINTS = HAR_MONTH + 30;

/**
 * Corsi's HAR-RV by ordinary least squares of RV_{t+1} on [1, RV_t, weekly, monthly] for every
 * t with a full month behind it and a next day after it (daily RV = squared return).
 */
export function fitHarRv(
  values: ArrayLike<number>,
  options: { rowName?: (index: number) => string } = {},
): HarRvFit {
  const returns = checkSeries(values, {
    model: "HAR-RV",
    minimum: HAR_MIN_POINTS,
    ...(options.rowName === undefined ? {} : { rowName: options.rowName }),
  });
  const rv = returns.map((x) => x * x);
  const xtx = new Float64Array(16);
  const xty = new Float64Array(4);
  let rows = 0;
  for (let t = HAR_MONTH - 1; t < rv.length - 1; t++) {
    const x = [1, ...harRegressors(rv, t)];
    const y = rv[t + 1] as number;
    for (let i = 0; i < 4; i++) {
      xty[i] = (xty[i] as number) + (x[i] as number) * y;
      for (let j = 0; j < 4; j++)
        xtx[i * 4 + j] = (xtx[i * 4 + j] as number) + (x[i] as number) * (x[j] as number);
    }
    rows++;
  }
  const inverse = invertSymmetric(xtx, 4);
  if (inverse === undefined) {
    throw invalid(
      "HAR-RV: the regressors are collinear (a series of constant squared returns?); OLS has no unique fit",
    );
  }
  const b = [0, 1, 2, 3].map((i) => {
    let s = 0;
    for (let j = 0; j < 4; j++) s += (inverse[i * 4 + j] as number) * (xty[j] as number);
    return s;
  });
  const coefficients = {
    intercept: b[0] as number,
    daily: b[1] as number,
    weekly: b[2] as number,
    monthly: b[3] as number,
  };
  let meanY = 0;
  for (let t = HAR_MONTH - 1; t < rv.length - 1; t++) meanY += rv[t + 1] as number;
  meanY /= rows;
  let ssr = 0;
  let sst = 0;
  for (let t = HAR_MONTH - 1; t < rv.length - 1; t++) {
    const y = rv[t + 1] as number;
    ssr += (y - harOne(coefficients, rv, t)) ** 2;
    sst += (y - meanY) ** 2;
  }
  return { coefficients, n: rows, rSquared: 1 - ssr / sst };
}
