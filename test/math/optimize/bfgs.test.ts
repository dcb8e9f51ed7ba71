// BFGS on Rosenbrock (known minimum) and on a likelihood whose maximum has a closed form.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { invertSymmetric, minimizeBfgs, numericHessian } from "../../../src/math/optimize/bfgs.js";

const rosenbrock = (x: Float64Array): number => {
  const a = x[0] as number;
  const b = x[1] as number;
  return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
};

describe("minimizeBfgs", () => {
  test("finds Rosenbrock's minimum at (1, 1) from (-1.2, 1), numeric gradient", () => {
    const result = minimizeBfgs(rosenbrock, [-1.2, 1]);
    assert.ok(result.converged, result.reason);
    assert.ok(Math.abs((result.x[0] as number) - 1) < 1e-5, `x = ${result.x}`);
    assert.ok(Math.abs((result.x[1] as number) - 1) < 1e-5, `y = ${result.x}`);
  });

  test("with an analytic gradient too", () => {
    const gradient = (x: Float64Array): Float64Array => {
      const a = x[0] as number;
      const b = x[1] as number;
      return Float64Array.of(-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a));
    };
    const result = minimizeBfgs(rosenbrock, [-1.2, 1], { gradient, gradientTolerance: 1e-9 });
    assert.ok(result.converged, result.reason);
    assert.ok(Math.abs((result.x[0] as number) - 1) < 1e-7);
  });

  test("the Gaussian MLE: mean and (biased) variance of the sample, and its standard errors", () => {
    const data = [2.1, -0.3, 1.7, 0.4, 3.3, 1.1, -1.2, 0.9, 2.6, 1.4];
    const n = data.length;
    const mean = data.reduce((a, b) => a + b, 0) / n;
    const variance = data.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    // parameters: mu, log sigma^2 (the reparametrisation keeps the variance positive)
    const nll = (p: Float64Array): number => {
      const mu = p[0] as number;
      const s2 = Math.exp(p[1] as number);
      return data.reduce((acc, y) => acc + 0.5 * (Math.log(2 * Math.PI * s2) + (y - mu) ** 2 / s2), 0);
    };
    const result = minimizeBfgs(nll, [0, 0]);
    assert.ok(result.converged, result.reason);
    assert.ok(Math.abs((result.x[0] as number) - mean) < 1e-6);
    assert.ok(Math.abs(Math.exp(result.x[1] as number) - variance) < 1e-6);
    // the observed information of mu is n / sigma^2, so se(mu) = sigma / sqrt(n)
    const cov = invertSymmetric(numericHessian(nll, result.x), 2);
    assert.ok(cov !== undefined);
    assert.ok(Math.abs(Math.sqrt(cov[0] as number) - Math.sqrt(variance / n)) < 1e-5);
  });

  test("an objective that is not finite at the start is reported, not run", () => {
    const result = minimizeBfgs(() => Number.NaN, [0]);
    assert.equal(result.converged, false);
    assert.match(result.reason, /not finite at the start/);
  });

  test("an iteration cap is reported as non-convergence with the state reached", () => {
    const result = minimizeBfgs(rosenbrock, [-1.2, 1], { maxIterations: 3 });
    assert.equal(result.converged, false);
    assert.match(result.reason, /no convergence in 3 iterations/);
    assert.ok(result.f < rosenbrock(Float64Array.of(-1.2, 1)));
  });

  test("Infinity outside the domain is stepped back from", () => {
    // minimum at x = 0.5 of x log x - x... with x <= 0 infeasible
    const f = (p: Float64Array): number => {
      const x = p[0] as number;
      return x <= 0 ? Number.POSITIVE_INFINITY : x * Math.log(x) - x * Math.log(0.5) - x;
    };
    const result = minimizeBfgs(f, [3]);
    assert.ok(result.converged, result.reason);
    assert.ok(Math.abs((result.x[0] as number) - 0.5) < 1e-6, `x = ${result.x}`);
  });
});
