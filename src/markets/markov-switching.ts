/**
 * Markov switching regression and autoregression (Hamilton 1989), fitted by maximum likelihood
 * with a quasi-Newton method (BFGS on reparametrised parameters, from several starts):
 *
 *   y_t = m_{S_t}(t) + sum_i phi_i (y_{t-i} - m_{S_{t-i}}(t-i)) + e_t,   e_t ~ N(0, sigma^2_{S_t})
 *   m_s(t) = mu_s + x_t' beta_s   (beta the same in every regime unless the exog switches)
 *
 * S_t is a Markov chain on k regimes. With order p > 0 (Hamilton's GNP model: p = 4, the AR
 * terms not switching) the likelihood depends on the last p+1 regimes, so the filter runs on
 * the joint state (S_t, …, S_{t-p}), k^(p+1) of them; the first p observations are conditioned
 * on. Hamilton's filter gives the log-likelihood and the filtered probabilities P(S_t | y_1..t)
 * (what a live classifier knows), Kim's smoother the smoothed ones P(S_t | y_1..T) (backtests).
 * The filter starts from the chain's stationary distribution, as statsmodels' default does; the
 * tests check the log-likelihood, the probabilities and the fit against statsmodels'
 * MarkovRegression / MarkovAutoregression on their published cases.
 *
 * Regimes are numbered in a fixed order after a fit, so that a refit does not swap labels: by
 * variance, smallest first, when the variance switches, else by mean, lowest first.
 */
import { invalid } from "../domain/errors.js";
import { minimizeBfgs } from "../math/optimize/bfgs.js";
import { checkSeries, mean, variance } from "./series.js";

export interface MarkovSwitchingSpec {
  readonly regimes: number;
  /** Autoregressive order (Hamilton's form, the AR terms the same in every regime); 0 by default. */
  readonly order?: number;
  readonly switchingVariance?: boolean;
  /** Regressors, one row per observation of y (e.g. the lagged value). */
  readonly exog?: ReadonlyArray<ReadonlyArray<number>>;
  /** Whether the exog coefficients switch with the regime (statsmodels' default: yes). */
  readonly switchingExog?: boolean;
}

export interface MarkovSwitchingParams {
  /** transition[i][j] = P(S_t = j | S_{t-1} = i): each row sums to one. */
  readonly transition: number[][];
  /** mu_s, per regime. */
  readonly means: number[];
  /** beta[s][c]; every row the same when the exog does not switch. */
  readonly exog: number[][];
  /** phi_1..phi_p. */
  readonly ar: number[];
  /** sigma^2_s, per regime (all equal unless the variance switches). */
  readonly variances: number[];
}

export interface RegimeFilterResult {
  readonly loglik: number;
  /** filtered[t][s] = P(S_t = s | y up to t), for the observations after the first `order`. */
  readonly filtered: Float64Array[];
  /** The joint predicted and filtered probabilities, for the smoother. */
  readonly jointPredicted: Float64Array[];
  readonly jointFiltered: Float64Array[];
}

export interface MarkovSwitchingFit {
  readonly spec: Required<Omit<MarkovSwitchingSpec, "exog">> & { readonly exogColumns: number };
  readonly params: MarkovSwitchingParams;
  /** Observations in the likelihood: n - order. */
  readonly n: number;
  readonly loglik: number;
  readonly expectedDurations: number[];
  readonly filtered: Float64Array[];
  readonly smoothed: Float64Array[];
  readonly optimizer: { readonly iterations: number; readonly starts: number; readonly reason: string };
}

export interface MarkovSwitchingFitOptions {
  readonly maxIterations?: number;
  readonly rowName?: (index: number) => string;
}

/** Per regime, the fewest observations we accept: below it a regime's mean and variance are noise. */
export const MARKOV_SWITCHING_MIN_POINTS_PER_REGIME = 10;

/** A regime whose variance falls below this share of the sample variance has collapsed. */
export const COLLAPSED_VARIANCE_SHARE = 1e-6;

export function expectedDurations(transition: number[][]): number[] {
  return transition.map((row, i) => 1 / (1 - (row[i] as number)));
}

