/**
 * The scores of a backtest: QLIKE and MSE per model (each specialist and the router), overall
 * and per regime (the regime the router acted on at each bar), the best single specialist, and
 * Diebold–Mariano (HLN) of the router against it.
 *
 * QLIKE is Patton's normalised form, over the bars whose realized proxy r^2 is positive: a zero
 * return (a day the index did not move) has no finite QLIKE, and the count left out is given.
 * MSE is over every bar. A specialist that gave no usable forecast at a bar is scored there with
 * its last usable one (what a monitor would have held); its failures are counted in the result.
 *
 * DM: losses of the router minus those of the best single specialist (the best overall; per
 * regime, the best in that regime), h = 1; `pValue` two-sided, `pBetter` one-sided for "the
 * router's loss is lower".
 */
import { dieboldMariano, qlike, squaredError } from "./evaluation.js";
import type { BacktestResult } from "./backtest.js";

export const ROUTER = "router";

export interface LossSummary {
  /** Mean QLIKE over the bars with r^2 > 0. */
  readonly qlike: number;
  readonly mse: number;
  /** Bars scored (MSE). */
  readonly n: number;
  /** Bars in the QLIKE (r^2 > 0). */
  readonly nQlike: number;
}

export interface DmSummary {
  /** The single specialist the router is compared with. */
  readonly against: string;
  readonly loss: "qlike" | "mse";
  readonly statistic: number;
  readonly pValue: number;
  /** One-sided p for "the router's loss is lower". */
  readonly pBetter: number;
  /** Router minus specialist: negative when the router does better. */
  readonly meanDifferential: number;
  readonly n: number;
}

export interface RegimeScores {
  readonly label: string;
  /** Bars in this regime. */
  readonly bars: number;
  readonly losses: Readonly<Record<string, LossSummary>>;
  /** The best single specialist here by QLIKE (undefined with no bars). */
  readonly best?: string;
  readonly dm?: { readonly qlike?: DmSummary; readonly mse?: DmSummary };
}

export interface BacktestScores {
  /** The specialists, then the router. */
  readonly models: readonly string[];
  readonly overall: Readonly<Record<string, LossSummary>>;
  readonly best: string;
  /** Router QLIKE / best single QLIKE, and the same for MSE. */
  readonly ratio: { readonly qlike: number; readonly mse: number };
  readonly dm: { readonly qlike?: DmSummary; readonly mse?: DmSummary };
  readonly byRegime: readonly RegimeScores[];
  readonly zeroRealized: number;
}

/** Each specialist's forecasts with a gap filled by its last usable one (the router's before any). */
export function filledForecasts(result: BacktestResult): Float64Array[] {
  return result.forecasts.map((f) => {
    const out = Float64Array.from(f);
    let last = Number.NaN;
    for (let i = 0; i < out.length; i++) {
      if (Number.isNaN(out[i])) out[i] = Number.isNaN(last) ? (result.router[i] as number) : last;
      else last = out[i] as number;
    }
    return out;
  });
}

export function scoreBacktest(result: BacktestResult): BacktestScores {
  const models = [...result.names, ROUTER];
  const series = [...filledForecasts(result), result.router];
  const rows = result.realized.length;
  const all = Array.from({ length: rows }, (_, i) => i);
  let zeroRealized = 0;
  for (const r of result.realized) if (!(r > 0)) zeroRealized++;
  const summarise = (at: readonly number[]): Record<string, LossSummary> =>
    Object.fromEntries(models.map((m, i) => [m, summary(result.realized, series[i] as Float64Array, at)]));
  const overall = summarise(all);
  const best = bestOf(result.names, overall) as string;
  const routerIndex = models.length - 1;
  const bestIndex = result.names.indexOf(best);
  const dmOf = (at: readonly number[], against: number): BacktestScores["dm"] => {
    const q = dm(
      result.realized,
      series[routerIndex] as Float64Array,
      series[against] as Float64Array,
      at,
      "qlike",
    );
    const m = dm(
      result.realized,
      series[routerIndex] as Float64Array,
      series[against] as Float64Array,
      at,
      "mse",
    );
    const name = models[against] as string;
    return {
      ...(q === undefined ? {} : { qlike: { against: name, ...q } }),
      ...(m === undefined ? {} : { mse: { against: name, ...m } }),
    };
  };
  const byRegime = result.labels.map((label, j): RegimeScores => {
    const at = all.filter((i) => result.regime[i] === j);
    const losses = summarise(at);
    const regimeBest = at.length === 0 ? undefined : bestOf(result.names, losses);
    return {
      label,
      bars: at.length,
      losses,
      ...(regimeBest === undefined
        ? {}
        : { best: regimeBest, dm: dmOf(at, result.names.indexOf(regimeBest)) }),
    };
  });
  const router = overall[ROUTER] as LossSummary;
  const single = overall[best] as LossSummary;
  return {
    models,
    overall,
    best,
    ratio: { qlike: router.qlike / single.qlike, mse: router.mse / single.mse },
    dm: dmOf(all, bestIndex),
    byRegime,
    zeroRealized,
  };
}

function summary(realized: Float64Array, forecast: Float64Array, at: readonly number[]): LossSummary {
  let q = 0;
  let nq = 0;
  let se = 0;
  for (const i of at) {
    const r = realized[i] as number;
    const f = forecast[i] as number;
    se += squaredError(r, f);
    if (r > 0) {
      q += qlike(r, f);
      nq++;
    }
  }
  return {
    qlike: nq > 0 ? q / nq : Number.NaN,
    mse: at.length > 0 ? se / at.length : Number.NaN,
    n: at.length,
    nQlike: nq,
  };
}

function bestOf(names: readonly string[], losses: Record<string, LossSummary>): string | undefined {
  let best: string | undefined;
  for (const name of names) {
    const q = losses[name]?.qlike as number;
    if (Number.isFinite(q) && (best === undefined || q < (losses[best]?.qlike as number))) best = name;
  }
  return best;
}

function dm(
  realized: Float64Array,
  router: Float64Array,
  single: Float64Array,
  at: readonly number[],
  loss: "qlike" | "mse",
): Omit<DmSummary, "against"> | undefined {
  const a: number[] = [];
  const b: number[] = [];
  for (const i of at) {
    const r = realized[i] as number;
    if (loss === "qlike") {
      if (!(r > 0)) continue;
      a.push(qlike(r, router[i] as number));
      b.push(qlike(r, single[i] as number));
    } else {
      a.push(squaredError(r, router[i] as number));
      b.push(squaredError(r, single[i] as number));
    }
  }
  if (a.length < 3) return undefined;
  try {
    const two = dieboldMariano(a, b, { losses: true });
    const less = dieboldMariano(a, b, { losses: true, alternative: "less" });
    return {
      loss,
      statistic: two.statistic,
      pValue: two.pValue,
      pBetter: less.pValue,
      meanDifferential: two.meanDifferential,
      n: a.length,
    };
  } catch {
    // The router is that specialist at every bar (a hard route to it): no test to make.
    return undefined;
  }
}
