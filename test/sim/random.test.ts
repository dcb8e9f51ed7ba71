import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createRandom, deriveSeed, type Random } from "../../src/sim/random.js";

const N = 200_000;

function sample(n: number, draw: () => number): number[] {
  return Array.from({ length: n }, draw);
}

function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}

function variance(xs: readonly number[]): number {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
}

/** |observed - expected| within k standard errors. */
function assertNear(observed: number, expected: number, standardError: number, what: string, k = 5): void {
  assert.ok(
    Math.abs(observed - expected) <= k * standardError,
    `${what}: ${observed} is more than ${k} standard errors (${standardError}) from ${expected}`,
  );
}

describe("xoshiro128** stream", () => {
  test("matches the reference C implementation", () => {
    // From Blackman & Vigna's xoshiro128starstar.c, its state filled by four splitmix32(42)
    // outputs (the seeding this module uses), compiled with gcc: see the module comment.
    const random = createRandom(42);
    assert.deepEqual(
      sample(6, () => random.nextUint32()),
      [2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290],
    );
  });

  test("the same seed gives the same numbers; another seed does not", () => {
    const draw = (r: Random) => [
      r.uniform(),
      r.normal(),
      r.poisson(3),
      r.int(1, 6),
      r.categorical([1, 2, 3]),
    ];
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom(8);
    const first = Array.from({ length: 50 }, () => draw(a)).flat();
    assert.deepEqual(first, Array.from({ length: 50 }, () => draw(b)).flat());
    assert.notDeepEqual(first, Array.from({ length: 50 }, () => draw(c)).flat());
  });

  test("deriveSeed is deterministic and separates its parts", () => {
    assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
    const seeds = new Set([
      deriveSeed(1),
      deriveSeed(1, 1),
      deriveSeed(1, 2),
      deriveSeed(2, 1),
      deriveSeed(1, 1, 2),
      deriveSeed(1, 2, 1),
    ]);
    assert.equal(seeds.size, 6);
  });
});

