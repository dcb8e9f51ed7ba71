/**
 * Per regime and per model, how the forecasts did once the realized value came: the running
 * QLIKE and MSE (all time), and the recent rounds' losses, kept so any two models can be
 * compared in a regime by Diebold–Mariano (HLN), and a challenger can be judged against the
 * regime's champion. A round is one forecast origin: the realized variance and each model's
 * forecast of it (a model that did not answer has none, and that round is not paired for it).
 *
 * The state is plain JSON (persisted with the router) and bounded: `capacity` recent rounds per
 * regime, plus one ring over all regimes. The rounds are recorded in place: the board is an
 * accumulator, the verdicts below are pure reads of it.
 *
 * QLIKE needs a positive realized variance (a zero return, such as a holiday-filled price, gives
 * log 0): such a round counts for MSE only and is counted in `zeroRealized`.
 */
import { dieboldMariano, qlike, squaredError, type DmResult } from "./evaluation.js";

export const SCORE_LOSSES = ["qlike", "mse"] as const;
export type ScoreLoss = (typeof SCORE_LOSSES)[number];

/** The recent rounds of one regime (or of all): losses[round][model], NaN when none. */
interface RecentRounds {
  qlike: number[][];
  mse: number[][];
  /** Where the next round goes once the ring is full. */
  next: number;
}

interface Totals {
  n: number[];
  qlikeN: number[];
  qlikeSum: number[];
  mseSum: number[];
}

export interface ScoreboardState {
  readonly models: readonly string[];
  readonly regimes: readonly string[];
  readonly capacity: number;
  /** Per regime, then one more for all regimes together. */
  readonly totals: Totals[];
  readonly recent: RecentRounds[];
  zeroRealized: number;
  rounds: number;
}

export interface PerformanceRow {
  /** A regime's label, or "all". */
  readonly regime: string;
  readonly model: string;
  readonly n: number;
  /** Mean QLIKE over the rounds with a positive realized variance; null before any. */
  readonly qlike: number | null;
  readonly mse: number | null;
}

export function emptyScoreboard(
  models: readonly string[],
  regimes: readonly string[],
  capacity = 1000,
): ScoreboardState {
  const slots = regimes.length + 1;
  const zeros = (): number[] => new Array<number>(models.length).fill(0);
  return {
    models: [...models],
    regimes: [...regimes],
    capacity,
    totals: Array.from({ length: slots }, () => ({
      n: zeros(),
      qlikeN: zeros(),
      qlikeSum: zeros(),
      mseSum: zeros(),
    })),
    recent: Array.from({ length: slots }, () => ({ qlike: [], mse: [], next: 0 })),
    zeroRealized: 0,
    rounds: 0,
  };
}

/** One round in `regime`: `forecasts[m]` is model m's forecast, undefined when it gave none. */
export function recordRound(
  board: ScoreboardState,
  regime: number,
  realized: number,
  forecasts: readonly (number | undefined)[],
): void {
  if (!Number.isFinite(realized) || realized < 0) return;
  const positive = realized > 0;
  if (!positive) board.zeroRealized++;
  board.rounds++;
  const q: number[] = [];
  const s: number[] = [];
  for (let m = 0; m < board.models.length; m++) {
    const f = forecasts[m];
    const usable = f !== undefined && Number.isFinite(f) && f > 0;
    q.push(usable && positive ? qlike(realized, f) : Number.NaN);
    s.push(usable ? squaredError(realized, f) : Number.NaN);
  }
  for (const slot of [regime, board.regimes.length]) {
    const totals = board.totals[slot];
    const recent = board.recent[slot];
    if (totals === undefined || recent === undefined) continue;
    for (let m = 0; m < q.length; m++) {
      if (!Number.isNaN(s[m] as number)) {
        totals.n[m] = (totals.n[m] as number) + 1;
        totals.mseSum[m] = (totals.mseSum[m] as number) + (s[m] as number);
      }
      if (!Number.isNaN(q[m] as number)) {
        totals.qlikeN[m] = (totals.qlikeN[m] as number) + 1;
        totals.qlikeSum[m] = (totals.qlikeSum[m] as number) + (q[m] as number);
      }
    }
    if (recent.qlike.length < board.capacity) {
      recent.qlike.push(q);
      recent.mse.push(s);
    } else {
      recent.qlike[recent.next] = q;
      recent.mse[recent.next] = s;
      recent.next = (recent.next + 1) % board.capacity;
    }
  }
}

