/**
 * The rules regime classifier: a threshold on where an indicator stands among its own recent
 * values. "Turbulent when 20-day realized volatility is above its 80th percentile over 2 years":
 *
 *   { indicator: realized, window: 20, lookback: 504,
 *     enter: { turbulent: 0.8 }, exit: { turbulent: 0.6 }, minDuration: 5 }
 *
 * Indicators, computed from returns one at a time (O(1) per bar, except the percentile):
 *   realized    sqrt(mean r^2) over the last `window` returns (not demeaned, as indicators.ts)
 *   ewma        RiskMetrics: s2 = lambda s2 + (1 - lambda) r^2 (lambda 0.94 unless given), seeded
 *               with the first square; its value counts once `window` returns have been seen
 *   efficiency  Kaufman's ratio on the log price: |sum r| / sum |r| over the last `window` returns
 *               (0 when every return is 0): 1 is a straight trend, 0 a path that went nowhere
 *   drawdown    the depth below the highest log price of the last `window` returns:
 *               1 - exp(p_t - max p), so deeper is larger (a monotone deque keeps the maximum)
 *
 * The percentile: the indicator's last `lookback` values (the current one included) are kept
 * twice, in arrival order (a ring, to know which value leaves) and sorted (to rank): a bar
 * drops the oldest value from the sorted array and inserts the new one, each found by binary
 * search and moved by one splice (O(log n) comparisons plus a memmove of at most n doubles;
 * for n = 504 that is a few hundred nanoseconds). The percentile rank of the current value x is
 * the mid-rank (#{v < x} + #{v <= x}) / 2n, so a constant stretch sits at 0.5, not at 1.
 *
 * The regime, with labels calm first: on the first bar the percentile exists, the highest regime
 * whose `enter` threshold p reaches (else the first). Later, hysteresis: move up to the highest
 * regime above the current one whose `enter` p reaches; else, when p falls below the current
 * regime's `exit`, move down to the highest lower regime whose `exit` p still reaches (the first
 * regime has no thresholds). A regime switched to is held at least `minDuration` bars (the bar
 * it was entered on counts as one): no switch happens before. The first reading is not a
 * switch, so it is not held.
 *
 * Probabilities are hard: 1 for the regime the rules are in, 0 for the others. A rule has no
 * likelihood, and a soft value made from the distance to a threshold would look like one.
 *
 * The state is plain JSON and is updated in place (a bar must not copy the lookback).
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";

export const RULE_INDICATORS = ["realized", "ewma", "efficiency", "drawdown"] as const;
export type RuleIndicator = (typeof RULE_INDICATORS)[number];

/** Bounds the state's size (and so a bar's memmove). */
export const MAX_RULE_LOOKBACK = 10_000;
export const MAX_RULE_WINDOW = 10_000;

export interface RegimeRules {
  readonly indicator: RuleIndicator;
  readonly window: number;
  /** ewma only. */
  readonly lambda?: number;
  readonly lookback: number;
  /** Per label after the first: the percentile at or above which the regime is entered. */
  readonly enter: Readonly<Record<string, number>>;
  /** Per label after the first: the percentile below which it is left (at most its enter). */
  readonly exit: Readonly<Record<string, number>>;
  readonly minDuration: number;
}

interface IndicatorState {
  /** The last `window` returns (realized: their squares), a ring. */
  ring: number[];
  head: number;
  sum: number;
  absSum: number;
  ewma: number | null;
  seen: number;
  logPrice: number;
  /** drawdown: [return index, log price] with decreasing prices (the window's maximum first). */
  peaks: Array<[number, number]>;
}

export interface RulesRegimeState {
  /** Returns seen. */
  bars: number;
  indicator: IndicatorState;
  /** The last `lookback` indicator values, a ring; and the same values sorted. */
  history: number[];
  historyHead: number;
  sorted: number[];
  /** Null until the percentile exists (`lookback` indicator values). */
  regime: number | null;
  /** Bars in the current regime, the entering one included. */
  since: number;
  percentile: number | null;
}

/** Returns needed before the rules have a regime: the indicator's warm-up plus the lookback. */
export function rulesMinimumReturns(rules: RegimeRules): number {
  return rules.window + rules.lookback - 1;
}

function integerField(value: unknown, field: string, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
    throw invalid(`rules.${field} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`, {
      field: `rules.${field}`,
    });
  return value as number;
}