/** The stationary distribution of a row-stochastic matrix (power iteration from uniform). */
export function stationaryDistribution(transition: number[][]): number[] {
  const k = transition.length;
  let pi = new Array<number>(k).fill(1 / k);
  for (let it = 0; it < 10_000; it++) {
    const next = new Array<number>(k).fill(0);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++)
        next[j] = (next[j] as number) + (pi[i] as number) * (transition[i]?.[j] as number);
    const change = next.reduce((acc, v, j) => acc + Math.abs(v - (pi[j] as number)), 0);
    pi = next;
    if (change < 1e-15) break;
  }
  return pi;
}

/** Hamilton's filter on the joint state (S_t, …, S_{t-p}). */
export function hamiltonFilter(
  y: ArrayLike<number>,
  params: MarkovSwitchingParams,
  exog?: ReadonlyArray<ReadonlyArray<number>>,
  /** false: the log-likelihood alone, in two reused buffers (what the optimizer calls, many times). */
  store = true,
  /** The joint filtered probabilities before y's first modelled row; the stationary ones when absent. */
  prior?: ArrayLike<number>,
): RegimeFilterResult {
  const k = params.means.length;
  const p = params.ar.length;
  const K = k ** (p + 1);
  const tail = k ** p; // joint states of the p newest regimes
  const N = y.length;
  // dev[t*k + s] = y_t - m_s(t)
  const dev = new Float64Array(N * k);
  for (let t = 0; t < N; t++) {
    const x = exog?.[t];
    for (let s = 0; s < k; s++) {
      let m = params.means[s] as number;
      if (x !== undefined) {
        const beta = params.exog[s] as number[];
        for (let c = 0; c < x.length; c++) m += (beta[c] as number) * (x[c] as number);
      }
      dev[t * k + s] = (y[t] as number) - m;
    }
  }
  const P = Float64Array.from(params.transition.flat()); // P[i * k + j]
  const logNorm = params.variances.map((v) => -0.5 * Math.log(2 * Math.PI * v));
  // Stationary joint distribution of (S_{t-1}, …, S_{t-1-p}) as the prior.
  const pi = stationaryDistribution(params.transition);
  let filt = new Float64Array(K);
  if (prior !== undefined) filt = Float64Array.from(prior);
  else
    for (let a = 0; a < K; a++) {
      // a = s_{t-1} + k s_{t-2} + … + k^p s_{t-1-p}
      let prob = pi[Math.floor(a / tail) % k] as number;
      for (let i = p; i >= 1; i--) {
        const older = Math.floor(a / k ** i) % k;
        const newer = Math.floor(a / k ** (i - 1)) % k;
        prob *= P[older * k + newer] as number;
      }
      filt[a] = prob;
    }
  const filtered: Float64Array[] = [];
  const jointPredicted: Float64Array[] = [];
  const jointFiltered: Float64Array[] = [];
  const logDens = new Float64Array(K);
  let spare = new Float64Array(K);
  let spareNext = new Float64Array(K);
  let loglik = 0;
  for (let t = p; t < N; t++) {
    const pred = store ? new Float64Array(K) : spare;
    let maxLog = Number.NEGATIVE_INFINITY;
    for (let b = 0; b < K; b++) {
      const sNow = b % k;
      const rest = Math.floor(b / k); // (s_{t-1}, …, s_{t-p})
      let sum = 0;
      for (let sOld = 0; sOld < k; sOld++) {
        const a = rest + tail * sOld; // its newest regime, s_{t-1}, is a % k (sOld itself when p = 0)
        sum += (filt[a] as number) * (P[(a % k) * k + sNow] as number);
      }
      pred[b] = sum;
      let r = dev[t * k + sNow] as number;
      for (let i = 1; i <= p; i++)
        r -= (params.ar[i - 1] as number) * (dev[(t - i) * k + (Math.floor(b / k ** i) % k)] as number);
      const ld = (logNorm[sNow] as number) - (0.5 * r * r) / (params.variances[sNow] as number);
      logDens[b] = ld;
      if (sum > 0 && ld > maxLog) maxLog = ld;
    }
    const next = store ? new Float64Array(K) : spareNext;
    let lik = 0;
    for (let b = 0; b < K; b++) {
      const v = (pred[b] as number) * Math.exp((logDens[b] as number) - maxLog);
      next[b] = v;
      lik += v;
    }
    if (!(lik > 0) || !Number.isFinite(maxLog)) {
      return { loglik: Number.NEGATIVE_INFINITY, filtered, jointPredicted, jointFiltered };
    }
    for (let b = 0; b < K; b++) next[b] = (next[b] as number) / lik;
    loglik += Math.log(lik) + maxLog;
    if (store) {
      const marginal = new Float64Array(k);
      for (let b = 0; b < K; b++) marginal[b % k] = (marginal[b % k] as number) + (next[b] as number);
      filtered.push(marginal);
      jointPredicted.push(pred);
      jointFiltered.push(next);
    } else {
      // the buffer filt held becomes the next step's spare
      spareNext = filt;
      spare = pred;
    }
    filt = next;
  }
  return { loglik, filtered, jointPredicted, jointFiltered };
}

