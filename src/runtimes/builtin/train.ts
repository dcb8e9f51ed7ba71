/**
 * Trainers for the builtin kinds. Both are exact solvers rather than gradient descent, so a
 * retrain on the same data gives the same model to the last digit.
 *
 * Regularisation follows scikit-learn's conventions so numbers can be compared:
 * - logistic: minimise Σᵢ logloss(yᵢ, b + w·xᵢ) + (l2 / 2)·‖w‖²  (sklearn C = 1 / l2)
 * - linear:   minimise Σᵢ (yᵢ − b − w·xᵢ)² + l2·‖w‖²             (sklearn Ridge alpha = l2)
 * The intercept b is never penalised. With `standardize`, features are scaled to mean 0 and
 * (population) standard deviation 1 first, the weights apply to the scaled features, and the
 * scaling is stored in the model; a constant column keeps std 1.
 */
import { invalid } from "../../domain/errors.js";
import { solveCholesky } from "./cholesky.js";
import { sigmoid } from "./score.js";
import { BUILTIN_FORMAT, parseBuiltinModel, type LinearBuiltinModel, type Scaling } from "./format.js";

export interface TrainOptions {
  /** Names of the columns of x, in order. */
  readonly features: readonly string[];
  /** L2 penalty on the weights; default 1 for logistic (as sklearn's C = 1), 0 for linear. */
  readonly l2?: number;
  /** Newton iterations before giving up (logistic only); default 100. */
  readonly maxIterations?: number;
  /** Converged when no parameter moves more than this in a step (logistic only); default 1e-10. */
  readonly tolerance?: number;
  /** Scale features to mean 0, std 1 before fitting; default false. */
  readonly standardize?: boolean;
}

/** Features as a row-major matrix, scaled when asked. */
interface Design {
  readonly z: Float64Array;
  readonly rows: number;
  readonly columns: number;
  readonly scaling: Scaling | undefined;
}

function checkData(
  x: readonly (readonly number[])[],
  y: readonly number[],
  features: readonly string[],
): void {
  if (features.length === 0) throw invalid("features must name at least one column", { field: "features" });
  if (x.length === 0) throw invalid("no training rows: x is empty", { field: "x" });
  if (y.length !== x.length) {
    throw invalid(`y has ${y.length} labels but x has ${x.length} rows`, { field: "y" });
  }
  x.forEach((row, i) => {
    if (row.length !== features.length) {
      throw invalid(`x row ${i} has ${row.length} values but features has ${features.length}`, { row: i });
    }
    row.forEach((v, j) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw invalid(
          `x row ${i}, column '${features[j]}' (index ${j}) is ${v}; training data must be finite`,
          {
            row: i,
            column: features[j],
          },
        );
      }
    });
  });
  y.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw invalid(`y row ${i} is ${v}; labels must be finite`, { row: i, column: "y" });
    }
  });
}

function checkL2(l2: number): number {
  if (!Number.isFinite(l2) || l2 < 0)
    throw invalid(`l2 must be a finite number >= 0, not ${l2}`, { field: "l2" });
  return l2;
}

function design(x: readonly (readonly number[])[], standardize: boolean): Design {
  const rows = x.length;
  const columns = x[0]?.length ?? 0;
  const z = new Float64Array(rows * columns);
  x.forEach((row, i) => z.set(row, i * columns));
  if (!standardize) return { z, rows, columns, scaling: undefined };

  const mean = new Array<number>(columns).fill(0);
  const std = new Array<number>(columns).fill(0);
  for (let j = 0; j < columns; j++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += z[i * columns + j] as number;
    const m = sum / rows;
    let squares = 0;
    for (let i = 0; i < rows; i++) squares += ((z[i * columns + j] as number) - m) ** 2;
    const s = Math.sqrt(squares / rows);
    mean[j] = m;
    std[j] = s > 0 ? s : 1;
    for (let i = 0; i < rows; i++)
      z[i * columns + j] = ((z[i * columns + j] as number) - m) / (std[j] as number);
  }
  return { z, rows, columns, scaling: { mean, std } };
}

