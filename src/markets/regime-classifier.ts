/**
 * A regime classifier as the router and the backtest use it: a fitted model (plain JSON, a
 * registered version like any other) that reads returns and says which regime the market is in,
 * with a probability. Regimes are numbered from calm to turbulent (variance ascending), so two
 * fits of the same data name their regimes alike and a refit can be aligned to the current one.
 *
 * Two ways to read it, with the same answer:
 * - `classifyWindow`: the filtered probabilities at the end of a window of returns, from the
 *   model's prior (stateless: any replica gives the same regime for the same request);
 * - `startRegimes` + `stepRegimes`: the same filter moved on one return at a time (O(k^2) per
 *   bar), its state plain JSON, for a live instrument.
 */
import { invalid } from "../domain/errors.js";
import { stationaryDistribution } from "./markov-switching.js";

export const REGIME_METHODS = ["markov-switching", "hmm", "rules"] as const;
export type RegimeMethod = (typeof REGIME_METHODS)[number];

/** Markov switching (mean and variance switching, no AR terms) and a Gaussian HMM filter alike. */
export interface SwitchingRegimeModel {
  readonly method: "markov-switching" | "hmm";
  /** One name per regime, calm first: `["calm", "turbulent"]`. */
  readonly labels: readonly string[];
  /** transition[i][j] = P(S_t = j | S_{t-1} = i). */
  readonly transition: readonly (readonly number[])[];
  readonly means: readonly number[];
  readonly variances: readonly number[];
  /** P(S_0); absent: the chain's stationary distribution. */
  readonly initial?: readonly number[];
  /** Returns are multiplied by this before they are read (100 for a model fitted on percent returns). */
  readonly scale: number;
}

/**
 * Thresholds on an indicator's percentile (rules.ts holds the rules' own state and reading;
 * this union names them so every classifier goes through one interface).
 */
export interface RulesRegimeModel {
  readonly method: "rules";
  readonly labels: readonly string[];
  readonly scale: number;
  readonly rules: Readonly<Record<string, unknown>>;
}

export type RegimeModel = SwitchingRegimeModel | RulesRegimeModel;

/** What a classifier says about one moment. */
export interface RegimeReading {
  /** Index into the model's labels. */
  readonly regime: number;
  readonly label: string;
  /** One per regime, summing to one. */
  readonly probabilities: readonly number[];
}

/** The live filter's state: P(S_t | returns up to t). */
export interface SwitchingRegimeState {
  readonly filtered: number[];
  readonly steps: number;
}

export function startRegimes(model: SwitchingRegimeModel): SwitchingRegimeState {
  return {
    filtered: [...(model.initial ?? stationaryDistribution(model.transition.map((r) => [...r])))],
    steps: 0,
  };
}

/** Hamilton's filter, one return on. A return with zero likelihood in every regime is refused. */
export function stepRegimes(
  model: SwitchingRegimeModel,
  state: SwitchingRegimeState,
  value: number,
): SwitchingRegimeState {
  if (!Number.isFinite(value)) throw invalid(`return ${String(value)} is not a finite number`);
  const y = value * model.scale;
  const k = model.labels.length;
  const next = new Array<number>(k).fill(0);
  let total = 0;
  for (let j = 0; j < k; j++) {
    let predicted = 0;
    for (let i = 0; i < k; i++)
      predicted += (state.filtered[i] as number) * (model.transition[i]?.[j] as number);
    const v = model.variances[j] as number;
    const d = y - (model.means[j] as number);
    const density = Math.exp((-0.5 * d * d) / v) / Math.sqrt(2 * Math.PI * v);
    next[j] = predicted * density;
    total += next[j] as number;
  }
  if (!(total > 0) || !Number.isFinite(total))
    throw invalid(`return ${value} has zero likelihood under every regime`);
  for (let j = 0; j < k; j++) next[j] = (next[j] as number) / total;
  return { filtered: next, steps: state.steps + 1 };
}

export function readingOf(labels: readonly string[], probabilities: readonly number[]): RegimeReading {
  let regime = 0;
  for (let s = 1; s < probabilities.length; s++)
    if ((probabilities[s] as number) > (probabilities[regime] as number)) regime = s;
  return { regime, label: labels[regime] as string, probabilities };
}

/** The regime at the end of `returns[from..from+width)`, filtered from the model's prior. */
export function classifySwitchingWindow(
  model: SwitchingRegimeModel,
  returns: ArrayLike<number>,
  from = 0,
  width = returns.length - from,
): RegimeReading {
  let state = startRegimes(model);
  for (let t = from; t < from + width; t++) state = stepRegimes(model, state, returns[t] as number);
  return readingOf(model.labels, state.filtered);
}
