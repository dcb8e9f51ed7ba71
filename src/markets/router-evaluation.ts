/**
 * Per-regime evaluation of a router and its specialists: for each regime, the recent outcomes
 * (a bounded ring: the oldest drops out), each with every model's QLIKE and squared error, so
 * any two models are compared on the same periods (Diebold–Mariano with the HLN correction).
 *
 * Stands in for the shared regime scoreboard (regime-scoreboard.ts) until it lands: the router
 * service only uses `record`, `performance` and `challengerVerdict`, and its state is plain JSON.
 */
import { dieboldMariano, qlike, squaredError } from "./evaluation.js";

export const ROUTER_MODEL = "router";
/** Outcomes kept per regime. */
export const DEFAULT_EVALUATION_CAPACITY = 5000;

export interface OutcomeRow {
  /** model -> loss; a model that did not answer is absent. */
  readonly qlike: Readonly<Record<string, number>>;
  readonly mse: Readonly<Record<string, number>>;
}

export interface RegimeEvaluationState {
  /** rows[regime]: the most recent outcomes there, oldest first. */
  readonly rows: OutcomeRow[][];
  /** Outcomes dropped from the rings (counted, not lost silently). */
  dropped: number;
}

export function startEvaluation(regimes: number): RegimeEvaluationState {
  return { rows: Array.from({ length: regimes }, () => []), dropped: 0 };
}

/** One outcome: the realized variance against each model's forecast, in the regime it was made in. */
export function recordOutcome(
  state: RegimeEvaluationState,
  regime: number,
  realized: number,
  forecasts: Readonly<Record<string, number>>,
  capacity = DEFAULT_EVALUATION_CAPACITY,
): OutcomeRow {
  const q: Record<string, number> = {};
  const m: Record<string, number> = {};
  for (const [model, f] of Object.entries(forecasts)) {
    if (!(f > 0) || !Number.isFinite(f)) continue;
    q[model] = qlike(realized, f);
    m[model] = squaredError(realized, f);
  }
  const row = { qlike: q, mse: m };
  const ring = state.rows[regime] as OutcomeRow[];
  ring.push(row);
  if (ring.length > capacity) {
    ring.shift();
    state.dropped++;
  }
  return row;
}

/** The paired QLIKE losses of two models in one regime (periods where both answered). */
function paired(rows: readonly OutcomeRow[], a: string, b: string): [number[], number[]] {
  const x: number[] = [];
  const y: number[] = [];
  for (const r of rows) {
    const la = r.qlike[a];
    const lb = r.qlike[b];
    if (la !== undefined && lb !== undefined && Number.isFinite(la) && Number.isFinite(lb)) {
      x.push(la);
      y.push(lb);
    }
  }
  return [x, y];
}

/** One-sided DM p-value that `a` has lower QLIKE than `b`; null when it cannot be computed. */
export function dmLess(rows: readonly OutcomeRow[], a: string, b: string): { p: number; n: number } | null {
  const [x, y] = paired(rows, a, b);
  if (x.length < 3) return null;
  try {
    return { p: dieboldMariano(x, y, { losses: true, alternative: "less" }).pValue, n: x.length };
  } catch {
    return null; // equal losses throughout: no test
  }
}

export interface ModelPerformance {
  readonly model: string;
  readonly n: number;
  readonly qlike: number | null;
  readonly mse: number | null;
  /** One-sided DM (HLN) p-value that this model beats the router / the regime's champion. */
  readonly dmVsRouter: number | null;
  readonly dmVsChampion: number | null;
}

export function performance(
  state: RegimeEvaluationState,
  regime: number,
  models: readonly string[],
  champion: string,
): ModelPerformance[] {
  const rows = state.rows[regime] ?? [];
  return [ROUTER_MODEL, ...models].map((model) => {
    let n = 0;
    let q = 0;
    let m = 0;
    for (const r of rows) {
      const lq = r.qlike[model];
      if (lq === undefined) continue;
      n++;
      q += lq;
      m += r.mse[model] as number;
    }
    return {
      model,
      n,
      qlike: n === 0 ? null : q / n,
      mse: n === 0 ? null : m / n,
      dmVsRouter: model === ROUTER_MODEL ? null : (dmLess(rows, model, ROUTER_MODEL)?.p ?? null),
      dmVsChampion: model === champion ? null : (dmLess(rows, model, champion)?.p ?? null),
    };
  });
}

export interface ChallengerVerdict {
  readonly challenger: string;
  readonly pValue: number;
  readonly n: number;
}

/**
 * The specialist significantly better than the regime's champion there (one-sided DM p <
 * alpha on at least minSamples paired outcomes), the smallest p first; undefined when none.
 */
export function challengerVerdict(
  state: RegimeEvaluationState,
  regime: number,
  specialists: readonly string[],
  champion: string,
  alpha: number,
  minSamples: number,
): ChallengerVerdict | undefined {
  const rows = state.rows[regime] ?? [];
  if (rows.length < minSamples) return undefined;
  let best: ChallengerVerdict | undefined;
  for (const s of specialists) {
    if (s === champion) continue;
    const dm = dmLess(rows, s, champion);
    if (dm === null || dm.n < minSamples || !(dm.p < alpha)) continue;
    if (best === undefined || dm.p < best.pValue) best = { challenger: s, pValue: dm.p, n: dm.n };
  }
  return best;
}
