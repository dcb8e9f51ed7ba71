/**
 * A small seeded random source for simulations. The generator is xoshiro128** (Blackman and
 * Vigna, 2018): 128 bits of state, period 2^128 - 1, passes BigCrush, and needs only 32-bit
 * integer arithmetic, which JavaScript does exactly with `Math.imul` and `>>> 0`. The state is
 * filled from the seed with splitmix32 so that nearby seeds (1, 2, 3…) give unrelated streams.
 *
 * Same seed, same calls, same numbers, on every platform: nothing here touches Math.random.
 */

export interface Random {
  /** A 32-bit unsigned integer, uniform over [0, 2^32). */
  nextUint32(): number;
  /** Uniform on [0, 1), in steps of 2^-32. */
  uniform(): number;
  /** Normal with the given mean and standard deviation (Box–Muller). */
  normal(mean?: number, sd?: number): number;
  /** exp(normal(mu, sigma)): `mu` and `sigma` are those of the logarithm; the median is exp(mu). */
  logNormal(mu: number, sigma: number): number;
  /** Poisson with mean `lambda` (Knuth's product method below 30, PTRS above). */
  poisson(lambda: number): number;
  /** 1 with probability p, else 0. */
  bernoulli(p: number): 0 | 1;
  /** An index i drawn with probability weights[i] / sum(weights). */
  categorical(weights: readonly number[]): number;
  /** An integer uniform on [lo, hi], both ends included. */
  int(lo: number, hi: number): number;
}

const TWO_POW_32 = 4294967296;

/** splitmix32: spreads one 32-bit seed over the generator state. */
function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * Combines a seed with more integers (a week number, a stream name's hash…) into one seed, so
 * that each part of a simulation has its own reproducible stream.
 */
export function deriveSeed(seed: number, ...parts: readonly number[]): number {
  let h = splitmix32(seed)();
  for (const part of parts) h = splitmix32((h ^ Math.imul(part >>> 0, 0x27d4eb2d)) >>> 0)();
  return h;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9): ample precision for the Poisson sampler. */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] ?? 0;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] ?? 0) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

class Xoshiro128StarStar implements Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** Box–Muller makes two normals at a time; the second waits here for the next call. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    const next = splitmix32(seed);
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  uniform(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + sd * z;
    }
    // 1 - uniform() lies in (0, 1], so the logarithm is finite.
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spareNormal = r * Math.sin(theta);
    return mean + sd * r * Math.cos(theta);
  }

  logNormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  poisson(lambda: number): number {
    if (!(lambda >= 0) || !Number.isFinite(lambda))
      throw new RangeError(`poisson: lambda must be >= 0, got ${lambda}`);
    if (lambda === 0) return 0;
    if (lambda < 30) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let product = this.uniform();
      while (product > limit) {
        k++;
        product *= this.uniform();
      }
      return k;
    }
    return this.poissonPtrs(lambda);
  }

  /** Hörmann (1993), "The transformed rejection method for generating Poisson random variables". */
  private poissonPtrs(lambda: number): number {
    const slam = Math.sqrt(lambda);
    const logLam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    while (true) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      const lhs = Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b);
      const rhs = -lambda + k * logLam - logGamma(k + 1);
      if (lhs <= rhs) return k;
    }
  }

  bernoulli(p: number): 0 | 1 {
    return this.uniform() < p ? 1 : 0;
  }

  categorical(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0) || !Number.isFinite(w))
        throw new RangeError(`categorical: weights must be finite and >= 0, got ${w}`);
      total += w;
    }
    if (total <= 0) throw new RangeError("categorical: at least one weight must be positive");
    let target = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] ?? 0;
      if (target < w) return i;
      target -= w;
    }
    // Rounding can leave target a hair above the last bucket; it belongs to the last positive one.
    for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] ?? 0) > 0) return i;
    return weights.length - 1;
  }

  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
      throw new RangeError(`int: need integers lo <= hi, got ${lo} and ${hi}`);
    }
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }
}

export function createRandom(seed: number): Random {
  return new Xoshiro128StarStar(seed);
}
