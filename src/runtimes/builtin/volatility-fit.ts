/**
 * A volatility specialist fitted to a returns series and written as the builtin model file
 * (volatility-format.ts) that the registry takes and the builtin runtime serves. One path for
 * `ballast fit … --save` and the pipelines' `train: {builtin: {kind: garch|gjr|ewma|har-rv|
 * last-value}}`, so a version trained either way is the same file for the same data.
 *
 * - garch, gjr: Gaussian QMLE (markets/garch.ts); a non-converging optimizer throws with its
 *   state (parameters and log-likelihood where it stopped), too few points with the minimum.
 * - har-rv: Corsi's OLS (markets/specialists.ts).
 * - ewma: nothing to estimate (lambda given, RiskMetrics' 0.94 by default).
 * - last-value: nothing to estimate.
 *
 * The model is checked by the same parser the registry uses before it is returned, so what is
 * written can be registered and served as it is.
 */
import { fitGarch, persistence, type GarchFit } from "../../markets/garch.js";
import { checkSeries } from "../../markets/series.js";
import { fitHarRv, RISKMETRICS_LAMBDA, type HarRvFit } from "../../markets/specialists.js";
import { parseVolatilityModel, type VolatilityBuiltinModel } from "./volatility-format.js";

/** What can be fitted: the served kinds, with GJR as GARCH's leverage option. */
export const VOLATILITY_FIT_KINDS = ["garch", "gjr", "ewma", "har-rv", "last-value"] as const;
export type VolatilityFitKind = (typeof VOLATILITY_FIT_KINDS)[number];

export function isVolatilityFitKind(kind: unknown): kind is VolatilityFitKind {
  return (VOLATILITY_FIT_KINDS as readonly unknown[]).includes(kind);
}

export interface VolatilityFitOptions {
  readonly kind: VolatilityFitKind;
  /** Columns of the served input `returns` [n, window]. */
  readonly window: number;
  /** Columns of the served output `variance` [n, horizon]; default 1. */
  readonly horizon?: number;
  /** ewma's decay. */
  readonly lambda?: number;
  /** garch, gjr: the optimizer's iteration cap. */
  readonly maxIterations?: number;
  /** garch, gjr: standard errors from the numerical Hessian (the CLI prints them). */
  readonly standardErrors?: boolean;
  readonly rowName?: (index: number) => string;
  /** Free-form metadata kept in the file's `training` (file, column, scale, …). */
  readonly training?: Readonly<Record<string, unknown>>;
}

export interface VolatilityFit {
  readonly model: VolatilityBuiltinModel;
  /** Numbers about the fit, also in the model's `training`: n, loglik, persistence, r_squared. */
  readonly summary: Readonly<Record<string, number>>;
  readonly garch?: GarchFit;
  readonly harRv?: HarRvFit;
}

export function fitVolatilityModel(values: ArrayLike<number>, options: VolatilityFitOptions): VolatilityFit {
  const { kind } = options;
  const rowName = options.rowName === undefined ? {} : { rowName: options.rowName };
  let fields: Record<string, unknown>;
  let summary: Record<string, number>;
  let garch: GarchFit | undefined;
  let harRv: HarRvFit | undefined;
  if (kind === "garch" || kind === "gjr") {
    garch = fitGarch(values, {
      kind,
      ...rowName,
      ...(options.maxIterations === undefined ? {} : { maxIterations: options.maxIterations }),
      standardErrors: options.standardErrors ?? false,
    });
    fields = { garch: garch.model };
    summary = {
      n: garch.n,
      loglik: garch.loglik,
      persistence: persistence(garch.model.params),
      iterations: garch.optimizer.iterations,
    };
  } else if (kind === "har-rv") {
    harRv = fitHarRv(values, rowName);
    fields = { coefficients: harRv.coefficients };
    summary = { n: harRv.n, r_squared: harRv.rSquared };
  } else {
    // Nothing is estimated, but the series is still checked (finite, not constant).
    const label = kind === "ewma" ? "EWMA" : "the last value";
    checkSeries(values, { model: label, minimum: 1, ...rowName });
    const lambda = options.lambda ?? RISKMETRICS_LAMBDA;
    fields = kind === "ewma" ? { lambda } : {};
    summary = { n: values.length, ...(kind === "ewma" ? { lambda } : {}) };
  }
  const model = parseVolatilityModel({
    format: "ballast.builtin/v1",
    kind: kind === "gjr" ? "garch" : kind,
    window: options.window,
    horizon: options.horizon ?? 1,
    ...fields,
    training: { ...summary, ...options.training },
  });
  return {
    model,
    summary,
    ...(garch === undefined ? {} : { garch }),
    ...(harRv === undefined ? {} : { harRv }),
  };
}
