/**
 * A Gaussian hidden Markov model with 2–3 states, fitted by Baum–Welch (EM with the scaled
 * forward–backward recursions): each state has its own mean and variance, the initial
 * distribution is estimated with the rest. The third regime classifier, beside the rules and
 * Markov switching; unlike Markov switching it has no regressors and its EM steps are closed-form.
 *
 * States are numbered by variance, calmest first, so a refit keeps its labels. A state whose
 * variance collapses (a state that has settled on repeated values: the zero returns of
 * holiday-filled prices) makes the likelihood unbounded, so the fit stops and refuses it with
 * the reason instead of returning a model that is certain of nonsense.
 */
import { invalid } from "../domain/errors.js";
import { expectedDurations } from "./markov-switching.js";
import { checkSeries, variance } from "./series.js";

export const HMM_MIN_POINTS_PER_STATE = 20;
/** A state whose variance falls below this share of the sample variance has collapsed. */
export const HMM_COLLAPSED_VARIANCE_SHARE = 1e-6;

export interface HmmParams {
  readonly initial: number[];
  /** transition[i][j] = P(S_t = j | S_{t-1} = i). */
  readonly transition: number[][];
  readonly means: number[];
  readonly variances: number[];
}

export interface HmmFit {
  readonly params: HmmParams;
  readonly n: number;
  readonly loglik: number;
  readonly expectedDurations: number[];
  readonly filtered: Float64Array[];
  readonly smoothed: Float64Array[];
  readonly iterations: number;
}

export interface HmmFitOptions {
  readonly maxIterations?: number;
  /** Stop when the log-likelihood improves by less than this. */
  readonly tolerance?: number;
  readonly rowName?: (index: number) => string;
}

interface ForwardBackward {
  readonly loglik: number;
  readonly filtered: Float64Array[];
  readonly smoothed: Float64Array[];
  /** Expected transitions i -> j summed over time. */
  readonly transitions: number[][];
}

export function forwardBackward(y: ArrayLike<number>, p: HmmParams): ForwardBackward {
  const k = p.means.length;
  const n = y.length;
  const dens = new Float64Array(n * k);
  const logNorm = p.variances.map((v) => -0.5 * Math.log(2 * Math.PI * v));
  const scaleLog = new Float64Array(n); // the largest log density at t, factored out
  for (let t = 0; t < n; t++) {
    let top = Number.NEGATIVE_INFINITY;
    for (let s = 0; s < k; s++) {
      const d =
        (logNorm[s] as number) -
        (0.5 * ((y[t] as number) - (p.means[s] as number)) ** 2) / (p.variances[s] as number);
      dens[t * k + s] = d;
      top = Math.max(top, d);
    }
    scaleLog[t] = top;
    for (let s = 0; s < k; s++) dens[t * k + s] = Math.exp((dens[t * k + s] as number) - top);
  }
  const alpha: Float64Array[] = [];
  const c = new Float64Array(n);
  let loglik = 0;
  for (let t = 0; t < n; t++) {
    const a = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let prior = 0;
      if (t === 0) prior = p.initial[j] as number;
      else
        for (let i = 0; i < k; i++) prior += (alpha[t - 1]?.[i] as number) * (p.transition[i]?.[j] as number);
      a[j] = prior * (dens[t * k + j] as number);
    }
    const sum = a.reduce((x, v) => x + v, 0);
    c[t] = sum;
    for (let j = 0; j < k; j++) a[j] = (a[j] as number) / sum;
    alpha.push(a);
    loglik += Math.log(sum) + (scaleLog[t] as number);
  }
  const smoothed: Float64Array[] = new Array<Float64Array>(n);
  const transitions = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let beta = new Float64Array(k).fill(1);
  smoothed[n - 1] = Float64Array.from(alpha[n - 1] as Float64Array);
  for (let t = n - 2; t >= 0; t--) {
    const next = new Float64Array(k);
    const at = alpha[t] as Float64Array;
    for (let i = 0; i < k; i++) {
      let sum = 0;
      for (let j = 0; j < k; j++) {
        const w = (p.transition[i]?.[j] as number) * (dens[(t + 1) * k + j] as number) * (beta[j] as number);
        sum += w;
        const xi = ((at[i] as number) * w) / (c[t + 1] as number);
        (transitions[i] as number[])[j] = ((transitions[i] as number[])[j] as number) + xi;
      }
      next[i] = sum / (c[t + 1] as number);
    }
    beta = next;
    const g = new Float64Array(k);
    for (let i = 0; i < k; i++) g[i] = (at[i] as number) * (beta[i] as number);
    const total = g.reduce((x, v) => x + v, 0);
    for (let i = 0; i < k; i++) g[i] = (g[i] as number) / total;
    smoothed[t] = g;
  }
  return { loglik, filtered: alpha, smoothed, transitions };
}