/** Kim's smoother on the joint state; smoothed[t][s] = P(S_t = s | all y). */
export function kimSmoother(filter: RegimeFilterResult, params: MarkovSwitchingParams): Float64Array[] {
  const k = params.means.length;
  const p = params.ar.length;
  const tail = k ** p;
  const T = filter.jointFiltered.length;
  if (T === 0) return [];
  const K = k ** (p + 1);
  const P = params.transition;
  const smoothedJoint: Float64Array[] = new Array<Float64Array>(T);
  smoothedJoint[T - 1] = filter.jointFiltered[T - 1] as Float64Array;
  for (let t = T - 2; t >= 0; t--) {
    const later = smoothedJoint[t + 1] as Float64Array;
    const pred = filter.jointPredicted[t + 1] as Float64Array;
    const filt = filter.jointFiltered[t] as Float64Array;
    const out = new Float64Array(K);
    for (let a = 0; a < K; a++) {
      const head = a % tail; // (s_t, …, s_{t-p+1}) become the older part of the successor
      let sum = 0;
      for (let sNew = 0; sNew < k; sNew++) {
        const b = sNew + k * head;
        const pb = pred[b] as number;
        if (pb > 0) sum += ((P[a % k]?.[sNew] as number) * (later[b] as number)) / pb;
      }
      out[a] = (filt[a] as number) * sum;
    }
    smoothedJoint[t] = out;
  }
  return smoothedJoint.map((joint) => {
    const marginal = new Float64Array(k);
    for (let b = 0; b < K; b++) marginal[b % k] = (marginal[b % k] as number) + (joint[b] as number);
    return marginal;
  });
}

