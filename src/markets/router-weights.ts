/**
 * How a router weighs its specialists, as pure functions of the regime reading and the
 * per-regime weight tables. Each regime has a weight vector over the specialists (a hard route
 * is one-hot; declared weights; or weights learned online from realized losses). `hard` uses
 * the most probable regime's vector; `soft` mixes the vectors by the regime probabilities.
 *
 * A specialist that fails, is slow or answers nonsense is renormalised away: the others'
 * weights are scaled to sum to one again, so one specialist never fails the router. Only when
 * every specialist with weight is gone is there no answer.
 *
 * Online learning: Hedge (exponential weights, Freund & Schapire 1997) updates a regime's
 * vector by w_i <- w_i exp(-eta l_i), normalised; Fixed-Share (Herbster & Warmuth 1998) then
 * mixes in a share alpha of the uniform vector, so a specialist that lost for a long stretch can
 * win its weight back quickly when the market turns.
 */
import { invalid } from "../domain/errors.js";

export const ROUTER_MODES = ["hard", "soft"] as const;
export type RouterMode = (typeof ROUTER_MODES)[number];

export const LEARNING_ALGORITHMS = ["hedge", "fixed-share"] as const;
export type LearningAlgorithm = (typeof LEARNING_ALGORITHMS)[number];

export interface Learning {
  readonly algorithm: LearningAlgorithm;
  /** eta: how far one round's losses move the weights. */
  readonly rate: number;
  /** alpha, fixed-share only: the share of the uniform vector mixed back in each round. */
  readonly share: number;
}

/** weights[regime][specialist], each row summing to one. */
export type RegimeWeights = readonly (readonly number[])[];

/** The weights over specialists for one answer, before any specialist has failed. */
export function weightsFor(
  mode: RouterMode,
  table: RegimeWeights,
  probabilities: readonly number[],
): number[] {
  const k = table.length;
  if (probabilities.length !== k)
    throw invalid(
      `the classifier gave ${probabilities.length} regime probabilities; the router has ${k} regimes`,
    );
  const n = table[0]?.length ?? 0;
  if (mode === "hard") {
    let top = 0;
    for (let s = 1; s < k; s++) if ((probabilities[s] as number) > (probabilities[top] as number)) top = s;
    return [...(table[top] as readonly number[])];
  }
  const out = new Array<number>(n).fill(0);
  for (let s = 0; s < k; s++) {
    const p = probabilities[s] as number;
    const row = table[s] as readonly number[];
    for (let i = 0; i < n; i++) out[i] = (out[i] as number) + p * (row[i] as number);
  }
  return out;
}

/**
 * The weights with the specialists that did not answer (`answered[i]` false) set to zero and
 * the rest scaled to sum to one; `undefined` when nothing with weight is left.
 */
export function renormalise(weights: readonly number[], answered: readonly boolean[]): number[] | undefined {
  let total = 0;
  for (let i = 0; i < weights.length; i++) if (answered[i] === true) total += weights[i] as number;
  if (!(total > 0)) return undefined;
  return weights.map((w, i) => (answered[i] === true ? w / total : 0));
}

/** sum_i w_i f_i, over the specialists with weight (their forecasts must be finite). */
export function combine(weights: readonly number[], forecasts: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i] as number;
    if (w > 0) sum += w * (forecasts[i] as number);
  }
  return sum;
}

/**
 * One round of online learning for one regime's vector: `losses[i]` is specialist i's realized
 * loss, NaN when it did not answer. A specialist that did not answer sleeps (Freund, Schapire,
 * Singer & Warmuth 1997, "sleeping experts"): its weight is kept, and the weight the ones that
 * answered held between them is redistributed among them only. Normalising over everyone
 * instead would grow a dead specialist's weight at every round (every loss only shrinks the
 * answering ones), until it held nearly all of it the moment it came back.
 */
export function learn(learning: Learning, weights: readonly number[], losses: readonly number[]): number[] {
  const n = weights.length;
  // Subtracting the smallest loss keeps exp() in range; it cancels in the normalisation.
  let least = Number.POSITIVE_INFINITY;
  for (const l of losses) if (Number.isFinite(l) && l < least) least = l;
  if (!Number.isFinite(least)) return [...weights];
  const awake = (i: number) => Number.isFinite(losses[i] as number);
  let before = 0;
  let after = 0;
  const moved = weights.map((w, i) => {
    if (!awake(i)) return w;
    const m = w * Math.exp(-learning.rate * ((losses[i] as number) - least));
    before += w;
    after += m;
    return m;
  });
  // Answering specialists that all weighed nothing: they share what they held (nothing) alike.
  const scale = after > 0 ? before / after : 0;
  const total = weights.reduce((a, b) => a + b, 0);
  const kept = moved.map((w, i) => (awake(i) ? w * scale : w));
  if (!(total > 0)) return new Array<number>(n).fill(1 / n);
  const hedged = kept.map((w) => w / total);
  if (learning.algorithm === "hedge") return hedged;
  return hedged.map((w) => (1 - learning.share) * w + learning.share / n);
}

/** Every regime weighing every specialist alike: where online learning starts. */
export function uniformWeights(regimes: number, specialists: number): number[][] {
  return Array.from({ length: regimes }, () => new Array<number>(specialists).fill(1 / specialists));
}
