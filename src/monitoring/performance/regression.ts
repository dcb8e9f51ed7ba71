/**
 * Realised error of a regression model over one window: MAE and RMSE over the rows whose actual
 * value has arrived, as running sums that merge associatively in constant memory. Labels may
 * come late (`add(prediction, null)` then `label(prediction, actual)`) or be replaced
 * (`relabel`). Sums are plain floating point: merged windows agree with one big window to
 * rounding (relative 1e-12 or so), not bit for bit.
 */
import { conflict, invalid } from "../../domain/errors.js";

export type RegressionMetricName = "coverage" | "mae" | "rmse" | "meanError";

export interface RegressionMetrics {
  readonly count: number;
  readonly labelled: number;
  readonly coverage: number | null;
  /** mean |prediction − actual| */
  readonly mae: number | null;
  /** sqrt(mean (prediction − actual)²) */
  readonly rmse: number | null;
  /** mean (prediction − actual): positive when the model over-predicts. */
  readonly meanError: number | null;
  readonly reasons: Partial<Record<RegressionMetricName, string>>;
}

export interface RegressionState {
  readonly kind: "regression";
  readonly count: number;
  readonly labelled: number;
  readonly sumError: number;
  readonly sumAbsError: number;
  readonly sumSquaredError: number;
}

function checkFinite(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw invalid(`${what} must be a finite number; got ${String(value)}`, { [what]: value });
  }
}

export class RegressionAccumulator {
  private count = 0;
  private labelled = 0;
  private sumError = 0;
  private sumAbsError = 0;
  private sumSquaredError = 0;

  add(prediction: number, actual: number | null = null): void {
    checkFinite(prediction, "prediction");
    if (actual !== null) checkFinite(actual, "actual");
    this.count += 1;
    if (actual !== null) this.include(prediction - actual, 1);
  }

  /** The actual value of an earlier prediction has arrived. */
  label(prediction: number, actual: number): void {
    checkFinite(prediction, "prediction");
    checkFinite(actual, "actual");
    if (this.labelled >= this.count) {
      throw conflict(
        "no unlabelled prediction in this window to label; add the prediction before its label",
        {
          prediction,
        },
      );
    }
    this.include(prediction - actual, 1);
  }

  /** An actual value was replaced (the last feedback wins). */
  relabel(prediction: number, previous: number, actual: number): void {
    checkFinite(prediction, "prediction");
    checkFinite(previous, "previous");
    checkFinite(actual, "actual");
    if (this.labelled === 0) {
      throw conflict("no labelled prediction in this window to relabel", { prediction, previous });
    }
    this.include(prediction - previous, -1);
    this.include(prediction - actual, 1);
  }

  merge(other: RegressionAccumulator): RegressionAccumulator {
    const out = this.clone();
    out.count += other.count;
    out.labelled += other.labelled;
    out.sumError += other.sumError;
    out.sumAbsError += other.sumAbsError;
    out.sumSquaredError += other.sumSquaredError;
    return out;
  }

  clone(): RegressionAccumulator {
    return RegressionAccumulator.fromJSON(this.toJSON());
  }

  metrics(): RegressionMetrics {
    const reasons: Partial<Record<RegressionMetricName, string>> = {};
    if (this.count === 0) reasons.coverage = "no predictions in this window";
    const n = this.labelled;
    if (n === 0) {
      reasons.mae = "no labelled rows";
      reasons.rmse = "no labelled rows";
      reasons.meanError = "no labelled rows";
    }
    return {
      count: this.count,
      labelled: n,
      coverage: this.count === 0 ? null : n / this.count,
      mae: n === 0 ? null : Math.max(0, this.sumAbsError) / n,
      // A relabel subtracts a square; rounding must not push the sum below zero.
      rmse: n === 0 ? null : Math.sqrt(Math.max(0, this.sumSquaredError) / n),
      meanError: n === 0 ? null : this.sumError / n,
      reasons,
    };
  }

  toJSON(): RegressionState {
    return {
      kind: "regression",
      count: this.count,
      labelled: this.labelled,
      sumError: this.sumError,
      sumAbsError: this.sumAbsError,
      sumSquaredError: this.sumSquaredError,
    };
  }

  static fromJSON(state: RegressionState): RegressionAccumulator {
    if (state === null || typeof state !== "object" || state.kind !== "regression") {
      throw invalid('regression state must be an object with kind "regression"');
    }
    for (const key of ["count", "labelled"] as const) {
      if (!Number.isSafeInteger(state[key]) || state[key] < 0) {
        throw invalid(`regression state: ${key} must be a non-negative integer; got ${String(state[key])}`);
      }
    }
    if (state.labelled > state.count) {
      throw invalid(`regression state: labelled (${state.labelled}) exceeds count (${state.count})`);
    }
    checkFinite(state.sumError, "sumError");
    checkFinite(state.sumAbsError, "sumAbsError");
    checkFinite(state.sumSquaredError, "sumSquaredError");
    const out = new RegressionAccumulator();
    out.count = state.count;
    out.labelled = state.labelled;
    out.sumError = state.sumError;
    out.sumAbsError = state.sumAbsError;
    out.sumSquaredError = state.sumSquaredError;
    return out;
  }

  private include(error: number, sign: 1 | -1): void {
    this.labelled += sign;
    this.sumError += sign * error;
    this.sumAbsError += sign * Math.abs(error);
    this.sumSquaredError += sign * error * error;
  }
}
