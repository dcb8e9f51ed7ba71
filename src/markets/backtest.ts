/**
 * A walk-forward evaluation of a regime router, bar by bar, as the live router would have run:
 *
 *   at bar t (r_0..r_t seen): the classifier's filtered probabilities P(S_t | r_0..r_t), each
 *   specialist's variance forecast h_{t+1}, the router's weights (weightsFor by regime, hard or
 *   soft, renormalised away from a specialist that gave no usable forecast) and its combined
 *   forecast; then r_{t+1} arrives, r_{t+1}^2 is the realized proxy, the learned weights (if
 *   any) move on the losses, and every tracker sees r_{t+1}.
 *
 * Refits: the first fit is at bar minTrain − 1 (on r_0..r_{minTrain−1}), then every `refit`
 * bars, each on the returns up to that bar only (all of them, or the last `window`). Every
 * fitted thing only ever holds the returns it was given (trackers keep their own bounded
 * windows), so nothing can read ahead: the test poisons a later return and checks that no
 * earlier forecast, probability or weight moves.
 *
 * A refit that fails (GARCH does not converge, an HMM state collapses) keeps the previous model
 * and says so in the refit log; only the first fit must succeed.
 *
 * Regimes are numbered calm → turbulent by variance after every fit and then matched to the
 * previous fit's (the permutation closest in log variance), so a refit whose states come out
 * in another order does not flip the timeline or hand one regime's learned weights to another.
 *
 * Classifiers are a table (CLASSIFIERS): a kind fits on a window and gives a reader that moves
 * one return at a time. Markov switching and the HMM both read through the router's own
 * SwitchingRegimeModel filter (regime-classifier.ts); another kind is one more entry.
 *
 * An external specialist (an ONNX LSTM) enters as its forecasts per bar, computed by the caller
 * from `externalWindows` (the window ending at each bar, nothing after it): this module stays
 * free of any runtime.
 */
import { invalid } from "../domain/errors.js";
import { fitHmm } from "./hmm.js";
import { fitMarkovSwitching } from "./markov-switching.js";
import {
  readingOf,
  startRegimes,
  stepRegimes,
  type SwitchingRegimeModel,
  type SwitchingRegimeState,
} from "./regime-classifier.js";
import {
  combine,
  learn,
  renormalise,
  uniformWeights,
  weightsFor,
  type Learning,
  type RouterMode,
} from "./router-weights.js";
import { qlikeLog, squaredError } from "./evaluation.js";
import { checkSeries } from "./series.js";
import {
  fitTracker,
  trackerMinimum,
  TRACKED_KINDS,
  type SpecialistTracker,
  type TrackedKind,
  type TrackerOptions,
} from "./walk-forward.js";

/** A regime model as the backtest reads it: fitted on a window, then one return at a time. */
export interface RegimeReader {
  /** P(S_t | returns seen), one per regime, calm first. */
  readonly probabilities: readonly number[];
  see(value: number): void;
}

export interface FittedClassifier {
  /** Per regime, its variance: what a refit is aligned by. */
  readonly variances: readonly number[];
  /** The model as JSON, for the refit log. */
  readonly model: Readonly<Record<string, unknown>>;
  /** A reader that has read `train` (its state at the last of them). */
  reader(train: Float64Array): RegimeReader;
  /** The same classifier with regime i being this one's regime permutation[i]. */
  permute(permutation: readonly number[]): FittedClassifier;
}

export interface ClassifierKind {
  /** The fewest returns it is fitted on, for k regimes. */
  minimum(regimes: number): number;
  fit(train: Float64Array, regimes: number, labels: readonly string[]): FittedClassifier;
}

