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
import { isPlainObject } from "../domain/json-value.js";
import type { HmmFit } from "./hmm.js";
import { hamiltonFilter, stationaryDistribution, type MarkovSwitchingFit } from "./markov-switching.js";
import {
  parseRegimeRules,
  rulesMinimumReturns,
  rulesProbabilities,
  startRules,
  stepRules,
  type RegimeRules,
  type RulesRegimeState,
} from "./regime-rules.js";

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
 * Thresholds on an indicator's percentile (regime-rules.ts holds the rules' own state and
 * reading; this union names them so every classifier goes through one interface).
 */
export interface RulesRegimeModel {
  readonly method: "rules";
  readonly labels: readonly string[];
  readonly scale: number;
  readonly rules: RegimeRules;
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
  const logDensity = new Array<number>(k).fill(0);
  let top = Number.NEGATIVE_INFINITY;
  let total = 0;
  for (let j = 0; j < k; j++) {
    let predicted = 0;
    for (let i = 0; i < k; i++)
      predicted += (state.filtered[i] as number) * (model.transition[i]?.[j] as number);
    const v = model.variances[j] as number;
    const d = y - (model.means[j] as number);
    const ld = -0.5 * Math.log(2 * Math.PI * v) - (0.5 * d * d) / v;
    logDensity[j] = ld;
    next[j] = predicted;
    if (ld > top) top = ld;
  }
  // The largest log density factored out: a crash far in the tails does not underflow to 0.
  for (let j = 0; j < k; j++) {
    next[j] = (next[j] as number) * Math.exp((logDensity[j] as number) - top);
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

// ---------------------------------------------------------------------------------------------
// Every method through one interface: what the router and the backtest call.

/** A classifier's live state, whatever the method: plain JSON (JSON.stringify persists it). */
export type RegimeState = SwitchingRegimeState | RulesRegimeState;

export function startRegime(model: RegimeModel): RegimeState {
  return model.method === "rules" ? startRules() : startRegimes(model);
}

/**
 * One return on. A switching model's state is replaced (O(k^2)); a rules state is updated in
 * place (its lookback is not copied) and returned: use the returned state either way.
 */
export function stepRegime(model: RegimeModel, state: RegimeState, value: number): RegimeState {
  if (model.method === "rules")
    return stepRules(model.rules, model.labels, state as RulesRegimeState, value * model.scale);
  return stepRegimes(model, state as SwitchingRegimeState, value);
}

/**
 * What the state says now. Undefined only for rules that have not yet seen enough returns
 * (`regimeMinimumReturns`); a switching model always has its prior at least.
 */
export function readRegime(model: RegimeModel, state: RegimeState): RegimeReading | undefined {
  if (model.method === "rules") {
    const regime = (state as RulesRegimeState).regime;
    return regime === null
      ? undefined
      : readingOf(model.labels, rulesProbabilities(model.labels.length, regime));
  }
  return readingOf(model.labels, [...(state as SwitchingRegimeState).filtered]);
}

/** Returns a window needs before it says anything: 1 for a switching filter, window + lookback - 1 for rules. */
export function regimeMinimumReturns(model: RegimeModel): number {
  return model.method === "rules" ? rulesMinimumReturns(model.rules) : 1;
}

/**
 * The regime at the end of `returns[from..from+width)`, the state started fresh at `from`: the
 * same answer on any replica for the same window. A rules classifier needs at least
 * `regimeMinimumReturns(model)` returns in the window; fewer is refused, naming the minimum.
 */
export function classifyWindow(
  model: RegimeModel,
  returns: ArrayLike<number>,
  from = 0,
  width = returns.length - from,
): RegimeReading {
  if (from < 0 || width < 0 || from + width > returns.length)
    throw invalid(`window [${from}, ${from + width}) is outside the ${returns.length} returns given`);
  if (model.method !== "rules") return classifySwitchingWindow(model, returns, from, width);
  const minimum = regimeMinimumReturns(model);
  if (width < minimum)
    throw invalid(
      `a rules classifier on ${model.rules.indicator} (window ${model.rules.window}, lookback ${model.rules.lookback}) needs a window of at least ${minimum} returns (window + lookback - 1), got ${width}`,
      { minimum, width },
    );
  let state = startRegime(model);
  for (let t = from; t < from + width; t++) state = stepRegime(model, state, returns[t] as number);
  return readRegime(model, state) as RegimeReading;
}

/** The reading after each return of the series (undefined while rules warm up): for alignment and backtests. */
export function regimePath(model: RegimeModel, returns: ArrayLike<number>): Array<RegimeReading | undefined> {
  let state = startRegime(model);
  const out: Array<RegimeReading | undefined> = [];
  for (let t = 0; t < returns.length; t++) {
    state = stepRegime(model, state, returns[t] as number);
    out.push(readRegime(model, state));
  }
  return out;
}

/**
 * The log-likelihood of the returns (in their own units, so models fitted at different scales
 * compare) under a switching model, from its prior; undefined for rules, which have none.
 */
export function regimeLogLikelihood(model: RegimeModel, returns: ArrayLike<number>): number | undefined {
  if (model.method === "rules") return undefined;
  const y = Float64Array.from(returns as ArrayLike<number>, (v) => v * model.scale);
  const k = model.labels.length;
  const params = {
    transition: model.transition.map((row) => [...row]),
    means: [...model.means],
    exog: Array.from({ length: k }, () => []),
    ar: [],
    variances: [...model.variances],
  };
  const filter = hamiltonFilter(y, params, undefined, false, model.initial);
  // y = scale * r: the density of r is scale times the density of y.
  return filter.loglik + returns.length * Math.log(Math.abs(model.scale));
}

// ---------------------------------------------------------------------------------------------
// Regime change events.

export interface RegimeChange {
  readonly from: { readonly regime: number; readonly label: string } | null;
  readonly to: { readonly regime: number; readonly label: string };
  /** The new regime's probability. */
  readonly probability: number;
}

/**
 * A regime change worth an event: the new reading's regime differs from the previous one's and
 * its probability is at least `minProbability` (a filter that wavers at 0.5 does not make an
 * event per bar). Undefined when nothing changed, when the new regime is not sure enough, or
 * when there was no previous reading and `next` is below the bar (the first sure reading is a
 * change from nothing: `from` null). Pure; the caller publishes it.
 */
export function regimeChange(
  previous: RegimeReading | undefined,
  next: RegimeReading,
  minProbability: number,
): RegimeChange | undefined {
  if (!(minProbability >= 0 && minProbability <= 1))
    throw invalid(`minProbability must be between 0 and 1, got ${minProbability}`);
  const probability = next.probabilities[next.regime] as number;
  if (!(probability >= minProbability)) return undefined;
  if (previous !== undefined && previous.regime === next.regime) return undefined;
  return {
    from: previous === undefined ? null : { regime: previous.regime, label: previous.label },
    to: { regime: next.regime, label: next.label },
    probability,
  };
}

// ---------------------------------------------------------------------------------------------
// Models from fits, and from JSON.

/** Names for k regimes, calm first. */
export function defaultRegimeLabels(k: number): string[] {
  if (k === 2) return ["calm", "turbulent"];
  if (k === 3) return ["calm", "normal", "turbulent"];
  return Array.from({ length: k }, (_, s) => `regime-${s}`);
}

/** The model of a Markov switching fit without AR terms or regressors (live filtering has neither). */
export function regimeModelFromMarkovSwitching(
  fit: MarkovSwitchingFit,
  labels: readonly string[] | undefined,
  scale: number,
): SwitchingRegimeModel {
  if (fit.spec.order > 0)
    throw invalid(
      `a Markov switching classifier filters returns without AR terms; this fit has order ${fit.spec.order}`,
    );
  if (fit.spec.exogColumns > 0)
    throw invalid("a Markov switching classifier has no regressors: they are not in the stream");
  return parseRegimeModel({
    method: "markov-switching",
    labels: labels ?? defaultRegimeLabels(fit.params.means.length),
    transition: fit.params.transition,
    means: fit.params.means,
    variances: fit.params.variances,
    scale,
  }) as SwitchingRegimeModel;
}

/**
 * The model of an HMM fit. Its estimated initial distribution is the fitted series' first
 * day's; a window starts anywhere, so the model starts from the chain's stationary one.
 */
export function regimeModelFromHmm(
  fit: HmmFit,
  labels: readonly string[] | undefined,
  scale: number,
): SwitchingRegimeModel {
  return parseRegimeModel({
    method: "hmm",
    labels: labels ?? defaultRegimeLabels(fit.params.means.length),
    transition: fit.params.transition,
    means: fit.params.means,
    variances: fit.params.variances,
    scale,
  }) as SwitchingRegimeModel;
}

/**
 * A regime whose variance is below this share of the largest regime's has collapsed onto
 * repeated values (the zero returns of holiday-filled prices): the filter would be certain of
 * it whenever a return is exactly its mean, and never otherwise.
 */
export const DEGENERATE_VARIANCE_SHARE = 1e-6;

const SWITCHING_FIELDS = ["method", "labels", "transition", "means", "variances", "initial", "scale"];
const RULES_FIELDS = ["method", "labels", "scale", "rules"];

function numbers(value: unknown, field: string, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length)
    throw invalid(`${field} must be an array of ${length} numbers (one per label)`, { field });
  value.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalid(`${field}[${i}] must be a finite number, not ${JSON.stringify(v)}`, { field });
  });
  return value as number[];
}