export function fitMarkovSwitching(
  values: ArrayLike<number>,
  spec: MarkovSwitchingSpec,
  options: MarkovSwitchingFitOptions = {},
): MarkovSwitchingFit {
  const k = spec.regimes;
  const order = spec.order ?? 0;
  const switchingVariance = spec.switchingVariance ?? false;
  const switchingExog = spec.switchingExog ?? true;
  if (!Number.isInteger(k) || k < 2 || k > 4) throw invalid(`regimes must be 2, 3 or 4, got ${k}`);
  if (!Number.isInteger(order) || order < 0 || order > 6) throw invalid(`order must be 0…6, got ${order}`);
  const label = `a ${k}-regime Markov switching model`;
  const minimum = order + MARKOV_SWITCHING_MIN_POINTS_PER_REGIME * k;
  const y = checkSeries(values, {
    model: label,
    minimum,
    ...(options.rowName === undefined ? {} : { rowName: options.rowName }),
  });
  const exog = spec.exog;
  const m = exog?.[0]?.length ?? 0;
  if (exog !== undefined) {
    if (exog.length !== y.length) throw invalid(`exog has ${exog.length} rows for ${y.length} observations`);
    exog.forEach((row, t) => {
      if (row.length !== m) throw invalid(`exog row ${t + 1} has ${row.length} columns, expected ${m}`);
      if (!row.every(Number.isFinite))
        throw invalid(`exog row ${t + 1} holds a value that is not a finite number`);
    });
  }
  const layout = { k, order, m, switchingExog, switchingVariance };
  const sampleVariance = variance(y.subarray(order));
  const scale = Math.sqrt(sampleVariance);
  const objective = (theta: Float64Array): number => {
    const loglik = hamiltonFilter(y, fromTheta(theta, layout, scale), exog, false).loglik;
    return Number.isFinite(loglik) ? -loglik : Number.POSITIVE_INFINITY;
  };
  // Every start gets a short search; the two best go on to convergence (most of a fit's time
  // is the long tail of a search, so it is spent only where it can win).
  const starts = startingPoints(y, layout, exog);
  const scouted = starts
    .map((start) =>
      minimizeBfgs(objective, toTheta(start, layout, scale), { maxIterations: 30, gradientTolerance: 1e-5 }),
    )
    .sort((a, b) => a.f - b.f)
    .slice(0, 2);
  let best:
    { theta: Float64Array; f: number; iterations: number; reason: string; converged: boolean } | undefined;
  for (const scout of scouted) {
    const result = scout.converged
      ? scout
      : minimizeBfgs(objective, scout.x, {
          maxIterations: options.maxIterations ?? 1000,
          gradientTolerance: 1e-5,
        });
    if (best === undefined || result.f < best.f) {
      best = {
        theta: result.x,
        f: result.f,
        iterations: scout.iterations + (result === scout ? 0 : result.iterations),
        reason: result.reason,
        converged: result.converged,
      };
    }
  }
  if (best === undefined || !Number.isFinite(best.f))
    throw invalid(`${label} could not be fitted: no start gave a finite likelihood`);
  if (!best.converged) {
    const at = fromTheta(best.theta, layout, scale);
    throw invalid(
      `${label} did not converge (${best.reason}), stopped at means ${fmt(at.means)}, variances ${fmt(at.variances)}, log-likelihood ${(-best.f).toFixed(4)}`,
      { loglik: -best.f, params: at },
    );
  }
  const params = canonicalOrder(fromTheta(best.theta, layout, scale), switchingVariance);
  params.variances.forEach((v, s) => {
    if (v < COLLAPSED_VARIANCE_SHARE * sampleVariance) {
      throw invalid(
        `regime ${s}'s variance collapsed to ${v.toExponential(3)} (sample variance ${sampleVariance.toExponential(3)}): a degenerate state, typically fitted to repeated values such as holiday-filled prices' zero returns; refused`,
      );
    }
  });
  const filter = hamiltonFilter(y, params, exog);
  return {
    spec: { regimes: k, order, switchingVariance, switchingExog, exogColumns: m },
    params,
    n: y.length - order,
    loglik: filter.loglik,
    expectedDurations: expectedDurations(params.transition),
    filtered: filter.filtered,
    smoothed: kimSmoother(filter, params),
    optimizer: { iterations: best.iterations, starts: starts.length, reason: best.reason },
  };
}

interface Layout {
  readonly k: number;
  readonly order: number;
  readonly m: number;
  readonly switchingExog: boolean;
  readonly switchingVariance: boolean;
}

// theta: for each regime i, k-1 logits of P(i -> j) against P(i -> k-1); means / scale;
// exog coefficients (per regime or shared); AR; log variances (per regime or one).
function fromTheta(theta: Float64Array, l: Layout, scale: number): MarkovSwitchingParams {
  let at = 0;
  const next = (): number => theta[at++] as number;
  const transition: number[][] = [];
  for (let i = 0; i < l.k; i++) {
    const logits = Array.from({ length: l.k - 1 }, next);
    const top = Math.max(0, ...logits);
    const w = [...logits.map((v) => Math.exp(v - top)), Math.exp(-top)];
    const sum = w.reduce((a, b) => a + b, 0);
    transition.push(w.map((v) => Math.min(1 - 1e-12, Math.max(1e-12, v / sum))));
  }
  const means = Array.from({ length: l.k }, () => next() * scale);
  const sharedExog = l.switchingExog ? undefined : Array.from({ length: l.m }, next);
  const exog = Array.from({ length: l.k }, () => sharedExog ?? Array.from({ length: l.m }, next));
  const ar = Array.from({ length: l.order }, next);
  const sharedVariance = l.switchingVariance ? undefined : Math.exp(next()) * scale * scale;
  const variances = Array.from({ length: l.k }, () => sharedVariance ?? Math.exp(next()) * scale * scale);
  return { transition, means, exog, ar, variances };
}

