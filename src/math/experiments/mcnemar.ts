/**
 * McNemar's test for two classifiers scored on the same labelled requests (champion vs
 * challenger). Only the discordant requests carry evidence: b = champion right and challenger
 * wrong, c = champion wrong and challenger right. Under H₀ (equal accuracy) each discordant
 * request is a fair coin, so b ~ Binomial(b + c, ½).
 *
 * - b + c < EXACT_BELOW (25, the usual rule; the chi-square approximation is poor below it):
 *   exact two-sided binomial p = min(1, 2·Pr(X ≤ min(b, c))), which for p = ½ is what
 *   scipy.stats.binomtest(b, b + c, 0.5) returns (the distribution is symmetric).
 * - otherwise: χ² = (|b - c| - 1)²/(b + c) with one degree of freedom (Edwards' continuity
 *   correction), p = Pr(χ²₁ ≥ χ²). The correction is clipped at |b - c| so it never pushes the
 *   statistic past zero (as scipy's Yates correction is), keeping p monotone in |b - c|.
 */
import { invalid } from "../../domain/errors.js";
import { logGamma, upperRegularizedGamma } from "../stats/gamma.js";

export const EXACT_BELOW = 25;

export interface PairedOutcomes {
  readonly bothRight: number;
  /** b: champion right, challenger wrong. */
  readonly championOnly: number;
  /** c: champion wrong, challenger right. */
  readonly challengerOnly: number;
  readonly bothWrong: number;
}

export const NO_PAIRED_OUTCOMES: PairedOutcomes = Object.freeze({
  bothRight: 0,
  championOnly: 0,
  challengerOnly: 0,
  bothWrong: 0,
});

/** Counts one labelled request; pure, so per-shard tables merge with mergePairedOutcomes. */
export function addPairedOutcome(
  table: PairedOutcomes,
  championRight: boolean,
  challengerRight: boolean,
): PairedOutcomes {
  if (championRight && challengerRight) return { ...table, bothRight: table.bothRight + 1 };
  if (championRight) return { ...table, championOnly: table.championOnly + 1 };
  if (challengerRight) return { ...table, challengerOnly: table.challengerOnly + 1 };
  return { ...table, bothWrong: table.bothWrong + 1 };
}

export function mergePairedOutcomes(a: PairedOutcomes, b: PairedOutcomes): PairedOutcomes {
  return {
    bothRight: a.bothRight + b.bothRight,
    championOnly: a.championOnly + b.championOnly,
    challengerOnly: a.challengerOnly + b.challengerOnly,
    bothWrong: a.bothWrong + b.bothWrong,
  };
}

export interface McNemarOutcome {
  readonly method: "exact" | "chi-square";
  /** min(b, c) for the exact test, the corrected χ² otherwise. */
  readonly statistic: number;
  readonly pValue: number;
  /** Challenger accuracy - champion accuracy = (c - b)/n over all paired requests. */
  readonly accuracyDifference: number;
  readonly better: "champion" | "challenger" | "tie";
}

export interface McNemarOptions {
  /** "auto" (default): exact below EXACT_BELOW discordant pairs, chi-square from there on. */
  readonly method?: "auto" | "exact" | "chi-square";
}

export function mcnemarTest(table: PairedOutcomes, options: McNemarOptions = {}): McNemarOutcome {
  for (const [key, value] of Object.entries(table)) {
    if (!Number.isInteger(value) || value < 0)
      throw invalid(`McNemar: ${key} must be an integer >= 0, got ${value}`);
  }
  const b = table.championOnly;
  const c = table.challengerOnly;
  const discordant = b + c;
  const n = table.bothRight + b + c + table.bothWrong;
  const accuracyDifference = n === 0 ? 0 : (c - b) / n;
  const better = b === c ? "tie" : c > b ? "challenger" : "champion";
  const method = options.method ?? "auto";
  if (method === "exact" || (method === "auto" && discordant < EXACT_BELOW)) {
    const k = Math.min(b, c);
    return {
      method: "exact",
      statistic: k,
      pValue: Math.min(1, 2 * binomialHalfCdf(k, discordant)),
      accuracyDifference,
      better,
    };
  }
  if (discordant === 0) return { method: "chi-square", statistic: 0, pValue: 1, accuracyDifference, better };
  const corrected = Math.max(0, Math.abs(b - c) - 1);
  const statistic = (corrected * corrected) / discordant;
  // χ²₁ survival: Q(½, x/2).
  return {
    method: "chi-square",
    statistic,
    pValue: upperRegularizedGamma(0.5, statistic / 2),
    accuracyDifference,
    better,
  };
}

/** Pr(X ≤ k) for X ~ Binomial(n, ½), summed in log space so large n neither overflows nor underflows. */
function binomialHalfCdf(k: number, n: number): number {
  if (n === 0) return 1;
  const logHalfPowN = n * Math.log(0.5);
  const logChoose = (i: number): number => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1);
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(logChoose(i) + logHalfPowN);
  return Math.min(1, sum);
}
