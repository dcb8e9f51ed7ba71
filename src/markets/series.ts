/**
 * The checks every fit makes on its series before estimating anything, so that a bad series
 * is refused with the row and the reason rather than fitted into nonsense: a NaN or an
 * Infinity (named by its row, 1-based), too few points (naming the minimum), a constant series.
 */
import { invalid } from "../domain/errors.js";

export interface SeriesCheck {
  /** What is being fitted, for the message ("GARCH(1,1)", "a 2-regime Markov switching model"). */
  readonly model: string;
  /** The fewest points the model accepts. */
  readonly minimum: number;
  /** How a row is named in messages; row i (0-based) is "row i+1" by default. */
  readonly rowName?: (index: number) => string;
}

export function checkSeries(values: ArrayLike<number>, check: SeriesCheck): Float64Array {
  const name = check.rowName ?? ((i: number) => `row ${i + 1}`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) {
      throw invalid(`${name(i)}: ${String(v)} is not a finite number; ${check.model} needs finite returns`, {
        row: i + 1,
      });
    }
  }
  if (values.length < check.minimum) {
    throw invalid(`${check.model} needs at least ${check.minimum} points, got ${values.length}`, {
      minimum: check.minimum,
      n: values.length,
    });
  }
  const first = values[0] as number;
  let constant = true;
  for (let i = 1; i < values.length && constant; i++) constant = values[i] === first;
  if (constant)
    throw invalid(`the series is constant (every value is ${first}); ${check.model} cannot be fitted`);
  return Float64Array.from(values);
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] as number;
  return sum / values.length;
}

/** Population variance (divided by n). */
export function variance(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += ((values[i] as number) - m) ** 2;
  return sum / values.length;
}