function toTheta(p: MarkovSwitchingParams, l: Layout, scale: number): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < l.k; i++) {
    const row = p.transition[i] as number[];
    const last = row[l.k - 1] as number;
    for (let j = 0; j < l.k - 1; j++) out.push(Math.log((row[j] as number) / last));
  }
  out.push(...p.means.map((v) => v / scale));
  if (l.switchingExog) for (const row of p.exog) out.push(...row);
  else out.push(...(p.exog[0] ?? []));
  out.push(...p.ar);
  if (l.switchingVariance) out.push(...p.variances.map((v) => Math.log(v / (scale * scale))));
  else out.push(Math.log((p.variances[0] as number) / (scale * scale)));
  return Float64Array.from(out);
}

/**
 * Starts for the search: the regimes' means spread around an OLS fit's intercept by quantiles
 * of its residuals, persistent regimes (stay 0.9), and, when the variance switches, variances
 * spread too. Several spreads, because the likelihood has local maxima.
 */
function startingPoints(
  y: Float64Array,
  l: Layout,
  exog?: ReadonlyArray<ReadonlyArray<number>>,
): MarkovSwitchingParams[] {
  const ols = leastSquares(y, l.order, exog);
  const sd = Math.sqrt(ols.residualVariance);
  const out: MarkovSwitchingParams[] = [];
  // Persistent regimes, and (when the variance switches) short-lived turbulent bursts as well.
  for (const [stay, spreads] of [
    [0.9, [1, 0.5, 2]],
    [0.5, [1]],
  ] as const) {
    const transition = Array.from({ length: l.k }, (_, i) =>
      Array.from({ length: l.k }, (_, j) => (i === j ? stay : (1 - stay) / (l.k - 1))),
    );
    for (const spread of spreads)
      for (const varSpread of l.switchingVariance ? [4, 1] : [1]) {
        const offsets = Array.from({ length: l.k }, (_, s) =>
          l.k === 1 ? 0 : (s / (l.k - 1) - 0.5) * 2 * spread * sd,
        );
        out.push({
          transition,
          means: offsets.map((o) => ols.intercept + o),
          exog: Array.from({ length: l.k }, () => [...ols.exog]),
          ar: [...ols.ar],
          variances: Array.from(
            { length: l.k },
            (_, s) =>
              ols.residualVariance *
              (l.switchingVariance ? varSpread ** (s / Math.max(1, l.k - 1) - 0.5) : 1),
          ),
        });
      }
  }
  return out;
}

/** y_t on [1, x_t, y_{t-1..t-p}] by the normal equations (a handful of columns). */
function leastSquares(
  y: Float64Array,
  order: number,
  exog?: ReadonlyArray<ReadonlyArray<number>>,
): { intercept: number; exog: number[]; ar: number[]; residualVariance: number } {
  const m = exog?.[0]?.length ?? 0;
  const cols = 1 + m + order;
  const XtX = new Float64Array(cols * cols);
  const Xty = new Float64Array(cols);
  const row = (t: number): number[] => [
    1,
    ...(exog?.[t] ?? []),
    ...Array.from({ length: order }, (_, i) => y[t - 1 - i] as number),
  ];
  for (let t = order; t < y.length; t++) {
    const x = row(t);
    for (let i = 0; i < cols; i++) {
      Xty[i] = (Xty[i] as number) + (x[i] as number) * (y[t] as number);
      for (let j = 0; j < cols; j++)
        XtX[i * cols + j] = (XtX[i * cols + j] as number) + (x[i] as number) * (x[j] as number);
    }
  }
  const beta = solve(XtX, Xty, cols) ?? [mean(y), ...new Array<number>(cols - 1).fill(0)];
  let rss = 0;
  for (let t = order; t < y.length; t++) {
    const x = row(t);
    let fitted = 0;
    for (let i = 0; i < cols; i++) fitted += (beta[i] as number) * (x[i] as number);
    rss += ((y[t] as number) - fitted) ** 2;
  }
  const residualVariance = Math.max(rss / (y.length - order), 1e-12 * variance(y));
  return {
    intercept: beta[0] as number,
    exog: beta.slice(1, 1 + m),
    ar: beta.slice(1 + m),
    residualVariance,
  };
}

