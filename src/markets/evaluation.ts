/**
 * How volatility and return forecasts are scored and compared: losses per period, and the
 * Diebold–Mariano test with the Harvey–Leybourne–Newbold small-sample correction, exactly as
 * R's `forecast::dm.test` (version 8.20, varestimator "acf"; test/fixtures/markets/dm-test.json
 * holds R's answers).
 *
 * QLIKE, in Patton's (2011) normalised form: with σ² the realised variance proxy (the squared
 * return here) and h the forecast variance,
 *
 *   L(σ², h) = σ²/h − log(σ²/h) − 1,
 *
 * which is 0 for a perfect forecast and positive otherwise, and robust to the noise of the
 * proxy (Patton's point: the ranking by expected loss is that by the true variance). It needs
 * σ² > 0 (a zero return makes log(σ²/h) −∞); `qlikeLog` = log h + σ²/h differs from it only by
 * log σ² + 1, a term that does not depend on the forecast, so the two give the same loss
 * differentials (hence the same Diebold–Mariano test) and `qlikeLog` stays finite at σ² = 0.
 */
import { invalid } from "../domain/errors.js";
import { studentTTwoSided } from "../math/experiments/student-t.js";

/** Patton's QLIKE, normalised form: σ²/h − log(σ²/h) − 1 (realized > 0, forecast > 0). */
export function qlike(realized: number, forecast: number): number {
  const ratio = realized / forecast;
  return ratio - Math.log(ratio) - 1;
}

/** log h + σ²/h: QLIKE up to a term free of the forecast; finite when σ² = 0. */
export function qlikeLog(realized: number, forecast: number): number {
  return Math.log(forecast) + realized / forecast;
}

/** Squared error, for variance forecasts against the realised proxy. */
export function squaredError(realized: number, forecast: number): number {
  return (realized - forecast) ** 2;
}

/** Absolute error, for return forecasts. */
export function absoluteError(realized: number, forecast: number): number {
  return Math.abs(realized - forecast);
}

export type PointLoss = (realized: number, forecast: number) => number;

/** The loss at each period, and checks that the two series pair up and are finite. */
export function lossSeries(
  realized: ArrayLike<number>,
  forecast: ArrayLike<number>,
  loss: PointLoss,
): Float64Array {
  if (realized.length !== forecast.length) {
    throw invalid(`realized has ${realized.length} values but forecast has ${forecast.length}`);
  }
  const out = new Float64Array(realized.length);
  for (let i = 0; i < out.length; i++) {
    out[i] = loss(realized[i] as number, forecast[i] as number);
    if (!Number.isFinite(out[i])) {
      throw invalid(
        `the loss at period ${i + 1} is ${out[i]} (realized ${realized[i]}, forecast ${forecast[i]})`,
        {
          period: i + 1,
        },
      );
    }
  }
  return out;
}

export function meanOf(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s / values.length;
}

/**
 * The share of realised values inside [lower, upper] (bounds included), and how far that is
 * from the nominal level: a 90% interval should cover about 0.9.
 */
export function intervalCoverage(
  realized: ArrayLike<number>,
  lower: ArrayLike<number>,
  upper: ArrayLike<number>,
): { covered: number; n: number; coverage: number } {
  if (realized.length !== lower.length || realized.length !== upper.length) {
    throw invalid("realized, lower and upper must have the same length");
  }
  if (realized.length === 0) throw invalid("interval coverage needs at least one period");
  let covered = 0;
  for (let i = 0; i < realized.length; i++) {
    const y = realized[i] as number;
    if (y >= (lower[i] as number) && y <= (upper[i] as number)) covered++;
  }
  return { covered, n: realized.length, coverage: covered / realized.length };
}

export const DM_ALTERNATIVES = ["two.sided", "less", "greater"] as const;
export type DmAlternative = (typeof DM_ALTERNATIVES)[number];

export interface DmOptions {
  /** "less": model 1's loss is lower than model 2's; "greater": higher. Default "two.sided". */
  readonly alternative?: DmAlternative;
  /** Forecast horizon: loss differential autocovariances up to lag h − 1 enter the variance. */
  readonly h?: number;
  /**
   * Errors given: the loss is |e|^power (R's default 2). Losses given (`losses: true`): the
   * series are the two models' losses per period, taken as they are.
   */
  readonly power?: number;
  readonly losses?: boolean;
}