/** Through the router's own filter: Hamilton's filter on a SwitchingRegimeModel (scale 1: returns come scaled). */
function switching(model: SwitchingRegimeModel): FittedClassifier {
  return {
    variances: model.variances,
    model: { ...model },
    reader(train) {
      let state: SwitchingRegimeState = startRegimes(model);
      for (const r of train) state = seeOrHold(model, state, r);
      return {
        get probabilities() {
          return state.filtered;
        },
        see(value) {
          state = seeOrHold(model, state, value);
        },
      };
    },
    permute(permutation) {
      if (permutation.every((p, i) => p === i)) return this;
      const pick = <T>(xs: readonly T[]): T[] => permutation.map((p) => xs[p] as T);
      return switching({
        ...model,
        transition: permutation.map((i) => permutation.map((j) => model.transition[i]?.[j] as number)),
        means: pick(model.means),
        variances: pick(model.variances),
        ...(model.initial === undefined ? {} : { initial: pick(model.initial) }),
      });
    },
  };
}

/**
 * A return with zero likelihood under every regime (far beyond every regime's variance) leaves
 * the reading where it was: the live filter refuses it, the router keeps its last reading.
 */
function seeOrHold(
  model: SwitchingRegimeModel,
  state: SwitchingRegimeState,
  value: number,
): SwitchingRegimeState {
  try {
    return stepRegimes(model, state, value);
  } catch {
    return { filtered: state.filtered, steps: state.steps + 1 };
  }
}

export const CLASSIFIERS = {
  "markov-switching": {
    minimum: (k: number) => 10 * k,
    fit(train: Float64Array, k: number, labels: readonly string[]): FittedClassifier {
      const f = fitMarkovSwitching(train, { regimes: k, switchingVariance: true });
      return switching({
        method: "markov-switching",
        labels,
        transition: f.params.transition,
        means: f.params.means,
        variances: f.params.variances,
        scale: 1,
      });
    },
  },
  hmm: {
    minimum: (k: number) => 20 * k,
    fit(train: Float64Array, k: number, labels: readonly string[]): FittedClassifier {
      const f = fitHmm(train, k);
      return switching({
        method: "hmm",
        labels,
        transition: f.params.transition,
        means: f.params.means,
        variances: f.params.variances,
        initial: f.params.initial,
        scale: 1,
      });
    },
  },
} satisfies Record<string, ClassifierKind>;

export type ClassifierMethod = keyof typeof CLASSIFIERS;
export const CLASSIFIER_METHODS = Object.keys(CLASSIFIERS) as ClassifierMethod[];

export type BacktestSpecialist =
  | { readonly name: string; readonly kind: TrackedKind }
  | {
      readonly name: string;
      readonly kind: "external";
      /** h_{t+1} for each bar t (NaN where it has none); from the window ending at t only. */
      readonly forecasts: ArrayLike<number>;
    };

export const LEARNING_LOSSES = ["qlike", "mse"] as const;
export type LearningLoss = (typeof LEARNING_LOSSES)[number];

export interface BacktestSpec {
  readonly specialists: readonly BacktestSpecialist[];
  readonly classifier: { readonly method: ClassifierMethod; readonly labels: readonly string[] };
  readonly mode: RouterMode;
  /** weights[regime][specialist]; absent: uniform. With learning, where learning starts. */
  readonly weights?: readonly (readonly number[])[];
  readonly learning?: Learning & { readonly loss?: LearningLoss };
  /** The first fit is on this many returns. */
  readonly minTrain: number;
  /** Bars between refits. */
  readonly refit: number;
  /** Fit on the last `window` returns; absent: every return so far (expanding). */
  readonly window?: number;
  readonly tracker?: TrackerOptions;
}

export interface RefitEntry {
  /** The bar (0-based return index) the fit ends at, inclusive. */
  readonly bar: number;
  /** Returns it was fitted on. */
  readonly n: number;
  /** Per specialist: its parameters, or why the previous fit was kept. */
  readonly specialists: Readonly<Record<string, { readonly fitted?: unknown; readonly kept?: string }>>;
  readonly classifier: {
    readonly variances?: readonly number[];
    /** regime i of this fit is regime permutation[i] of its own variance order (identity: none). */
    readonly permutation?: readonly number[];
    readonly kept?: string;
  };
}