function thresholds(value: unknown, field: string, labels: readonly string[]): Record<string, number> {
  if (!isPlainObject(value))
    throw invalid(
      `rules.${field} must be an object of percentiles by regime label (${labels.slice(1).join(", ")})`,
      { field: `rules.${field}` },
    );
  const out: Record<string, number> = {};
  for (const key of Object.keys(value))
    if (!labels.slice(1).includes(key))
      throw invalid(
        `rules.${field}.${key}: '${key}' is not a regime after the first (${labels.slice(1).join(", ")}); the first regime, ${labels[0]}, is where the rules are when no threshold holds`,
        { field: `rules.${field}.${key}` },
      );
  for (const label of labels.slice(1)) {
    const v = value[label];
    if (typeof v !== "number" || !(v >= 0 && v <= 1))
      throw invalid(
        `rules.${field}.${label} must be a percentile between 0 and 1, not ${JSON.stringify(v)}`,
        {
          field: `rules.${field}.${label}`,
        },
      );
    out[label] = v;
  }
  return out;
}

const RULE_FIELDS = ["indicator", "window", "lambda", "lookback", "enter", "exit", "minDuration"];

/** Checks rules (parsed YAML or JSON) for a classifier with these labels; errors name the field. */
export function parseRegimeRules(value: unknown, labels: readonly string[]): RegimeRules {
  if (!isPlainObject(value)) throw invalid("rules must be an object", { field: "rules" });
  const unknown = Object.keys(value).filter((k) => !RULE_FIELDS.includes(k));
  if (unknown.length > 0)
    throw invalid(`unknown field 'rules.${unknown[0]}'; expected ${RULE_FIELDS.join(", ")}`, {
      field: `rules.${unknown[0]}`,
    });
  const indicator = value.indicator;
  if (!(RULE_INDICATORS as readonly unknown[]).includes(indicator))
    throw invalid(
      `rules.indicator must be one of ${RULE_INDICATORS.join(", ")}, not ${JSON.stringify(indicator)}`,
      { field: "rules.indicator" },
    );
  const window = integerField(value.window, "window", indicator === "efficiency" ? 2 : 1, MAX_RULE_WINDOW);
  const lookback = integerField(value.lookback, "lookback", 2, MAX_RULE_LOOKBACK);
  const minDuration = integerField(value.minDuration, "minDuration", 1, 1_000_000, 1);
  let lambda: number | undefined;
  if (value.lambda !== undefined) {
    if (indicator !== "ewma")
      throw invalid("rules.lambda is for the ewma indicator", { field: "rules.lambda" });
    if (typeof value.lambda !== "number" || !(value.lambda > 0 && value.lambda < 1))
      throw invalid(`rules.lambda must be strictly between 0 and 1, not ${JSON.stringify(value.lambda)}`, {
        field: "rules.lambda",
      });
    lambda = value.lambda;
  }
  const enter = thresholds(value.enter, "enter", labels);
  const exit = thresholds(value.exit, "exit", labels);
  labels.slice(1).forEach((label, i) => {
    if ((exit[label] as number) > (enter[label] as number))
      throw invalid(
        `rules.exit.${label} (${exit[label]}) is above rules.enter.${label} (${enter[label]}): the exit threshold must not be above the entry one (their gap is the hysteresis)`,
        { field: `rules.exit.${label}` },
      );
    const before = labels[i] as string; // the previous label (i is offset by the slice)
    if (i > 0 && !((enter[label] as number) > (enter[before] as number)))
      throw invalid(
        `rules.enter.${label} (${enter[label]}) must be above rules.enter.${before} (${enter[before]}): regimes go from calm to turbulent`,
        { field: `rules.enter.${label}` },
      );
  });
  return {
    indicator: indicator as RuleIndicator,
    window,
    ...(lambda === undefined ? {} : { lambda }),
    lookback,
    enter,
    exit,
    minDuration,
  };
}

export function startRules(): RulesRegimeState {
  return {
    bars: 0,
    indicator: {
      ring: [],
      head: 0,
      sum: 0,
      absSum: 0,
      ewma: null,
      seen: 0,
      logPrice: 0,
      peaks: [],
    },
    history: [],
    historyHead: 0,
    sorted: [],
    regime: null,
    since: 0,
    percentile: null,
  };
}

/** Pushes into a ring of `size`; returns the value that left, if one did. */
function pushRing(values: number[], head: number, size: number, value: number): [number, number | undefined] {
  if (values.length < size) {
    values.push(value);
    return [head, undefined];
  }
  const left = values[head] as number;
  values[head] = value;
  return [(head + 1) % size, left];
}

