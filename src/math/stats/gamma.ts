/**
 * log Γ and the regularized upper incomplete gamma function Q(a, x) = Γ(a, x)/Γ(a)
 * (scipy.special.gammaincc), which gives the chi-square and normal tail probabilities.
 * Q is computed Numerical Recipes style: the power series for P = 1 - Q when x < a + 1, the
 * continued fraction (modified Lentz) for Q otherwise, so neither branch subtracts nearly equal numbers.
 */

const EPS = 2 ** -53;
const TINY = 1e-300;
const MAX_ITERATIONS = 100_000;

// Stirling series coefficients B_2k / (2k (2k - 1)), k = 1..8.
const STIRLING = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400];

/** log Γ(x) for x > 0: Stirling's series at x >= 10 (error < 1e-17 relative), shifted up below. */
export function logGamma(x: number): number {
  if (!(x > 0)) return Number.NaN;
  let shift = 0;
  let z = x;
  let product = 1;
  while (z < 10) {
    product *= z;
    z += 1;
    shift += 1;
  }
  const r = 1 / z;
  const r2 = r * r;
  let series = 0;
  for (let k = STIRLING.length - 1; k >= 0; k--) series = series * r2 + (STIRLING[k] as number);
  const stirling = (z - 0.5) * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI) + series * r;
  return shift === 0 ? stirling : stirling - Math.log(product);
}

/** x^a e^-x / Γ(a), the prefactor of both branches. */
function prefactor(a: number, x: number): number {
  return Math.exp(a * Math.log(x) - x - logGamma(a));
}

/** Regularized upper incomplete gamma Q(a, x) for a > 0, x >= 0 (scipy.special.gammaincc). */
export function upperRegularizedGamma(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < MAX_ITERATIONS; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return Math.max(0, 1 - sum * prefactor(a, x));
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.min(1, prefactor(a, x) * h);
}
