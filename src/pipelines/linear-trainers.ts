/**
 * The builtin linear trainers (src/runtimes/builtin/train.ts) made to stream: the same
 * objectives and the same exact solvers, but each Newton step or the normal equations
 * accumulate X'WX and X'Wz (O(d²) memory) in a pass over a design file, so a million rows
 * never sit in memory. On the same rows they give the in-memory trainers' model to rounding.
 */
import { invalid } from "../domain/errors.js";
import { solveCholesky } from "../runtimes/builtin/cholesky.js";
import { BUILTIN_FORMAT, parseBuiltinModel, type BuiltinModel } from "../runtimes/builtin/format.js";
import { passOver, type DesignFile } from "./design-file.js";

export interface StreamTrainOptions {
  readonly l2?: number;
  readonly standardize?: boolean;
  readonly maxIterations?: number;
  readonly tolerance?: number;
  readonly signal?: AbortSignal;
}

const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

interface Newton {
  objective: number;
  gradient: Float64Array;
  hessian: Float64Array;
}

/** Scaled feature j of a row: (x − mean) / std with standardize, else x. */
function scaler(design: DesignFile, standardize: boolean): { shift: Float64Array; scale: Float64Array } {
  const d = design.features.length;
  return {
    shift: standardize ? design.mean : new Float64Array(d),
    scale: standardize ? design.std : new Float64Array(d).fill(1),
  };
}

export async function streamLogisticRegression(
  design: DesignFile,
  options: StreamTrainOptions = {},
): Promise<BuiltinModel> {
  const l2 = options.l2 ?? 1;
  if (!(l2 >= 0) || !Number.isFinite(l2))
    throw invalid(`l2 must be a finite number >= 0, not ${l2}`, { field: "l2" });
  const standardize = options.standardize ?? true;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  const d = design.features.length;
  const p = d + 1;
  const { shift, scale } = scaler(design, standardize);
  const z = new Float64Array(p);
  z[0] = 1;

  const evaluate = async (theta: Float64Array): Promise<Newton> => {
    const gradient = new Float64Array(p);
    const hessian = new Float64Array(p * p);
    let objective = 0;
    await passOver(
      design,
      (chunk, rows) => {
        for (let i = 0; i < rows; i++) {
          const o = i * p;
          let s = theta[0] as number;
          for (let j = 0; j < d; j++) {
            const v = ((chunk[o + j] as number) - (shift[j] as number)) / (scale[j] as number);
            z[j + 1] = v;
            s += (theta[j + 1] as number) * v;
          }
          const y = chunk[o + d] as number;
          objective += softplus(s) - y * s;
          const prob = sigmoid(s);
          const residual = prob - y;
          const weight = prob * (1 - prob);
          for (let a = 0; a < p; a++) {
            const za = z[a] as number;
            gradient[a] = (gradient[a] as number) + residual * za;
            const wa = weight * za;
            for (let b = 0; b <= a; b++)
              hessian[a * p + b] = (hessian[a * p + b] as number) + wa * (z[b] as number);
          }
        }
      },
      options.signal,
    );
    for (let a = 1; a < p; a++) {
      objective += (l2 / 2) * (theta[a] as number) ** 2;
      gradient[a] = (gradient[a] as number) + l2 * (theta[a] as number);
      hessian[a * p + a] = (hessian[a * p + a] as number) + l2;
    }
    for (let a = 0; a < p; a++)
      for (let b = a + 1; b < p; b++) hessian[a * p + b] = hessian[b * p + a] as number;
    return { objective, gradient, hessian };
  };

  let theta = new Float64Array(p);
  let current = await evaluate(theta);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations += 1;
    const step = solveCholesky(current.hessian, current.gradient, p);
    if (step === null)
      throw invalid(
        "logistic regression cannot be fitted: the features are collinear or the classes are perfectly separated; set l2 > 0 or drop redundant features",
      );
    let scaleStep = 1;
    let candidate = theta.map((t, a) => t - (step[a] as number));
    let next = await evaluate(candidate);
    // Rounding can nudge the objective up by a few ulps at the optimum; that is not a bad step.
    while (next.objective > current.objective + 1e-12 * Math.abs(current.objective) && scaleStep > 1e-9) {
      scaleStep /= 2;
      candidate = theta.map((t, a) => t - scaleStep * (step[a] as number));
      next = await evaluate(candidate);
    }
    const moved = step.reduce((m, s) => Math.max(m, Math.abs(scaleStep * s)), 0);
    theta = candidate;
    current = next;
    converged = moved < tolerance;
  }
  if (!converged)
    throw invalid(
      `logistic regression did not converge in ${maxIterations} iterations; the classes may be perfectly separable: set l2 > 0 or raise maxIterations`,
      { field: "maxIterations" },
    );
  return parseBuiltinModel({
    format: BUILTIN_FORMAT,
    kind: "logistic_regression",
    features: [...design.features],
    weights: Array.from(theta.subarray(1)),
    intercept: theta[0],
    ...(standardize ? { scaling: { mean: Array.from(design.mean), std: Array.from(design.std) } } : {}),
    training: {
      algorithm: "newton-irls-streamed",
      rows: design.rows,
      l2,
      standardize,
      iterations,
      objective: current.objective,
    },
  });
}