/** Gaussian elimination with partial pivoting; undefined when singular. */
function solve(A: Float64Array, b: Float64Array, n: number): number[] | undefined {
  const a = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++)
      if (Math.abs(a[r * n + c] as number) > Math.abs(a[pivot * n + c] as number)) pivot = r;
    if (Math.abs(a[pivot * n + c] as number) < 1e-300) return undefined;
    if (pivot !== c) {
      for (let j = 0; j < n; j++) {
        const tmp = a[c * n + j] as number;
        a[c * n + j] = a[pivot * n + j] as number;
        a[pivot * n + j] = tmp;
      }
      const tmp = x[c] as number;
      x[c] = x[pivot] as number;
      x[pivot] = tmp;
    }
    for (let r = c + 1; r < n; r++) {
      const f = (a[r * n + c] as number) / (a[c * n + c] as number);
      for (let j = c; j < n; j++) a[r * n + j] = (a[r * n + j] as number) - f * (a[c * n + j] as number);
      x[r] = (x[r] as number) - f * (x[c] as number);
    }
  }
  const out = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let sum = x[r] as number;
    for (let j = r + 1; j < n; j++) sum -= (a[r * n + j] as number) * (out[j] as number);
    out[r] = sum / (a[r * n + r] as number);
  }
  return out;
}

/** Regimes renumbered: by variance when it switches, else by mean (the order statsmodels' cases print). */
export function canonicalOrder(p: MarkovSwitchingParams, byVariance: boolean): MarkovSwitchingParams {
  const k = p.means.length;
  const key = (s: number): number => (byVariance ? (p.variances[s] as number) : (p.means[s] as number));
  const order = Array.from({ length: k }, (_, s) => s).sort((a, b) => key(a) - key(b));
  return {
    transition: order.map((i) => order.map((j) => p.transition[i]?.[j] as number)),
    means: order.map((s) => p.means[s] as number),
    exog: order.map((s) => [...(p.exog[s] ?? [])]),
    ar: [...p.ar],
    variances: order.map((s) => p.variances[s] as number),
  };
}

function fmt(values: number[]): string {
  return `[${values.map((v) => v.toPrecision(5)).join(", ")}]`;
}

/**
 * A fitted Markov switching model as a version: parameters plus the state the live filter
 * needs (the joint filtered probabilities of the last p+1 regimes and the last p values), plain
 * JSON. Live filtering has no regressors: a model with exog columns is refused.
 */
export interface MarkovSwitchingModel {
  readonly params: MarkovSwitchingParams;
  readonly state: { readonly joint: number[]; readonly recent: number[] };
}

/** The model version at the end of the series it was fitted on. */
export function markovSwitchingModel(
  params: MarkovSwitchingParams,
  y: ArrayLike<number>,
): MarkovSwitchingModel {
  if (params.exog.some((row) => row.length > 0))
    throw invalid(
      "a Markov switching model with regressors cannot filter live: its regressors are not in the stream",
    );
  const filter = hamiltonFilter(y, params);
  const last = filter.jointFiltered[filter.jointFiltered.length - 1];
  if (last === undefined) throw invalid("no observation to start the live filter from");
  const p = params.ar.length;
  return {
    params,
    state: {
      joint: Array.from(last),
      recent: Array.from({ length: p }, (_, i) => y[y.length - p + i] as number),
    },
  };
}

/** One more observation through Hamilton's filter: P(S_t | y up to t), and the model moved on. O(k^(p+2)). */
export function filterNext(
  model: MarkovSwitchingModel,
  value: number,
): { model: MarkovSwitchingModel; filtered: number[]; loglik: number } {
  if (!Number.isFinite(value)) throw invalid(`observation ${String(value)} is not a finite number`);
  const window = [...model.state.recent, value];
  const step = hamiltonFilter(window, model.params, undefined, true, model.state.joint);
  const joint = step.jointFiltered[0];
  if (joint === undefined || !Number.isFinite(step.loglik))
    throw invalid(`observation ${value} has zero likelihood under every regime`);
  return {
    model: { params: model.params, state: { joint: Array.from(joint), recent: window.slice(1) } },
    filtered: Array.from(step.filtered[0] as Float64Array),
    loglik: step.loglik,
  };
}