function probabilityRow(value: unknown, field: string, k: number): number[] {
  const row = numbers(value, field, k);
  row.forEach((v, i) => {
    if (v < 0 || v > 1) throw invalid(`${field}[${i}] must be a probability, not ${v}`, { field });
  });
  const sum = row.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) throw invalid(`${field} must sum to 1, not ${sum}`, { field });
  return row;
}

/**
 * Checks a regime model (JSON text or a parsed value); errors name the field. A degenerate
 * regime (variance collapsed, see DEGENERATE_VARIANCE_SHARE) is refused here, so it can be
 * neither registered nor served.
 */
export function parseRegimeModel(source: unknown): RegimeModel {
  let value = source;
  if (typeof source === "string") {
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw invalid(`the regime model is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isPlainObject(value)) throw invalid("a regime model must be an object");
  const method = value.method;
  if (!(REGIME_METHODS as readonly unknown[]).includes(method))
    throw invalid(`method must be one of ${REGIME_METHODS.join(", ")}, not ${JSON.stringify(method)}`, {
      field: "method",
    });
  const allowed = method === "rules" ? RULES_FIELDS : SWITCHING_FIELDS;
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw invalid(
      `unknown field '${extra[0]}' in a ${String(method)} regime model; expected ${allowed.join(", ")}`,
      {
        field: extra[0],
      },
    );
  const labels = value.labels;
  if (!Array.isArray(labels) || labels.length < 2 || labels.length > 4)
    throw invalid("labels must be an array of 2 to 4 regime names, calm first", { field: "labels" });
  labels.forEach((l, i) => {
    if (typeof l !== "string" || l === "")
      throw invalid(`labels[${i}] must be a non-empty string`, { field: "labels" });
    if (labels.indexOf(l) !== i) throw invalid(`labels[${i}] repeats '${l}'`, { field: "labels" });
  });
  const k = labels.length;
  const scale = value.scale ?? 1;
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale === 0)
    throw invalid(`scale must be a non-zero finite number, not ${JSON.stringify(scale)}`, { field: "scale" });
  if (method === "rules")
    return {
      method,
      labels: labels as string[],
      scale,
      rules: parseRegimeRules(value.rules, labels as string[]),
    };
  if (!Array.isArray(value.transition) || value.transition.length !== k)
    throw invalid(`transition must be a ${k}x${k} matrix (one row per label)`, { field: "transition" });
  const transition = value.transition.map((row, i) => probabilityRow(row, `transition[${i}]`, k));
  const means = numbers(value.means, "means", k);
  const variances = numbers(value.variances, "variances", k);
  variances.forEach((v, s) => {
    if (!(v > 0))
      throw invalid(`variances[${s}] (${labels[s]}) must be positive, not ${v}`, {
        field: `variances[${s}]`,
      });
  });
  const largest = Math.max(...variances);
  variances.forEach((v, s) => {
    if (v < DEGENERATE_VARIANCE_SHARE * largest)
      throw invalid(
        `regime ${s} (${labels[s]}) is degenerate: its variance ${v.toExponential(3)} is below ${DEGENERATE_VARIANCE_SHARE} of the largest regime's (${largest.toExponential(3)}), as a fit to repeated values (holiday-filled prices' zero returns) gives; refused`,
        { field: `variances[${s}]` },
      );
  });
  const initial = value.initial === undefined ? undefined : probabilityRow(value.initial, "initial", k);
  return {
    method: method as "markov-switching" | "hmm",
    labels: labels as string[],
    transition,
    means,
    variances,
    ...(initial === undefined ? {} : { initial }),
    scale,
  };
}

/**
 * The same model with its regimes renumbered: regime s becomes regime `permutation[s]`, and
 * takes the name `labels[permutation[s]]` (the labels given, in their new order). Rules cannot
 * be renumbered (their thresholds are ordered): only the identity is accepted for them.
 */
export function permuteRegimeModel(
  model: RegimeModel,
  permutation: readonly number[],
  labels: readonly string[] = model.labels,
): RegimeModel {
  const k = model.labels.length;
  const sorted = [...permutation].sort((a, b) => a - b);
  if (permutation.length !== k || sorted.some((v, i) => v !== i))
    throw invalid(`[${permutation.join(", ")}] is not a permutation of the ${k} regimes`);
  const identity = permutation.every((v, i) => v === i);
  if (model.method === "rules") {
    if (!identity)
      throw invalid("a rules classifier's regimes are ordered by its thresholds: not renumbered");
    return { ...model, labels: [...labels] };
  }
  const inverse = new Array<number>(k);
  permutation.forEach((to, from) => (inverse[to] = from));
  const at = (values: readonly number[]): number[] => inverse.map((s) => values[s] as number);
  return {
    ...model,
    labels: [...labels],
    transition: inverse.map((i) => inverse.map((j) => model.transition[i]?.[j] as number)),
    means: at(model.means),
    variances: at(model.variances),
    ...(model.initial === undefined ? {} : { initial: at(model.initial) }),
  };
}