export function fitHmm(values: ArrayLike<number>, states: number, options: HmmFitOptions = {}): HmmFit {
  if (!Number.isInteger(states) || states < 2 || states > 3)
    throw invalid(`states must be 2 or 3, got ${states}`);
  const label = `a ${states}-state Gaussian HMM`;
  const y = checkSeries(values, {
    model: label,
    minimum: HMM_MIN_POINTS_PER_STATE * states,
    ...(options.rowName === undefined ? {} : { rowName: options.rowName }),
  });
  const maxIterations = options.maxIterations ?? 5000;
  const tolerance = options.tolerance ?? 1e-7;
  const sampleVariance = variance(y);
  let best: { params: HmmParams; loglik: number; iterations: number } | undefined;
  for (const start of startingPoints(y, states)) {
    const run = baumWelch(y, start, maxIterations, tolerance, sampleVariance);
    if (best === undefined || run.loglik > best.loglik) best = run;
  }
  if (best === undefined) throw invalid(`${label} could not be fitted`);
  const params = byVariance(best.params);
  const fb = forwardBackward(y, params);
  return {
    params,
    n: y.length,
    loglik: fb.loglik,
    expectedDurations: expectedDurations(params.transition),
    filtered: fb.filtered,
    smoothed: fb.smoothed,
    iterations: best.iterations,
  };
}

function baumWelch(
  y: Float64Array,
  start: HmmParams,
  maxIterations: number,
  tolerance: number,
  sampleVariance: number,
): { params: HmmParams; loglik: number; iterations: number } {
  const k = start.means.length;
  let params = start;
  let previous = Number.NEGATIVE_INFINITY;
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const fb = forwardBackward(y, params);
    // M step: weighted means and variances, normalised expected transitions.
    const weight = new Array<number>(k).fill(0);
    const sum = new Array<number>(k).fill(0);
    for (let t = 0; t < y.length; t++) {
      for (let s = 0; s < k; s++) {
        const g = fb.smoothed[t]?.[s] as number;
        weight[s] = (weight[s] as number) + g;
        sum[s] = (sum[s] as number) + g * (y[t] as number);
      }
    }
    const means = sum.map((v, s) => v / (weight[s] as number));
    const squares = new Array<number>(k).fill(0);
    for (let t = 0; t < y.length; t++) {
      for (let s = 0; s < k; s++) {
        squares[s] =
          (squares[s] as number) +
          (fb.smoothed[t]?.[s] as number) * ((y[t] as number) - (means[s] as number)) ** 2;
      }
    }
    const variances = squares.map((v, s) => v / (weight[s] as number));
    variances.forEach((v, s) => {
      if (!(v >= HMM_COLLAPSED_VARIANCE_SHARE * sampleVariance)) {
        throw invalid(
          `state with mean ${(means[s] as number).toPrecision(4)} has a variance collapsing to ${v.toExponential(3)} (sample variance ${sampleVariance.toExponential(3)}) after ${iteration} iterations: a degenerate state, typically fitted to repeated values such as holiday-filled prices' zero returns; refused`,
        );
      }
    });
    const transition = fb.transitions.map((row) => {
      const total = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / total);
    });
    const initial = Array.from(fb.smoothed[0] as Float64Array);
    params = { initial, transition, means, variances };
    if (fb.loglik - previous < tolerance) return { params, loglik: fb.loglik, iterations: iteration };
    previous = fb.loglik;
  }
  throw invalid(
    `the ${k}-state HMM did not converge in ${maxIterations} Baum–Welch iterations (log-likelihood ${previous.toFixed(4)}, means ${params.means.map((v) => v.toPrecision(4)).join(", ")})`,
  );
}

/** Means at the series' quantiles; equal variances, and variances spread by quantile as well. */
function startingPoints(y: Float64Array, k: number): HmmParams[] {
  const sorted = Float64Array.from(y).sort();
  const v = variance(y);
  const quantile = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const transition = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => (i === j ? 0.9 : 0.1 / (k - 1))),
  );
  const initial = new Array<number>(k).fill(1 / k);
  const means = Array.from({ length: k }, (_, s) => quantile((s + 0.5) / k));
  const center = quantile(0.5);
  return [
    { initial, transition, means, variances: new Array<number>(k).fill(v) },
    // calm and turbulent around the same centre: what return series usually are
    {
      initial,
      transition,
      means: new Array<number>(k).fill(center),
      variances: Array.from({ length: k }, (_, s) => v * 4 ** (s / (k - 1) - 0.5)),
    },
  ];
}

function byVariance(p: HmmParams): HmmParams {
  const order = p.variances
    .map((_, s) => s)
    .sort((a, b) => (p.variances[a] as number) - (p.variances[b] as number));
  return {
    initial: order.map((s) => p.initial[s] as number),
    transition: order.map((i) => order.map((j) => p.transition[i]?.[j] as number)),
    means: order.map((s) => p.means[s] as number),
    variances: order.map((s) => p.variances[s] as number),
  };
}