/** log(1 + e^z) without overflow. */
const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** θ = [intercept, w₁ … wₙ]. */
function scoresOf(d: Design, theta: Float64Array): Float64Array {
  const scores = new Float64Array(d.rows);
  for (let i = 0; i < d.rows; i++) {
    let s = theta[0] as number;
    for (let j = 0; j < d.columns; j++) s += (theta[j + 1] as number) * (d.z[i * d.columns + j] as number);
    scores[i] = s;
  }
  return scores;
}

function logisticObjective(d: Design, y: readonly number[], theta: Float64Array, l2: number): number {
  const scores = scoresOf(d, theta);
  let total = 0;
  for (let i = 0; i < d.rows; i++)
    total += softplus(scores[i] as number) - (y[i] as number) * (scores[i] as number);
  for (let j = 1; j <= d.columns; j++) total += (l2 / 2) * (theta[j] as number) ** 2;
  return total;
}

/**
 * Logistic regression by Newton–Raphson (iteratively reweighted least squares), with step
 * halving in the rare case a full step would increase the objective.
 */
export function trainLogisticRegression(
  x: readonly (readonly number[])[],
  y: readonly number[],
  options: TrainOptions,
): LinearBuiltinModel {
  const { features, standardize = false } = options;
  checkData(x, y, features);
  const l2 = checkL2(options.l2 ?? 1);
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-10;
  if (!Number.isSafeInteger(maxIterations) || maxIterations < 1) {
    throw invalid(`maxIterations must be a positive integer, not ${maxIterations}`, {
      field: "maxIterations",
    });
  }
  if (!(tolerance > 0) || !Number.isFinite(tolerance)) {
    throw invalid(`tolerance must be a positive number, not ${tolerance}`, { field: "tolerance" });
  }
  y.forEach((v, i) => {
    if (v !== 0 && v !== 1) {
      throw invalid(`y row ${i} is ${v}; logistic regression needs labels 0 or 1`, { row: i, column: "y" });
    }
  });
  if (!y.includes(0) || !y.includes(1)) {
    throw invalid(`every label is ${y[0]}; logistic regression needs rows of both classes`, { field: "y" });
  }

  const d = design(x, standardize);
  const p = d.columns + 1;
  let theta = new Float64Array(p);
  let objective = logisticObjective(d, y, theta, l2);
  let iterations = 0;
  let converged = false;

  while (iterations < maxIterations && !converged) {
    iterations += 1;
    const scores = scoresOf(d, theta);
    const gradient = new Float64Array(p);
    const hessian = new Float64Array(p * p);
    for (let i = 0; i < d.rows; i++) {
      const prob = sigmoid(scores[i] as number);
      const residual = prob - (y[i] as number);
      const weight = prob * (1 - prob);
      for (let a = 0; a < p; a++) {
        const za = a === 0 ? 1 : (d.z[i * d.columns + a - 1] as number);
        gradient[a] = (gradient[a] as number) + residual * za;
        for (let b = 0; b <= a; b++) {
          const zb = b === 0 ? 1 : (d.z[i * d.columns + b - 1] as number);
          hessian[a * p + b] = (hessian[a * p + b] as number) + weight * za * zb;
        }
      }
    }
    for (let a = 1; a < p; a++) {
      gradient[a] = (gradient[a] as number) + l2 * (theta[a] as number);
      hessian[a * p + a] = (hessian[a * p + a] as number) + l2;
    }
    for (let a = 0; a < p; a++)
      for (let b = a + 1; b < p; b++) hessian[a * p + b] = hessian[b * p + a] as number;

    const step = solveCholesky(hessian, gradient, p);
    if (step === null) {
      throw invalid(
        "logistic regression cannot be fitted: the features are collinear or the classes are perfectly " +
          "separated; set l2 > 0 or drop redundant features",
      );
    }
    let scale = 1;
    let candidate = theta.map((t, a) => t - (step[a] as number));
    let candidateObjective = logisticObjective(d, y, candidate, l2);
    // Rounding can nudge the objective up by a few ulps at the optimum; that is not a bad step.
    while (candidateObjective > objective + 1e-12 * Math.abs(objective) && scale > 1e-9) {
      scale /= 2;
      candidate = theta.map((t, a) => t - scale * (step[a] as number));
      candidateObjective = logisticObjective(d, y, candidate, l2);
    }
    const moved = step.reduce((m, s) => Math.max(m, Math.abs(scale * s)), 0);
    theta = candidate;
    objective = candidateObjective;
    converged = moved < tolerance;
  }
  if (!converged) {
    throw invalid(
      `logistic regression did not converge in ${maxIterations} iterations; the classes may be perfectly ` +
        "separable: set l2 > 0 or raise maxIterations",
      { field: "maxIterations" },
    );
  }

  // A linear kind parses to a linear model.
  return <LinearBuiltinModel>parseBuiltinModel({
    format: BUILTIN_FORMAT,
    kind: "logistic_regression",
    features: [...features],
    weights: Array.from(theta.subarray(1)),
    intercept: theta[0],
    ...(d.scaling === undefined ? {} : { scaling: d.scaling }),
    training: { algorithm: "newton-irls", rows: d.rows, l2, standardize, iterations, objective },
  });
}