export interface BacktestResult {
  readonly names: readonly string[];
  readonly labels: readonly string[];
  /** Per evaluated bar: the bar t (its forecast is for r_{t+1}). */
  readonly bars: Int32Array;
  /** r_{t+1}^2. */
  readonly realized: Float64Array;
  /** forecasts[specialist][row]; NaN where it gave none (its weight was renormalised away). */
  readonly forecasts: readonly Float64Array[];
  readonly router: Float64Array;
  readonly regime: Uint8Array;
  /** probabilities[regime][row]. */
  readonly probabilities: readonly Float64Array[];
  /** weights[specialist][row], after renormalisation: what the router used. */
  readonly weights: readonly Float64Array[];
  /** Bars at which each specialist gave no usable forecast. */
  readonly failures: readonly number[];
  readonly refits: readonly RefitEntry[];
}

export interface BacktestProgress {
  (done: number, total: number): void;
}

/** The rows of `externalWindows`: bars first..last (inclusive), each the `width` returns ending at it. */
export function externalWindows(
  returns: ArrayLike<number>,
  width: number,
  first: number,
  last: number,
): Float32Array {
  if (first < width - 1)
    throw invalid(`a window of ${width} returns starts at bar ${width - 1}, not ${first}`);
  const out = new Float32Array((last - first + 1) * width);
  for (let t = first; t <= last; t++)
    for (let j = 0; j < width; j++) out[(t - first) * width + j] = returns[t - width + 1 + j] as number;
  return out;
}

/** The fewest returns a backtest of this spec needs: the first fit's, plus one bar to score. */
export function backtestMinimum(spec: Pick<BacktestSpec, "minTrain">): number {
  return spec.minTrain + 1;
}