/** The indicator after one more return; undefined while it warms up. */
function updateIndicator(rules: RegimeRules, s: IndicatorState, r: number): number | undefined {
  s.seen += 1;
  const w = rules.window;
  switch (rules.indicator) {
    case "realized": {
      const [head, left] = pushRing(s.ring, s.head, w, r * r);
      s.head = head;
      s.sum += r * r - (left ?? 0);
      // Re-added once per lap, so rounding from the subtractions does not pile up.
      if (head === 0 && left !== undefined) s.sum = s.ring.reduce((a, b) => a + b, 0);
      return s.ring.length < w ? undefined : Math.sqrt(Math.max(0, s.sum) / w);
    }
    case "ewma": {
      const lambda = rules.lambda ?? 0.94;
      s.ewma = s.ewma === null ? r * r : lambda * s.ewma + (1 - lambda) * r * r;
      return s.seen < w ? undefined : Math.sqrt(s.ewma);
    }
    case "efficiency": {
      const [head, left] = pushRing(s.ring, s.head, w, r);
      s.head = head;
      s.sum += r - (left ?? 0);
      s.absSum += Math.abs(r) - Math.abs(left ?? 0);
      if (head === 0 && left !== undefined) {
        s.sum = s.ring.reduce((a, b) => a + b, 0);
        s.absSum = s.ring.reduce((a, b) => a + Math.abs(b), 0);
      }
      if (s.ring.length < w) return undefined;
      return s.absSum > 0 ? Math.min(1, Math.abs(s.sum) / s.absSum) : 0;
    }
    case "drawdown": {
      // Log prices p_0 = 0 (before the first return), p_1, …; the window holds the last w + 1.
      const t = s.seen;
      if (t === 1) s.peaks.push([0, 0]);
      s.logPrice += r;
      while (s.peaks.length > 0 && (s.peaks[s.peaks.length - 1] as [number, number])[1] <= s.logPrice)
        s.peaks.pop();
      s.peaks.push([t, s.logPrice]);
      while ((s.peaks[0] as [number, number])[0] < t - w) s.peaks.shift();
      if (t < w) return undefined;
      return 1 - Math.exp(s.logPrice - (s.peaks[0] as [number, number])[1]);
    }
  }
}

/** The first index whose value is >= x (strict: > x). */
function bound(sorted: readonly number[], x: number, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (strict ? v <= x : v < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The mid-rank percentile of x among sorted values (x among them). */
export function percentileRank(sorted: readonly number[], x: number): number {
  return (bound(sorted, x, false) + bound(sorted, x, true)) / (2 * sorted.length);
}

/** Where the percentile p takes the rules from regime `current` (before the minimum duration). */
export function nextRuleRegime(
  rules: RegimeRules,
  labels: readonly string[],
  current: number | null,
  p: number,
): number {
  const enter = (j: number): number => rules.enter[labels[j] as string] as number;
  const exit = (j: number): number => rules.exit[labels[j] as string] as number;
  const from = current ?? 0;
  let up = from;
  for (let j = from + 1; j < labels.length; j++) if (p >= enter(j)) up = j;
  if (up > from || current === null) return up;
  if (from > 0 && p < exit(from)) {
    let down = 0;
    for (let j = 1; j < from; j++) if (p >= exit(j)) down = j;
    return down;
  }
  return from;
}

/** One more return through the rules; the state is updated in place and returned. */
export function stepRules(
  rules: RegimeRules,
  labels: readonly string[],
  state: RulesRegimeState,
  r: number,
): RulesRegimeState {
  if (!Number.isFinite(r)) throw invalid(`return ${String(r)} is not a finite number`);
  state.bars += 1;
  const value = updateIndicator(rules, state.indicator, r);
  if (value === undefined) return state;
  const [head, left] = pushRing(state.history, state.historyHead, rules.lookback, value);
  state.historyHead = head;
  if (left !== undefined) state.sorted.splice(bound(state.sorted, left, false), 1);
  state.sorted.splice(bound(state.sorted, value, false), 0, value);
  if (state.history.length < rules.lookback) return state;
  const p = percentileRank(state.sorted, value);
  state.percentile = p;
  const target = nextRuleRegime(rules, labels, state.regime, p);
  if (state.regime === null) {
    // The first reading is not a switch: nothing holds it.
    state.regime = target;
    state.since = rules.minDuration;
  } else if (target !== state.regime && state.since >= rules.minDuration) {
    state.regime = target;
    state.since = 1;
  } else state.since += 1;
  return state;
}

/** Hard probabilities: 1 for the regime the rules are in. */
export function rulesProbabilities(k: number, regime: number): number[] {
  return Array.from({ length: k }, (_, s) => (s === regime ? 1 : 0));
}