/**
 * Least squares, or ridge when l2 > 0, by the normal equations on centred data (which leaves
 * the intercept unpenalised) and a Cholesky solve.
 */
export function trainLinearRegression(
  x: readonly (readonly number[])[],
  y: readonly number[],
  options: TrainOptions,
): LinearBuiltinModel {
  const { features, standardize = false } = options;
  checkData(x, y, features);
  const l2 = checkL2(options.l2 ?? 0);
  const d = design(x, standardize);
  const { rows, columns: n, z } = d;

  const columnMean = new Float64Array(n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) columnMean[j] = (columnMean[j] as number) + (z[i * n + j] as number) / rows;
  }
  const yMean = y.reduce((s, v) => s + v, 0) / rows;

  const gram = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  for (let i = 0; i < rows; i++) {
    const yc = (y[i] as number) - yMean;
    for (let a = 0; a < n; a++) {
      const za = (z[i * n + a] as number) - (columnMean[a] as number);
      rhs[a] = (rhs[a] as number) + za * yc;
      for (let b = 0; b <= a; b++) {
        gram[a * n + b] =
          (gram[a * n + b] as number) + za * ((z[i * n + b] as number) - (columnMean[b] as number));
      }
    }
  }
  for (let a = 0; a < n; a++) {
    gram[a * n + a] = (gram[a * n + a] as number) + l2;
    for (let b = a + 1; b < n; b++) gram[a * n + b] = gram[b * n + a] as number;
  }

  const weights = solveCholesky(gram, rhs, n);
  if (weights === null) {
    throw invalid(
      "linear regression cannot be fitted: the features are collinear or constant, or there are fewer " +
        "rows than features; set l2 > 0 or drop redundant features",
    );
  }
  const intercept = weights.reduce((b, w, j) => b - w * (columnMean[j] as number), yMean);

  let squares = 0;
  for (let i = 0; i < rows; i++) {
    let prediction = intercept;
    for (let j = 0; j < n; j++) prediction += (weights[j] as number) * (z[i * n + j] as number);
    squares += ((y[i] as number) - prediction) ** 2;
  }

  // A linear kind parses to a linear model.
  return <LinearBuiltinModel>parseBuiltinModel({
    format: BUILTIN_FORMAT,
    kind: "linear_regression",
    features: [...features],
    weights: Array.from(weights),
    intercept,
    ...(d.scaling === undefined ? {} : { scaling: d.scaling }),
    training: {
      algorithm: "normal-equations-cholesky",
      rows,
      l2,
      standardize,
      rmse: Math.sqrt(squares / rows),
    },
  });
}