export function runBacktest(
  values: ArrayLike<number>,
  spec: BacktestSpec,
  options: { rowName?: (index: number) => string; progress?: BacktestProgress } = {},
): BacktestResult {
  checkSpec(spec);
  const returns = checkSeries(values, {
    model: "a backtest",
    minimum: backtestMinimum(spec),
    ...(options.rowName === undefined ? {} : { rowName: options.rowName }),
  });
  const n = returns.length;
  const names = spec.specialists.map((s) => s.name);
  const labels = spec.classifier.labels;
  const k = labels.length;
  const s = spec.specialists.length;
  for (const sp of spec.specialists) {
    if (sp.kind === "external" && sp.forecasts.length !== n)
      throw invalid(`specialist ${sp.name}: ${sp.forecasts.length} forecasts for ${n} bars`);
  }
  const first = spec.minTrain - 1;
  const rows = n - 1 - first;
  const out = {
    bars: new Int32Array(rows),
    realized: new Float64Array(rows),
    forecasts: names.map(() => new Float64Array(rows)),
    router: new Float64Array(rows),
    regime: new Uint8Array(rows),
    probabilities: labels.map(() => new Float64Array(rows)),
    weights: names.map(() => new Float64Array(rows)),
  };
  const failures = new Array<number>(s).fill(0);
  const refits: RefitEntry[] = [];
  const classifierKind: ClassifierKind = CLASSIFIERS[spec.classifier.method];
  let table: number[][] = spec.weights?.map((row) => [...row]) ?? uniformWeights(k, s);
  const trackers: (SpecialistTracker | undefined)[] = new Array<SpecialistTracker | undefined>(s);
  let classifier: FittedClassifier | undefined;
  let reader: RegimeReader | undefined;
  const forecast = new Array<number>(s).fill(Number.NaN);
  const answered = new Array<boolean>(s).fill(false);
  const losses = new Array<number>(s).fill(Number.NaN);
  const lossOf = spec.learning?.loss === "mse" ? squaredError : qlikeLog;

  for (let t = first; t < n - 1; t++) {
    const row = t - first;
    if (row % spec.refit === 0) {
      const from = spec.window === undefined ? 0 : Math.max(0, t + 1 - spec.window);
      const train = returns.slice(from, t + 1); // a copy: nothing fitted can hold a view of the rest
      const entry: RefitEntry = {
        bar: t,
        n: train.length,
        specialists: {},
        classifier: {},
      };
      spec.specialists.forEach((sp, i) => {
        if (sp.kind === "external") return;
        try {
          trackers[i] = fitTracker(sp.kind, train, spec.tracker);
          (entry.specialists as Record<string, unknown>)[sp.name] = { fitted: trackers[i]?.fitted };
        } catch (error) {
          if (trackers[i] === undefined)
            throw invalid(`specialist ${sp.name} (${sp.kind}): the first fit failed: ${message(error)}`);
          (entry.specialists as Record<string, unknown>)[sp.name] = {
            kept: `previous fit kept: ${message(error)}`,
          };
        }
      });
      try {
        const fitted = classifierKind.fit(train, k, labels);
        const permutation = alignRegimes(classifier?.variances, fitted.variances);
        const aligned = fitted.permute(permutation);
        classifier = aligned;
        reader = aligned.reader(train);
        (entry as { classifier: RefitEntry["classifier"] }).classifier = {
          variances: aligned.variances,
          ...(permutation.every((p, i) => p === i) ? {} : { permutation }),
        };
      } catch (error) {
        if (classifier === undefined)
          throw invalid(`classifier ${spec.classifier.method}: the first fit failed: ${message(error)}`);
        (entry as { classifier: RefitEntry["classifier"] }).classifier = {
          kept: `previous fit kept: ${message(error)}`,
        };
      }
      refits.push(entry);
    }
    // What the router knows at t.
    const probabilities = (reader as RegimeReader).probabilities;
    const reading = readingOf(labels, probabilities);
    for (let i = 0; i < s; i++) {
      const sp = spec.specialists[i] as BacktestSpecialist;
      let f: number;
      try {
        f = sp.kind === "external" ? (sp.forecasts[t] as number) : (trackers[i] as SpecialistTracker).next();
      } catch {
        f = Number.NaN;
      }
      const ok = f > 0 && Number.isFinite(f);
      forecast[i] = ok ? f : Number.NaN;
      answered[i] = ok;
      if (!ok) failures[i] = (failures[i] as number) + 1;
    }
    const raw = weightsFor(spec.mode, table, probabilities);
    // Nothing with weight answered: fall back to every specialist that did, alike.
    const weights =
      renormalise(raw, answered) ??
      renormalise(
        answered.map(() => 1),
        answered,
      );
    if (weights === undefined) throw invalid(`bar ${t + 1}: no specialist gave a usable forecast`);
    const combined = combine(weights, forecast);
    const next = returns[t + 1] as number;
    const realized = next * next;
    out.bars[row] = t;
    out.realized[row] = realized;
    out.router[row] = combined;
    out.regime[row] = reading.regime;
    for (let j = 0; j < k; j++) (out.probabilities[j] as Float64Array)[row] = probabilities[j] as number;
    for (let i = 0; i < s; i++) {
      (out.forecasts[i] as Float64Array)[row] = forecast[i] as number;
      (out.weights[i] as Float64Array)[row] = weights[i] as number;
    }
    // r_{t+1} arrives: the weights learn from it, then every tracker and the classifier see it.
    if (spec.learning !== undefined) {
      for (let i = 0; i < s; i++)
        losses[i] = answered[i] === true ? lossOf(realized, forecast[i] as number) : Number.NaN;
      table = learnTable(spec.learning, spec.mode, table, probabilities, reading.regime, losses);
    }
    for (const tracker of trackers) tracker?.see(next);
    (reader as RegimeReader).see(next);
    options.progress?.(row + 1, rows);
  }
  return { names, labels, ...out, failures, refits };
}

/**
 * One round of learning: hard, the row of the regime the router acted on; soft, every row,
 * each moved in proportion to its regime's probability (its rate and share times p_s), so a
 * regime learns from the bars it was responsible for.
 */
export function learnTable(
  learning: Learning,
  mode: RouterMode,
  table: readonly (readonly number[])[],
  probabilities: readonly number[],
  regime: number,
  losses: readonly number[],
): number[][] {
  return table.map((row, j) => {
    if (mode === "hard") return j === regime ? learn(learning, row, losses) : [...row];
    const p = probabilities[j] as number;
    if (!(p > 1e-6)) return [...row];
    return learn({ ...learning, rate: learning.rate * p, share: learning.share * p }, row, losses);
  });
}