export async function streamLinearRegression(
  design: DesignFile,
  options: StreamTrainOptions = {},
): Promise<BuiltinModel> {
  const l2 = options.l2 ?? 0;
  if (!(l2 >= 0) || !Number.isFinite(l2))
    throw invalid(`l2 must be a finite number >= 0, not ${l2}`, { field: "l2" });
  const standardize = options.standardize ?? true;
  const n = design.features.length;
  const { shift, scale } = scaler(design, standardize);
  // Centred on the column means (known from the first pass), which leaves the intercept unpenalised.
  const columnMean = new Float64Array(n);
  for (let j = 0; j < n; j++)
    columnMean[j] = ((design.mean[j] as number) - (shift[j] as number)) / (scale[j] as number);
  const yMean = design.labelMean;
  const gram = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  const zc = new Float64Array(n);
  await passOver(
    design,
    (chunk, rows) => {
      for (let i = 0; i < rows; i++) {
        const o = i * (n + 1);
        for (let j = 0; j < n; j++)
          zc[j] =
            ((chunk[o + j] as number) - (shift[j] as number)) / (scale[j] as number) -
            (columnMean[j] as number);
        const yc = (chunk[o + n] as number) - yMean;
        for (let a = 0; a < n; a++) {
          const za = zc[a] as number;
          rhs[a] = (rhs[a] as number) + za * yc;
          for (let b = 0; b <= a; b++) gram[a * n + b] = (gram[a * n + b] as number) + za * (zc[b] as number);
        }
      }
    },
    options.signal,
  );
  for (let a = 0; a < n; a++) {
    gram[a * n + a] = (gram[a * n + a] as number) + l2;
    for (let b = a + 1; b < n; b++) gram[a * n + b] = gram[b * n + a] as number;
  }
  const weights = solveCholesky(gram, rhs, n);
  if (weights === null)
    throw invalid(
      "linear regression cannot be fitted: the features are collinear or constant, or there are fewer rows than features; set l2 > 0 or drop redundant features",
    );
  const intercept = weights.reduce((b, w, j) => b - w * (columnMean[j] as number), yMean);
  return parseBuiltinModel({
    format: BUILTIN_FORMAT,
    kind: "linear_regression",
    features: [...design.features],
    weights: Array.from(weights),
    intercept,
    ...(standardize ? { scaling: { mean: Array.from(design.mean), std: Array.from(design.std) } } : {}),
    training: { algorithm: "normal-equations-streamed", rows: design.rows, l2, standardize },
  });
}
