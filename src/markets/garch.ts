/**
 * GARCH(1,1) and GJR-GARCH(1,1) with a constant mean, fitted by Gaussian (quasi) maximum
 * likelihood:
 *
 *   r_t = mu + z_t,   h_t = omega + (alpha + gamma 1[z_{t-1} < 0]) z_{t-1}^2 + beta h_{t-1}
 *
 * (gamma = 0 for plain GARCH). Start-up variance: h_1 = omega + p * mean(z^2), with z = r - mu
 * over the whole sample and p = alpha + gamma/2 + beta the persistence; z_0^2 and h_0 are both
 * taken as the sample mean of the squared residuals. This is fGarch's `garchFit` recursion,
 * which reproduces the Fiorentini–Calzolari–Panattoni (1996) benchmark on DEM/GBP (mu
 * -0.00619041, omega 0.0107614, alpha 0.153134, beta 0.805974, log-likelihood -1106.6079 over
 * all 1974 rows): the test checks both. The log-likelihood counts every row.
 *
 * A fitted model is a model version: its parameters plus its state (the last residual and the
 * last variance), plain JSON. `updateGarch` moves the state on by one return, in O(1), so the
 * next-period variance and h-step forecasts follow the newest return without a refit.
 *
 * Bounds by reparametrisation: omega = exp(.), and alpha, gamma/2, beta are shares of a whole
 * that also leaves room for 1 - persistence, so each is positive and the process is stationary.
 * GJR's gamma is therefore >= 0 (the leverage effect's usual sign).
 */
import { BallastError, invalid } from "../domain/errors.js";
import { shown } from "../domain/json-value.js";
import { invertSymmetric, minimizeBfgs, numericHessian } from "../math/optimize/bfgs.js";
import { checkSeries, mean, variance } from "./series.js";

export const GARCH_KINDS = ["garch", "gjr"] as const;
export type GarchKind = (typeof GARCH_KINDS)[number];

/** Fewer points than this and the four or five parameters are not identified in practice. */
export const GARCH_MIN_POINTS = 100;

export interface GarchParams {
  readonly mu: number;
  readonly omega: number;
  readonly alpha: number;
  /** 0 for plain GARCH. */
  readonly gamma: number;
  readonly beta: number;
}

/** Where the recursion stands after the last return it saw. */
export interface GarchState {
  /** z_T = r_T - mu. */
  readonly lastResidual: number;
  /** h_T, the conditional variance the model had for r_T. */
  readonly lastVariance: number;
  /** Returns seen, the fit's and the updates'. */
  readonly observations: number;
}

/** A fitted model as a version: parameters plus state; JSON as it is. */
export interface GarchModel {
  readonly kind: GarchKind;
  readonly params: GarchParams;
  readonly state: GarchState;
}

export interface GarchFit {
  readonly model: GarchModel;
  readonly n: number;
  readonly loglik: number;
  /** Standard errors from the inverse of the numerical Hessian; absent when it is not invertible. */
  readonly standardErrors?: GarchParams;
  /** h_t for every row. */
  readonly variance: Float64Array;
  readonly optimizer: { readonly iterations: number; readonly evaluations: number; readonly reason: string };
}

export interface GarchFitOptions {
  readonly kind?: GarchKind;
  readonly maxIterations?: number;
  /** How a row is named in messages (the CLI gives file lines). */
  readonly rowName?: (index: number) => string;
  readonly standardErrors?: boolean;
}

export function persistence(params: GarchParams): number {
  return params.alpha + params.gamma / 2 + params.beta;
}