/**
 * How to renumber a new fit's regimes: permutation[i] is the new regime that becomes regime i.
 * With no previous fit, by variance ascending; else the permutation whose log variances are
 * closest to the previous fit's (k ≤ 4: every permutation is tried).
 */
export function alignRegimes(previous: readonly number[] | undefined, next: readonly number[]): number[] {
  const k = next.length;
  const byVariance = Array.from({ length: k }, (_, i) => i).sort(
    (a, b) => (next[a] as number) - (next[b] as number),
  );
  if (previous === undefined || previous.length !== k) return byVariance;
  let best = byVariance;
  let bestCost = Number.POSITIVE_INFINITY;
  for (const perm of permutations(k)) {
    let cost = 0;
    for (let i = 0; i < k; i++)
      cost += Math.abs(Math.log(previous[i] as number) - Math.log(next[perm[i] as number] as number));
    if (cost < bestCost - 1e-12) {
      bestCost = cost;
      best = perm;
    }
  }
  return best;
}

function permutations(k: number): number[][] {
  if (k === 1) return [[0]];
  const out: number[][] = [];
  for (const rest of permutations(k - 1))
    for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), k - 1, ...rest.slice(at)]);
  return out;
}

function checkSpec(spec: BacktestSpec): void {
  const k = spec.classifier.labels.length;
  const s = spec.specialists.length;
  if (s === 0) throw invalid("a backtest needs at least one specialist");
  if (!(spec.classifier.method in CLASSIFIERS))
    throw invalid(
      `classifier must be one of ${CLASSIFIER_METHODS.join(", ")}, got ${String(spec.classifier.method)}`,
    );
  if (k < 2 || k > 3) throw invalid(`a backtest's classifier has 2 or 3 regimes, got ${k}`);
  const names = new Set<string>();
  for (const sp of spec.specialists) {
    if (names.has(sp.name)) throw invalid(`specialist ${sp.name} is named twice`);
    names.add(sp.name);
    if (sp.kind !== "external" && !(TRACKED_KINDS as readonly string[]).includes(sp.kind))
      throw invalid(
        `specialist ${sp.name}: unknown kind '${String(sp.kind)}'; one of ${TRACKED_KINDS.join(", ")} or an ONNX model`,
      );
  }
  if (!Number.isInteger(spec.refit) || spec.refit < 1)
    throw invalid(`refit must be a positive whole number of bars, got ${spec.refit}`);
  const need = Math.max(
    CLASSIFIERS[spec.classifier.method].minimum(k),
    ...spec.specialists.map((sp) => (sp.kind === "external" ? 1 : trackerMinimum(sp.kind, spec.tracker))),
  );
  if (!Number.isInteger(spec.minTrain) || spec.minTrain < need)
    throw invalid(`minTrain must be a whole number of at least ${need} returns, got ${spec.minTrain}`);
  if (spec.window !== undefined && (!Number.isInteger(spec.window) || spec.window < spec.minTrain))
    throw invalid(
      `window must be a whole number of at least minTrain (${spec.minTrain}), got ${spec.window}`,
    );
  if (spec.weights !== undefined) {
    if (spec.weights.length !== k || spec.weights.some((row) => row.length !== s))
      throw invalid(`weights must be ${k} rows (regimes) of ${s} (specialists)`);
    spec.weights.forEach((row, j) => {
      const total = row.reduce((a, b) => a + b, 0);
      if (row.some((w) => !(w >= 0)) || Math.abs(total - 1) > 1e-9)
        throw invalid(`weights of regime ${spec.classifier.labels[j]} must be >= 0 and sum to 1`);
    });
  }
  const l = spec.learning;
  if (l !== undefined) {
    if (!(l.rate > 0) || !Number.isFinite(l.rate)) throw invalid(`learning rate must be > 0, got ${l.rate}`);
    if (!(l.share >= 0 && l.share < 1)) throw invalid(`learning share must be in [0, 1), got ${l.share}`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
