/**
 * Student's t tail via the regularized incomplete beta function:
 *   Pr(|T_ν| ≥ t) = I_{ν/(ν + t²)}(ν/2, ½)
 * I_x(a, b) by the continued fraction of Numerical Recipes (betacf, modified Lentz), evaluated
 * on whichever side of the mean a/(a + b) converges fast, using the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a). Both x and 1 - x are passed in so a tiny t² does not lose its
 * digits in 1 - ν/(ν + t²).
 */
import { logGamma } from "../stats/gamma.js";

const EPS = 2 ** -53;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;

function continuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** I_x(a, b) for a, b > 0, given x and y = 1 - x (scipy.special.betainc). */
export function regularizedIncompleteBeta(x: number, a: number, b: number, y = 1 - x): number {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(y >= 0)) return Number.NaN;
  if (x === 0) return 0;
  if (y === 0) return 1;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(y);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * continuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * continuedFraction(y, b, a)) / b;
}

/** Two-sided Pr(|T| ≥ |t|) for Student's t with ν > 0 degrees of freedom. */
export function studentTTwoSided(t: number, degreesOfFreedom: number): number {
  if (Number.isNaN(t) || !(degreesOfFreedom > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  const t2 = t * t;
  const denominator = degreesOfFreedom + t2;
  return Math.min(
    1,
    regularizedIncompleteBeta(degreesOfFreedom / denominator, degreesOfFreedom / 2, 0.5, t2 / denominator),
  );
}