/** The log-likelihood and the variance path of a series under given parameters. */
export function garchLogLikelihood(
  returns: ArrayLike<number>,
  params: GarchParams,
  options: { variancePath?: Float64Array; startVariance?: number } = {},
): { loglik: number; lastResidual: number; lastVariance: number } {
  const { mu, omega, alpha, gamma, beta } = params;
  const n = returns.length;
  const variancePath = options.variancePath;
  let meanSquare = 0;
  for (let i = 0; i < n; i++) meanSquare += ((returns[i] as number) - mu) ** 2;
  meanSquare /= n;
  // h_1 as documented at the top; a caller may give its own (to reproduce another package's).
  let h = options.startVariance ?? omega + persistence(params) * meanSquare;
  let sum = 0;
  let z = 0;
  for (let t = 0; t < n; t++) {
    if (t > 0) h = omega + (alpha + (z < 0 ? gamma : 0)) * z * z + beta * h;
    z = (returns[t] as number) - mu;
    if (variancePath !== undefined) variancePath[t] = h;
    sum += Math.log(h) + (z * z) / h;
  }
  return { loglik: -0.5 * (n * Math.log(2 * Math.PI) + sum), lastResidual: z, lastVariance: h };
}

export function fitGarch(values: ArrayLike<number>, options: GarchFitOptions = {}): GarchFit {
  const kind = options.kind ?? "garch";
  const label = kind === "gjr" ? "GJR-GARCH(1,1)" : "GARCH(1,1)";
  const returns = checkSeries(values, {
    model: label,
    minimum: GARCH_MIN_POINTS,
    ...(options.rowName === undefined ? {} : { rowName: options.rowName }),
  });
  const m = mean(returns);
  const v = variance(returns);
  const start: GarchParams =
    kind === "gjr"
      ? { mu: m, omega: 0.05 * v, alpha: 0.03, gamma: 0.04, beta: 0.9 }
      : { mu: m, omega: 0.05 * v, alpha: 0.05, gamma: 0, beta: 0.9 };
  // mu is scaled by the series' spread so every coordinate of the search is of order one.
  const scale = Math.sqrt(v);
  const negLoglik = (theta: Float64Array): number => {
    const params = fromTheta(theta, kind, scale);
    return -garchLogLikelihood(returns, params).loglik;
  };
  const result = minimizeBfgs(negLoglik, toTheta(start, kind, scale), {
    maxIterations: options.maxIterations ?? 500,
    gradientTolerance: 1e-5,
  });
  const params = fromTheta(result.x, kind, scale);
  if (!result.converged) {
    throw new BallastError(
      "invalid_argument",
      `${label} did not converge (${result.reason}), stopped at ${describe(params)}, log-likelihood ${(-result.f).toFixed(4)}`,
      { iterations: result.iterations, params, loglik: -result.f },
    );
  }
  const path = new Float64Array(returns.length);
  const { loglik, lastResidual, lastVariance } = garchLogLikelihood(returns, params, { variancePath: path });
  const se = options.standardErrors === false ? undefined : standardErrors(returns, params, kind);
  return {
    model: { kind, params, state: { lastResidual, lastVariance, observations: returns.length } },
    n: returns.length,
    loglik,
    ...(se === undefined ? {} : { standardErrors: se }),
    variance: path,
    optimizer: { iterations: result.iterations, evaluations: result.evaluations, reason: result.reason },
  };
}

/** h_{T+1}: the variance of the next return, given everything seen. */
export function nextVariance(model: GarchModel): number {
  const { omega, alpha, gamma, beta } = model.params;
  const z = model.state.lastResidual;
  return omega + (alpha + (z < 0 ? gamma : 0)) * z * z + beta * model.state.lastVariance;
}

/**
 * h_{T+1}, …, h_{T+steps}. Beyond one step the sign of the shock is unknown, so GJR's gamma
 * counts half (symmetric innovations): h_{T+k} = omega + persistence h_{T+k-1}.
 */
export function forecastVariance(model: GarchModel, steps: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw invalid(`steps must be a positive integer, got ${steps}`);
  const out = new Float64Array(steps);
  let h = nextVariance(model);
  const p = persistence(model.params);
  for (let k = 0; k < steps; k++) {
    out[k] = h;
    h = model.params.omega + p * h;
  }
  return out;
}

/** The model after one more return: O(1), the parameters unchanged. */
export function updateGarch(model: GarchModel, value: number): GarchModel {
  if (!Number.isFinite(value)) throw invalid(`return ${String(value)} is not a finite number`);
  return {
    ...model,
    state: {
      lastVariance: nextVariance(model),
      lastResidual: value - model.params.mu,
      observations: model.state.observations + 1,
    },
  };
}

