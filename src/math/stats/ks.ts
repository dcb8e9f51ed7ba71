/**
 * Two-sample Kolmogorov–Smirnov test, a faithful port of scipy 1.10
 * `ks_2samp(a, b, alternative="two-sided", method="auto")` (scipy/stats/_stats_py.py):
 *
 * - statistic D = max |F_ref(x) - F_cur(x)| over every observed x, with F(x) = #{values <= x}/n,
 *   so ties are handled as scipy's `searchsorted(side="right")` handles them;
 * - `auto` picks the exact null distribution when max(n1, n2) <= 10000: D is rounded to h/lcm(n1, n2)
 *   and the share of lattice paths leaving the band |x/n1 - y/n2| < h/lcm is computed
 *   (`_compute_prob_outside_square` when n1 = n2, else Hodges' inside method with Viehmann's
 *   1 - p recursion, `_compute_outer_prob_inside_method`); if that fails numerically it falls
 *   back, as scipy does, to the asymptotic p-value;
 * - beyond, the asymptotic p-value `kstwo.sf(D, round(n1·n2/(n1+n2)))` (see kolmogorov.ts).
 *
 * Kind p_value: drifted when p < threshold (default 0.05).
 */
import { checkedSamples } from "./input.js";
import { kstwoSf } from "./kolmogorov.js";
import { statResult, type SamplePair, type SampleStatTest, type StatResult } from "./test.js";
import { invalid } from "../../domain/errors.js";

const MAX_AUTO_N = 10000;

export type KsMethod = "exact" | "asymptotic";

export interface KsOutcome {
  /** D, after scipy's rounding to h/lcm(n1, n2) when the exact method ran. */
  readonly statistic: number;
  readonly pValue: number;
  readonly method: KsMethod;
}

function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** numpy's round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Pr(D_{n,n} >= h/n): Horner-like evaluation of the alternating binomial sum. */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k -= 1;
  }
  return 2 * P;
}

/** Share of lattice paths (0,0)→(m,n) that leave |x/m - y/n| < h/lcm(m,n). */
function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = ((A[jj + minj - lastminj] as number) * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, Math.min(maxj - minj + (lastlen - curlen), lenA));
  }
  return A[maxj - minj - 1] as number;
}

function asymptoticPValue(d: number, n1: number, n2: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  return kstwoSf(roundHalfEven(en), d);
}

function checkSizes(n1: number, n2: number): void {
  for (const [name, n] of [
    ["n1", n1],
    ["n2", n2],
  ] as const) {
    if (!Number.isInteger(n) || n < 1) throw invalid(`ks: ${name} must be a positive integer, got ${n}`);
  }
}

/** The p-value (and the possibly rounded D) scipy's `method="auto"` would report for statistic d. */
export function ksOutcome(d: number, n1: number, n2: number): KsOutcome {
  checkSizes(n1, n2);
  if (!Number.isFinite(d) || d < 0 || d > 1) throw invalid(`ks: the statistic must be in [0, 1], got ${d}`);
  if (Math.max(n1, n2) <= MAX_AUTO_N) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    const rounded = h / lcm;
    if (h === 0) return { statistic: rounded, pValue: 1, method: "exact" };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    if (p >= 0 && p <= 1) return { statistic: rounded, pValue: p, method: "exact" };
    return { statistic: rounded, pValue: clip(asymptoticPValue(rounded, n1, n2)), method: "asymptotic" };
  }
  return { statistic: d, pValue: clip(asymptoticPValue(d, n1, n2)), method: "asymptotic" };
}

const clip = (p: number): number => Math.min(1, Math.max(0, p));

/** Two-sided p-value for a KS statistic d between samples of sizes n1 and n2 (scipy's auto rule). */
export function ksPValue(d: number, n1: number, n2: number): number {
  return ksOutcome(d, n1, n2).pValue;
}

/** D from already sorted samples, computed exactly as scipy does (c1/n1 - c2/n2 at every value). */
function statisticOfSorted(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minDiff = Infinity;
  while (i < n1 || j < n2) {
    const v =
      j >= n2 || (i < n1 && (a[i] as number) <= (b[j] as number)) ? (a[i] as number) : (b[j] as number);
    while (i < n1 && (a[i] as number) <= v) i++;
    while (j < n2 && (b[j] as number) <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minDiff) minDiff = diff;
  }
  const minS = Math.min(Math.max(-minDiff, 0), 1);
  return minS > maxS ? minS : maxS;
}

/** The two-sample KS test on raw samples (any order; NaN and infinities are refused). */
export function ksTwoSample(reference: ArrayLike<number>, current: ArrayLike<number>): KsOutcome {
  const { reference: a, current: b } = checkedSamples("ks", { reference, current });
  return ksOutcome(statisticOfSorted(a, b), a.length, b.length);
}

/**
 * max |F_ref(x) - F_cur(x)| over the given evaluation points, for sketches that can only evaluate
 * their CDFs. With exact empirical CDFs evaluated at every observed value this equals the exact D;
 * with a sketch, D is off by at most the sum of the two CDFs' rank errors.
 */
export function ksStatisticFromCdfs(
  points: ArrayLike<number>,
  refCdf: (x: number) => number,
  curCdf: (x: number) => number,
): number {
  if (points.length === 0) throw invalid("ks: no evaluation points were given");
  let d = 0;
  for (let i = 0; i < points.length; i++) {
    const x = points[i] as number;
    const diff = Math.abs(refCdf(x) - curCdf(x));
    if (Number.isNaN(diff)) throw invalid(`ks: a CDF returned NaN at ${x}`);
    if (diff > d) d = diff;
  }
  return Math.min(d, 1);
}

export const ksTest: SampleStatTest = {
  name: "ks",
  kind: "p_value",
  defaultThreshold: 0.05,
  input: "samples",
  appliesTo: ["numerical"],
  description:
    "two-sample Kolmogorov–Smirnov p-value (scipy ks_2samp, method auto: exact up to 10000 per side)",
  run(pair: SamplePair, threshold?: number): StatResult {
    const outcome = ksTwoSample(pair.reference, pair.current);
    return statResult(this, outcome.pValue, threshold, {
      statistic: outcome.statistic,
      method: outcome.method,
    });
  },
};
