/**
 * Label alignment: a refit classifier whose regimes come out in another order than the
 * current one's (state 0 <-> 1) is renumbered to agree with it before it is deployed, so the
 * router's table ("turbulent -> the LSTM") keeps meaning what it meant.
 *
 * Both classifiers read the same returns (the refit's training data: the overlap where both
 * have an opinion); the permutation chosen is the one under which their filtered regime paths
 * agree on the most bars (the regime each is most sure of), ties broken by the soft agreement
 * sum_t sum_s p_new(t, s) p_current(t, perm(s)), and then in favour of leaving it as it is.
 * Matching by variance order would be simpler, but agreement is what a user means by "the same
 * regime": two fits can order close variances differently and still call the same days
 * turbulent. k is at most 4, so every permutation (at most 24) is tried.
 */
import { invalid } from "../domain/errors.js";
import { permuteRegimeModel, regimePath, type RegimeModel } from "./regime-classifier.js";

export interface RegimeAlignment {
  /** The candidate renumbered (and named with the current model's labels). */
  readonly model: RegimeModel;
  /** permutation[s]: the current model's regime that the candidate's regime s became. */
  readonly permutation: number[];
  /** True when the permutation is not the identity. */
  readonly permuted: boolean;
  /** Share of the compared bars whose regime agrees, after and before the permutation. */
  readonly agreement: number;
  readonly agreementBefore: number;
  /** Bars where both had a reading. */
  readonly bars: number;
}

function permutations(k: number): number[][] {
  if (k === 1) return [[0]];
  const out: number[][] = [];
  for (const rest of permutations(k - 1))
    for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), k - 1, ...rest.slice(at)]);
  return out;
}

export function alignRegimeModel(
  candidate: RegimeModel,
  current: RegimeModel,
  returns: ArrayLike<number>,
): RegimeAlignment {
  const k = candidate.labels.length;
  if (current.labels.length !== k)
    throw invalid(
      `the candidate has ${k} regimes and the current classifier ${current.labels.length}: regimes cannot be aligned`,
    );
  const mine = regimePath(candidate, returns);
  const theirs = regimePath(current, returns);
  const pairs: Array<[readonly number[], readonly number[], number, number]> = [];
  mine.forEach((a, t) => {
    const b = theirs[t];
    if (a !== undefined && b !== undefined)
      pairs.push([a.probabilities, b.probabilities, a.regime, b.regime]);
  });
  if (pairs.length === 0)
    throw invalid(
      `the classifiers have no reading in common on ${returns.length} returns: too few to align them`,
    );
  const score = (perm: readonly number[]): [number, number] => {
    let hard = 0;
    let soft = 0;
    for (const [p, q, a, b] of pairs) {
      if (perm[a] === b) hard += 1;
      for (let s = 0; s < k; s++) soft += (p[s] as number) * (q[perm[s] as number] as number);
    }
    return [hard, soft];
  };
  const identity = Array.from({ length: k }, (_, s) => s);
  const before = score(identity);
  let best = identity;
  let bestScore = before;
  for (const perm of permutations(k)) {
    const sc = score(perm);
    if (sc[0] > bestScore[0] || (sc[0] === bestScore[0] && sc[1] > bestScore[1] + 1e-9)) {
      best = perm;
      bestScore = sc;
    }
  }
  const permuted = best.some((v, s) => v !== s);
  if (permuted && candidate.method === "rules")
    throw invalid(
      `the rules classifier's regimes disagree with the current classifier's (permutation [${best.join(", ")}] agrees better): rules are ordered by their thresholds and are not renumbered; check their labels`,
    );
  return {
    model: permuteRegimeModel(candidate, best, current.labels),
    permutation: best,
    permuted,
    agreement: bestScore[0] / pairs.length,
    agreementBefore: before[0] / pairs.length,
    bars: pairs.length,
  };
}
