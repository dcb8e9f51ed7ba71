/**
 * Unconstrained minimisation by BFGS with a backtracking (Armijo) line search, for the maximum
 * likelihood fits in markets/ (GARCH, Markov switching). Bounds are the caller's business, by
 * reparametrisation (exp for a positive number, a logistic or softmax for probabilities).
 *
 * Why not a package: the npm candidates are either for least squares (ml-levenberg-marquardt)
 * or unmaintained and untyped (`fmin` 0.0.4, `numeric` 1.2.6, last published years ago), and a
 * likelihood fit with a few parameters needs only this much: a quasi-Newton step, a safe line
 * search that treats NaN/Infinity as "too far", and an honest report of how it stopped.
 */

export type Objective = (x: Float64Array) => number;

export interface MinimizeOptions {
  /** Gradient; central finite differences when absent. */
  readonly gradient?: (x: Float64Array) => Float64Array;
  readonly maxIterations?: number;
  /** Stop when the largest |gradient| component is below this. */
  readonly gradientTolerance?: number;
  /** Stop when f improves by less than this, relatively, over an iteration (twice in a row). */
  readonly relativeTolerance?: number;
}

export interface MinimizeResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly gradient: Float64Array;
  readonly iterations: number;
  readonly evaluations: number;
  readonly converged: boolean;
  /** Why it stopped, in words: shown to a person when the fit did not converge. */
  readonly reason: string;
}

const DEFAULTS = { maxIterations: 500, gradientTolerance: 1e-6, relativeTolerance: 1e-12 };

/** Central differences, with a step scaled to each coordinate. */
export function numericGradient(f: Objective, x: Float64Array, fx?: number): Float64Array {
  const g = new Float64Array(x.length);
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    const h = 1e-6 * Math.max(1, Math.abs(xi));
    probe[i] = xi + h;
    const up = f(probe);
    probe[i] = xi - h;
    const down = f(probe);
    probe[i] = xi;
    if (Number.isFinite(up) && Number.isFinite(down)) g[i] = (up - down) / (2 * h);
    else if (fx !== undefined && Number.isFinite(up)) g[i] = (up - fx) / h;
    else if (fx !== undefined && Number.isFinite(down)) g[i] = (fx - down) / h;
    else g[i] = Number.NaN;
  }
  return g;
}

export function minimizeBfgs(
  f: Objective,
  start: ArrayLike<number>,
  options: MinimizeOptions = {},
): MinimizeResult {
  const maxIterations = options.maxIterations ?? DEFAULTS.maxIterations;
  const gtol = options.gradientTolerance ?? DEFAULTS.gradientTolerance;
  const rtol = options.relativeTolerance ?? DEFAULTS.relativeTolerance;
  const n = start.length;
  let evaluations = 0;
  const value = (x: Float64Array): number => {
    evaluations++;
    const v = f(x);
    return Number.isNaN(v) ? Number.POSITIVE_INFINITY : v;
  };
  const grad = (x: Float64Array, fx: number): Float64Array =>
    options.gradient !== undefined ? options.gradient(x) : numericGradient(value, x, fx);

  let x = Float64Array.from(start);
  let fx = value(x);
  if (!Number.isFinite(fx)) {
    return done(x, fx, new Float64Array(n), 0, false, "the objective is not finite at the start");
  }
  let g = grad(x, fx);
  // Inverse Hessian approximation, row-major n x n; the identity until the first step scales it.
  let H = identity(n);
  let smallSteps = 0;

  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    if (!g.every(Number.isFinite)) return done(x, fx, g, iteration - 1, false, "the gradient is not finite");
    if (maxAbs(g) < gtol) return done(x, fx, g, iteration - 1, true, "gradient below tolerance");
    let direction = times(H, g).map((v) => -v);
    let slope = dot(direction, g);
    if (!(slope < 0)) {
      // H lost positive definiteness (rounding): restart from steepest descent.
      H = identity(n);
      direction = g.map((v) => -v);
      slope = dot(direction, g);
    }
    // The first step is at most 1 long: the identity knows nothing of the scale.
    let step = iteration === 1 ? Math.min(1, 1 / Math.max(1e-12, Math.sqrt(dot(direction, direction)))) : 1;
    let next = x;
    let fnext = fx;
    let accepted = false;
    for (let tries = 0; tries < 60; tries++) {
      next = x.map((xi, i) => xi + step * (direction[i] as number));
      fnext = value(next);
      if (Number.isFinite(fnext) && fnext <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= Number.isFinite(fnext) ? quadraticShrink(fx, slope, step, fnext) : 0.2;
    }
    if (!accepted) {
      return done(x, fx, g, iteration, maxAbs(g) < 1e3 * gtol, "the line search found no lower point");
    }
    const gnext = grad(next, fnext);
    const s = next.map((v, i) => v - (x[i] as number));
    const y = gnext.map((v, i) => v - (g[i] as number));
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (iteration === 1) H = scaled(identity(n), sy / dot(y, y));
      H = bfgsUpdate(H, s, y, sy);
    }
    const improvement = (fx - fnext) / Math.max(1, Math.abs(fx));
    x = next;
    fx = fnext;
    g = gnext;
    smallSteps = improvement < rtol ? smallSteps + 1 : 0;
    if (smallSteps >= 2) return done(x, fx, g, iteration, true, "the objective stopped improving");
  }
  return done(x, fx, g, maxIterations, false, `no convergence in ${maxIterations} iterations`);

  function done(
    x: Float64Array,
    f: number,
    gradient: Float64Array,
    iterations: number,
    converged: boolean,
    reason: string,
  ): MinimizeResult {
    return { x, f, gradient, iterations, evaluations, converged, reason };
  }
}

