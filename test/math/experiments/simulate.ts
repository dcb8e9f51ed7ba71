// Seeded simulation helpers for the sequential tests' error-rate and speed properties.
import type { Random } from "../../../src/sim/random.js";

/**
 * Binomial(n, p) by inversion with one uniform: walk the pmf up from 0. Exact, and fast while
 * n·p is small, as in a batch of requests; (1 - p)^n must not underflow (n·p below ~700).
 */
export function binomial(random: Random, n: number, p: number): number {
  if (p <= 0 || n === 0) return 0;
  if (p >= 1) return n;
  const u = random.uniform();
  const ratio = p / (1 - p);
  let pmf = (1 - p) ** n;
  let cdf = pmf;
  let k = 0;
  while (u >= cdf && k < n) {
    pmf *= (ratio * (n - k)) / (k + 1);
    k += 1;
    cdf += pmf;
  }
  return k;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