export interface DmResult {
  /** The HLN-corrected statistic, R's `statistic`. */
  readonly statistic: number;
  readonly pValue: number;
  readonly alternative: DmAlternative;
  readonly h: number;
  /** n − 1, the t distribution's degrees of freedom. */
  readonly degreesOfFreedom: number;
  /** Mean loss differential, model 1 minus model 2: negative when model 1 does better. */
  readonly meanDifferential: number;
  /** Set when the variance at h was not positive and h = 1 was used (R warns and does the same). */
  readonly fellBackToH1?: boolean;
}

/**
 * Diebold–Mariano with the Harvey–Leybourne–Newbold correction, as `forecast::dm.test`:
 *
 *   d_t = L1_t − L2_t,  γ_k = (1/n) Σ_{t≤n−k} (d_t − d̄)(d_{t+k} − d̄),
 *   V = (γ_0 + 2 Σ_{k=1}^{h−1} γ_k) / n,  DM = d̄ / √V · √((n + 1 − 2h + h(h − 1)/n) / n),
 *
 * p-value from Student's t with n − 1 degrees of freedom. A V ≤ 0 at h > 1 falls back to
 * h = 1, as R does; at h = 1 it is an error (the two forecasts' losses differ by a constant).
 */
export function dieboldMariano(
  e1: ArrayLike<number>,
  e2: ArrayLike<number>,
  options: DmOptions = {},
): DmResult {
  const alternative = options.alternative ?? "two.sided";
  if (!DM_ALTERNATIVES.includes(alternative)) {
    throw invalid(`alternative must be one of ${DM_ALTERNATIVES.join(", ")}, not ${String(alternative)}`, {
      field: "alternative",
    });
  }
  const h = options.h ?? 1;
  const power = options.power ?? 2;
  if (e1.length !== e2.length) throw invalid(`the two series have ${e1.length} and ${e2.length} values`);
  const n = e1.length;
  if (!Number.isInteger(h) || h < 1 || h >= n) {
    throw invalid(`h must be an integer from 1 to n − 1 = ${n - 1}, not ${h}`, { field: "h" });
  }
  if (!(power > 0) || !Number.isFinite(power))
    throw invalid(`power must be positive, not ${power}`, { field: "power" });
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = e1[i] as number;
    const b = e2[i] as number;
    d[i] = options.losses === true ? a - b : Math.abs(a) ** power - Math.abs(b) ** power;
    if (!Number.isFinite(d[i]))
      throw invalid(`the loss differential at period ${i + 1} is not finite`, { period: i + 1 });
  }
  return dmFromDifferential(d, h, alternative, false);
}

function dmFromDifferential(
  d: Float64Array,
  h: number,
  alternative: DmAlternative,
  fellBack: boolean,
): DmResult {
  const n = d.length;
  const dbar = meanOf(d);
  let sum = 0;
  for (let k = 0; k < h; k++) {
    let gamma = 0;
    for (let t = 0; t + k < n; t++) gamma += ((d[t] as number) - dbar) * ((d[t + k] as number) - dbar);
    gamma /= n;
    sum += k === 0 ? gamma : 2 * gamma;
  }
  const v = sum / n;
  if (!(v > 0)) {
    if (h === 1)
      throw invalid("the variance of the DM statistic is zero: the two loss series differ by a constant");
    return dmFromDifferential(d, 1, alternative, true);
  }
  const k = Math.sqrt((n + 1 - 2 * h + (h / n) * (h - 1)) / n);
  const statistic = (dbar / Math.sqrt(v)) * k;
  const df = n - 1;
  const twoSided = studentTTwoSided(statistic, df);
  // P(T ≤ t) from the two-sided tail; each branch takes the small tail directly.
  const lowerTail = statistic < 0 ? twoSided / 2 : 1 - twoSided / 2;
  const upperTail = statistic < 0 ? 1 - twoSided / 2 : twoSided / 2;
  const pValue = alternative === "two.sided" ? twoSided : alternative === "less" ? lowerTail : upperTail;
  return {
    statistic,
    pValue,
    alternative,
    h,
    degreesOfFreedom: df,
    meanDifferential: dbar,
    ...(fellBack ? { fellBackToH1: true } : {}),
  };
}