/** The minimiser of the quadratic through f(0), f'(0) and f(step), as a fraction of step, kept in [0.1, 0.5]. */
function quadraticShrink(f0: number, slope: number, step: number, fstep: number): number {
  const curvature = fstep - f0 - slope * step;
  if (curvature <= 0) return 0.5;
  const best = (-slope * step * step) / (2 * curvature);
  return Math.min(0.5, Math.max(0.1, best / step));
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function scaled(m: Float64Array, by: number): Float64Array {
  return m.map((v) => v * by);
}

function times(m: Float64Array, v: Float64Array): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) sum += (m[i * n + j] as number) * (v[j] as number);
    out[i] = sum;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (const x of v) m = Math.max(m, Math.abs(x));
  return m;
}

/** H+ = (I - rho s y') H (I - rho y s') + rho s s', rho = 1 / s'y (Nocedal & Wright, 6.17). */
function bfgsUpdate(H: Float64Array, s: Float64Array, y: Float64Array, sy: number): Float64Array {
  const n = s.length;
  const rho = 1 / sy;
  const Hy = times(H, y);
  const yHy = dot(y, Hy);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const si = s[i] as number;
      const sj = s[j] as number;
      out[i * n + j] =
        (H[i * n + j] as number) -
        rho * ((Hy[i] as number) * sj + si * (Hy[j] as number)) +
        (rho * rho * yHy + rho) * si * sj;
    }
  }
  return out;
}

/**
 * The Hessian of f at x by central differences of f (for standard errors of a maximum
 * likelihood estimate: the inverse of the Hessian of the negative log-likelihood).
 */
export function numericHessian(f: Objective, x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const p = Float64Array.from(x);
  const h = Array.from(p, (v) => 1e-4 * Math.max(1, Math.abs(v)));
  const H = new Float64Array(n * n);
  const at = (i: number, di: number, j: number, dj: number): number => {
    const xi = p[i] as number;
    const xj = p[j] as number;
    p[i] = xi + di;
    p[j] = (i === j ? xi + di : xj) + dj;
    const v = f(p);
    p[i] = xi;
    p[j] = xj;
    return v;
  };
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const hi = h[i] as number;
      const hj = h[j] as number;
      const v =
        (at(i, hi, j, hj) - at(i, hi, j, -hj) - at(i, -hi, j, hj) + at(i, -hi, j, -hj)) / (4 * hi * hj);
      H[i * n + j] = v;
      H[j * n + i] = v;
    }
  }
  return H;
}

/** Inverse of a symmetric positive-definite matrix by Cholesky; undefined when it is not. */
export function invertSymmetric(m: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = m[i * n + j] as number;
      for (let k = 0; k < j; k++) sum -= (L[i * n + k] as number) * (L[j * n + k] as number);
      if (i === j) {
        if (!(sum > 0)) return undefined;
        L[i * n + i] = Math.sqrt(sum);
      } else L[i * n + j] = sum / (L[j * n + j] as number);
    }
  }
  const inv = new Float64Array(n * n);
  for (let col = 0; col < n; col++) {
    // Solve L z = e_col, then L' x = z.
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let sum = i === col ? 1 : 0;
      for (let k = 0; k < i; k++) sum -= (L[i * n + k] as number) * (z[k] as number);
      z[i] = sum / (L[i * n + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      let sum = z[i] as number;
      for (let k = i + 1; k < n; k++) sum -= (L[k * n + i] as number) * (inv[k * n + col] as number);
      inv[i * n + col] = sum / (L[i * n + i] as number);
    }
  }
  return inv;
}