describe("distributions (loose checks on large samples)", () => {
  const random = createRandom(20240601);

  test("uniform lies in [0, 1) with mean 1/2 and variance 1/12", () => {
    const xs = sample(N, () => random.uniform());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assertNear(mean(xs), 0.5, Math.sqrt(1 / 12 / N), "mean");
    // Var of (U - 1/2)^2 is 1/80 - 1/144 = 1/180.
    assertNear(variance(xs), 1 / 12, Math.sqrt(1 / 180 / N), "variance");
  });

  test("normal(3, 2): mean, variance and the one-sigma mass", () => {
    const xs = sample(N, () => random.normal(3, 2));
    assertNear(mean(xs), 3, 2 / Math.sqrt(N), "mean");
    // For a normal, SE of the sample variance is sigma^2 * sqrt(2 / (n - 1)).
    assertNear(variance(xs), 4, 4 * Math.sqrt(2 / (N - 1)), "variance");
    const p = 0.6826894921370859; // P(|Z| < 1), from erf(1/sqrt 2)
    const within = xs.filter((x) => Math.abs(x - 3) < 2).length / N;
    assertNear(within, p, Math.sqrt((p * (1 - p)) / N), "P(|x - mean| < sd)");
  });

  test("logNormal(mu, sigma): its log is normal(mu, sigma), its mean exp(mu + sigma^2 / 2)", () => {
    const mu = Math.log(50);
    const sigma = 0.6;
    const xs = sample(N, () => random.logNormal(mu, sigma));
    const logs = xs.map(Math.log);
    assertNear(mean(logs), mu, sigma / Math.sqrt(N), "mean of log");
    assertNear(variance(logs), sigma ** 2, sigma ** 2 * Math.sqrt(2 / (N - 1)), "variance of log");
    const expectedMean = Math.exp(mu + sigma ** 2 / 2);
    const expectedVar = (Math.exp(sigma ** 2) - 1) * Math.exp(2 * mu + sigma ** 2);
    assertNear(mean(xs), expectedMean, Math.sqrt(expectedVar / N), "mean");
  });

  for (const lambda of [0.5, 2.5, 29, 30, 100, 1000]) {
    test(`poisson(${lambda}): integer draws with mean and variance lambda`, () => {
      const xs = sample(N, () => random.poisson(lambda));
      assert.ok(xs.every((x) => Number.isInteger(x) && x >= 0));
      assertNear(mean(xs), lambda, Math.sqrt(lambda / N), "mean");
      // Var of the sample variance for a Poisson: (mu4 - sigma^4) / n with mu4 = lambda (1 + 3 lambda).
      assertNear(variance(xs), lambda, Math.sqrt((lambda + 2 * lambda ** 2) / N), "variance");
    });
  }

  test("poisson(40) (the rejection sampler) fits the Poisson pmf (chi-square)", () => {
    const lambda = 40;
    // Bins: k <= 25, each k in 26..54, k >= 55 (31 bins, 30 degrees of freedom).
    const pmf: number[] = [Math.exp(-lambda)];
    for (let k = 1; k <= 54; k++) pmf.push((pmf[k - 1] ?? 0) * (lambda / k));
    const expected = [pmf.slice(0, 26).reduce((s, p) => s + p, 0), ...pmf.slice(26, 55)];
    expected.push(1 - expected.reduce((s, p) => s + p, 0));
    // Cross-checked against scipy.stats.poisson: cdf(25, 40) and sf(54, 40).
    assert.ok(Math.abs((expected[0] ?? 0) - 0.00756637578986666) < 1e-12);
    assert.ok(Math.abs((expected[30] ?? 0) - 0.014022300352363066) < 1e-12);
    const observed = expected.map(() => 0);
    for (let i = 0; i < N; i++) {
      const k = random.poisson(lambda);
      observed[k <= 25 ? 0 : k >= 55 ? 30 : k - 25]! += 1;
    }
    const chi2 = observed.reduce(
      (s, o, i) => s + (o - N * (expected[i] ?? 0)) ** 2 / (N * (expected[i] ?? 0)),
      0,
    );
    // 59.70 is the 0.999 quantile of chi-square with 30 degrees of freedom (scipy.stats.chi2.ppf).
    assert.ok(chi2 < 59.7, `chi-square ${chi2}`);
  });

  test("poisson(2.5) puts exp(-2.5) of its mass on zero and none below", () => {
    const xs = sample(N, () => random.poisson(2.5));
    const p0 = Math.exp(-2.5);
    assertNear(xs.filter((x) => x === 0).length / N, p0, Math.sqrt((p0 * (1 - p0)) / N), "P(0)");
    assert.equal(random.poisson(0), 0);
    assert.throws(() => random.poisson(-1), RangeError);
  });

  test("bernoulli(p) is 1 with probability p", () => {
    const xs = sample(N, () => random.bernoulli(0.03));
    assert.ok(xs.every((x) => x === 0 || x === 1));
    assertNear(mean(xs), 0.03, Math.sqrt((0.03 * 0.97) / N), "mean");
    assert.ok(sample(1000, () => random.bernoulli(0)).every((x) => x === 0));
    assert.ok(sample(1000, () => random.bernoulli(1)).every((x) => x === 1));
  });

  test("categorical follows its weights and never picks a zero weight", () => {
    const weights = [1, 2, 0, 7];
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) counts[random.categorical(weights)]! += 1;
    assert.equal(counts[2], 0);
    for (const [i, w] of weights.entries()) {
      const p = w / 10;
      assertNear(counts[i]! / N, p, Math.sqrt((p * (1 - p)) / N) || 1e-12, `P(${i})`);
    }
    assert.throws(() => random.categorical([0, 0]), RangeError);
    assert.throws(() => random.categorical([1, -1]), RangeError);
  });

  test("int(lo, hi) covers both ends, evenly (chi-square)", () => {
    const counts = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const k = random.int(-2, 7);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    assert.deepEqual(
      [...counts.keys()].sort((a, b) => a - b),
      [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7],
    );
    const expected = N / 10;
    const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 27.88 is the 0.999 quantile of chi-square with 9 degrees of freedom.
    assert.ok(chi2 < 27.88, `chi-square ${chi2}`);
    assert.equal(random.int(5, 5), 5);
    assert.throws(() => random.int(3, 2), RangeError);
    assert.throws(() => random.int(0.5, 2), RangeError);
  });
});