/** Per regime (then "all") and model: rounds, mean QLIKE and MSE. */
export function performanceRows(board: ScoreboardState): PerformanceRow[] {
  const labels = [...board.regimes, "all"];
  return labels.flatMap((regime, slot) => {
    const t = board.totals[slot] as Totals;
    return board.models.map((model, m) => ({
      regime,
      model,
      n: t.n[m] as number,
      qlike: (t.qlikeN[m] as number) > 0 ? (t.qlikeSum[m] as number) / (t.qlikeN[m] as number) : null,
      mse: (t.n[m] as number) > 0 ? (t.mseSum[m] as number) / (t.n[m] as number) : null,
    }));
  });
}

/** The slot of a regime label, or of all regimes for "all"/undefined. */
function slotOf(board: ScoreboardState, regime: string | undefined): number {
  if (regime === undefined || regime === "all") return board.regimes.length;
  return board.regimes.indexOf(regime);
}

/** The recent rounds where both models have a loss, as two aligned series. */
export function pairedLosses(
  board: ScoreboardState,
  regime: string | undefined,
  a: string,
  b: string,
  loss: ScoreLoss = "qlike",
): { a: number[]; b: number[] } {
  const slot = slotOf(board, regime);
  const ia = board.models.indexOf(a);
  const ib = board.models.indexOf(b);
  const out = { a: [] as number[], b: [] as number[] };
  const recent = board.recent[slot];
  if (recent === undefined || ia < 0 || ib < 0) return out;
  const rows = recent[loss];
  // Oldest first: once the ring is full, the oldest round sits at `next`.
  for (let k = 0; k < rows.length; k++) {
    const row = rows[(recent.next + k) % rows.length] as number[];
    const la = row[ia] as number;
    const lb = row[ib] as number;
    if (Number.isNaN(la) || Number.isNaN(lb)) continue;
    out.a.push(la);
    out.b.push(lb);
  }
  return out;
}

/**
 * One model's recent losses in a regime (or over all), oldest first: the rounds where it had
 * one. What a degradation check compares, the latest stretch against the stretch before it.
 */
export function lossHistory(
  board: ScoreboardState,
  regime: string | undefined,
  model: string,
  loss: ScoreLoss = "qlike",
): number[] {
  const recent = board.recent[slotOf(board, regime)];
  const m = board.models.indexOf(model);
  if (recent === undefined || m < 0) return [];
  const rows = recent[loss];
  const out: number[] = [];
  for (let k = 0; k < rows.length; k++) {
    const l = (rows[(recent.next + k) % rows.length] as number[])[m] as number;
    if (!Number.isNaN(l)) out.push(l);
  }
  return out;
}

/**
 * Diebold–Mariano (HLN, h = 1) on `a`'s and `b`'s recent losses in a regime; `less`: a's loss
 * is lower. Undefined with fewer than 3 paired rounds or when the losses differ by a constant.
 */
export function compareModels(
  board: ScoreboardState,
  regime: string | undefined,
  a: string,
  b: string,
  options: { loss?: ScoreLoss; alternative?: "two.sided" | "less" | "greater" } = {},
): (DmResult & { readonly n: number }) | undefined {
  const paired = pairedLosses(board, regime, a, b, options.loss ?? "qlike");
  if (paired.a.length < 3) return undefined;
  try {
    const result = dieboldMariano(paired.a, paired.b, {
      losses: true,
      alternative: options.alternative ?? "two.sided",
    });
    return { ...result, n: paired.a.length };
  } catch {
    return undefined;
  }
}

export interface ChallengerVerdict {
  readonly regime: string;
  readonly champion: string;
  readonly challenger: string;
  /** One-sided: the challenger's loss is lower. */
  readonly pValue: number;
  readonly n: number;
  /** Challenger minus champion: negative. */
  readonly meanDifferential: number;
}

/**
 * The challenger that does significantly better than `champion` in `regime` (one-sided DM
 * p-value below alpha on at least `minSamples` paired rounds), the most significant one when
 * several do; undefined when none does.
 */
export function challengerVerdict(
  board: ScoreboardState,
  regime: string,
  champion: string,
  options: { alpha: number; minSamples: number; loss?: ScoreLoss; candidates?: readonly string[] },
): ChallengerVerdict | undefined {
  let best: ChallengerVerdict | undefined;
  for (const challenger of options.candidates ?? board.models) {
    if (challenger === champion) continue;
    const test = compareModels(board, regime, challenger, champion, {
      loss: options.loss ?? "qlike",
      alternative: "less",
    });
    if (test === undefined || test.n < options.minSamples || !(test.pValue < options.alpha)) continue;
    if (best === undefined || test.pValue < best.pValue)
      best = {
        regime,
        champion,
        challenger,
        pValue: test.pValue,
        n: test.n,
        meanDifferential: test.meanDifferential,
      };
  }
  return best;
}