/** A model version read back from JSON, checked: a stored version is input like any other. */
export function parseGarchModel(json: unknown): GarchModel {
  const o = json as { kind?: unknown; params?: Record<string, unknown>; state?: Record<string, unknown> };
  if (typeof o !== "object" || o === null)
    throw invalid("a GARCH model is an object with kind, params and state");
  if (!GARCH_KINDS.includes(o.kind as GarchKind))
    throw invalid(`kind must be garch or gjr, got ${shown(o.kind)}`);
  const num = (from: Record<string, unknown> | undefined, key: string, where: string): number => {
    const v = from?.[key];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalid(`${where}.${key} must be a finite number`);
    return v;
  };
  const params: GarchParams = {
    mu: num(o.params, "mu", "params"),
    omega: num(o.params, "omega", "params"),
    alpha: num(o.params, "alpha", "params"),
    gamma: o.kind === "gjr" ? num(o.params, "gamma", "params") : 0,
    beta: num(o.params, "beta", "params"),
  };
  if (!(params.omega > 0) || params.alpha < 0 || params.beta < 0 || params.alpha + params.gamma < 0)
    throw invalid("params: omega must be > 0, alpha and beta >= 0, alpha + gamma >= 0");
  const state: GarchState = {
    lastResidual: num(o.state, "lastResidual", "state"),
    lastVariance: num(o.state, "lastVariance", "state"),
    observations: num(o.state, "observations", "state"),
  };
  if (!(state.lastVariance > 0)) throw invalid("state.lastVariance must be > 0");
  return { kind: o.kind as GarchKind, params, state };
}

function describe(p: GarchParams): string {
  return `mu ${p.mu.toPrecision(6)}, omega ${p.omega.toPrecision(6)}, alpha ${p.alpha.toPrecision(6)}, ${p.gamma === 0 ? "" : `gamma ${p.gamma.toPrecision(6)}, `}beta ${p.beta.toPrecision(6)}`;
}

// theta: [mu / scale, log omega, log a, log b (, log g)], with alpha = a/D, beta = b/D,
// gamma/2 = g/D, D = 1 + a + b (+ g): the shares leave 1/D for 1 - persistence.
function toTheta(p: GarchParams, kind: GarchKind, scale: number): Float64Array {
  const rest = 1 - persistence(p);
  const base = [p.mu / scale, Math.log(p.omega), Math.log(p.alpha / rest), Math.log(p.beta / rest)];
  if (kind === "gjr") base.push(Math.log(p.gamma / 2 / rest));
  return Float64Array.from(base);
}

function fromTheta(theta: Float64Array, kind: GarchKind, scale: number): GarchParams {
  const a = Math.exp(theta[2] as number);
  const b = Math.exp(theta[3] as number);
  const g = kind === "gjr" ? Math.exp(theta[4] as number) : 0;
  const d = 1 + a + b + g;
  return {
    mu: (theta[0] as number) * scale,
    omega: Math.exp(theta[1] as number),
    alpha: a / d,
    gamma: (2 * g) / d,
    beta: b / d,
  };
}

function standardErrors(returns: Float64Array, p: GarchParams, kind: GarchKind): GarchParams | undefined {
  // In the natural parameters, not theta: these are the numbers a reader compares with rugarch/fGarch.
  const names =
    kind === "gjr"
      ? (["mu", "omega", "alpha", "gamma", "beta"] as const)
      : (["mu", "omega", "alpha", "beta"] as const);
  const at = Float64Array.from(names.map((k) => p[k]));
  const named = (x: ArrayLike<number>): GarchParams => ({
    mu: x[0] as number,
    omega: x[1] as number,
    alpha: x[2] as number,
    gamma: kind === "gjr" ? (x[3] as number) : 0,
    beta: x[names.length - 1] as number,
  });
  const nll = (x: Float64Array): number => -garchLogLikelihood(returns, named(x)).loglik;
  const k = names.length;
  const cov = invertSymmetric(numericHessian(nll, at), k);
  if (cov === undefined) return undefined;
  return named(Array.from({ length: k }, (_, i) => Math.sqrt(cov[i * k + i] as number)));
}
