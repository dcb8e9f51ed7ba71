/**
 * An isotonic calibrator: maps a classifier's score to the probability of the positive class
 * observed for that score on a labelled reference, constrained to be non-decreasing in the
 * score. Fitted by pool-adjacent-violators and applied by linear interpolation between its
 * knots, clipped outside the reference's score range — the same function as
 * sklearn.isotonic.IsotonicRegression(y_min=0, y_max=1, increasing=True, out_of_bounds="clip"),
 * checked against it to 1e-9 on the fixtures. Chosen over histogram binning because it has no
 * bin count to tune and keeps the model's ranking (it is monotone).
 *
 * The calibrator is a plain JSON value, stored with the reference profile.
 */
import { invalid } from "../../domain/errors.js";
import { checkBinaryLabel, checkScore } from "./score-grid.js";

export interface IsotonicCalibration {
  readonly kind: "isotonic";
  /** Knot scores, strictly increasing; interior points of flat runs are dropped. */
  readonly x: readonly number[];
  /** Calibrated probability at each knot, non-decreasing, in [0, 1]. */
  readonly y: readonly number[];
  /** Labelled reference rows it was fitted on. */
  readonly rows: number;
}

/**
 * sklearn merges reference scores closer than float64 resolution (1e-15) into one point before
 * pooling; done here too so the knots agree even for scores that differ only by rounding.
 */
const SAME_SCORE = 1e-15;

export function fitIsotonicCalibration(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
): IsotonicCalibration {
  if (scores.length !== labels.length) {
    throw invalid(
      `calibration needs one label per score; got ${scores.length} scores and ${labels.length} labels`,
    );
  }
  if (scores.length === 0) throw invalid("cannot calibrate on an empty reference: it needs labelled rows");
  scores.forEach((s) => checkScore(s));
  labels.forEach((y) => checkBinaryLabel(y, false));

  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  // Unique scores, each with its mean label and its weight (number of rows).
  const xs: number[] = [];
  const means: number[] = [];
  const weights: number[] = [];
  let groupX = Number.NaN;
  let sum = 0;
  let weight = 0;
  for (const i of order) {
    const s = scores[i] as number;
    if (weight > 0 && s - groupX >= SAME_SCORE) {
      xs.push(groupX);
      means.push(sum / weight);
      weights.push(weight);
      sum = 0;
      weight = 0;
    }
    if (weight === 0) groupX = s;
    sum += labels[i] as number;
    weight += 1;
  }
  xs.push(groupX);
  means.push(sum / weight);
  weights.push(weight);

  const fitted = poolAdjacentViolators(means, weights);
  // Keep the ends and every point where the fitted value changes on either side.
  const kx: number[] = [];
  const ky: number[] = [];
  for (let i = 0; i < fitted.length; i++) {
    const y = fitted[i] as number;
    const interior = i > 0 && i < fitted.length - 1;
    if (interior && y === fitted[i - 1] && y === fitted[i + 1]) continue;
    kx.push(xs[i] as number);
    ky.push(Math.min(1, Math.max(0, y)));
  }
  return { kind: "isotonic", x: kx, y: ky, rows: scores.length };
}

/** Weighted least-squares non-decreasing fit: merge neighbouring blocks while they violate order. */
function poolAdjacentViolators(values: readonly number[], weights: readonly number[]): number[] {
  const blockValue: number[] = [];
  const blockWeight: number[] = [];
  const blockSize: number[] = [];
  for (let i = 0; i < values.length; i++) {
    let v = values[i] as number;
    let w = weights[i] as number;
    let size = 1;
    while (blockValue.length > 0 && (blockValue[blockValue.length - 1] as number) >= v) {
      const pw = blockWeight.pop() as number;
      const pv = blockValue.pop() as number;
      size += blockSize.pop() as number;
      v = (pv * pw + v * w) / (pw + w);
      w += pw;
    }
    blockValue.push(v);
    blockWeight.push(w);
    blockSize.push(size);
  }
  const out: number[] = [];
  blockValue.forEach((v, b) => {
    for (let j = 0; j < (blockSize[b] as number); j++) out.push(v);
  });
  return out;
}

/** Calibrated probability of the positive class for one score. */
export function calibrate(calibration: IsotonicCalibration, score: number): number {
  checkScore(score);
  const { x, y } = calibration;
  const n = x.length;
  if (n === 1) return y[0] as number;
  if (score <= (x[0] as number)) return y[0] as number;
  if (score >= (x[n - 1] as number)) return y[n - 1] as number;
  // First knot >= score (scipy's interp1d searches the same way).
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((x[mid] as number) < score) lo = mid + 1;
    else hi = mid;
  }
  const x0 = x[lo - 1] as number;
  const y0 = y[lo - 1] as number;
  const slope = ((y[lo] as number) - y0) / ((x[lo] as number) - x0);
  return slope * (score - x0) + y0;
}

/** Validates a stored calibrator (e.g. read back from a reference profile). */
export function parseIsotonicCalibration(value: unknown): IsotonicCalibration {
  if (value === null || typeof value !== "object") throw invalid("calibration must be an object");
  const v = value as Record<string, unknown>;
  if (v.kind !== "isotonic")
    throw invalid(`calibration kind must be "isotonic"; got ${JSON.stringify(v.kind)}`);
  const { x, y, rows } = v;
  if (!Array.isArray(x) || !Array.isArray(y) || x.length === 0 || x.length !== y.length) {
    throw invalid("calibration x and y must be non-empty arrays of the same length");
  }
  x.forEach((s, i) => {
    checkScore(s as number, "calibration x");
    if (i > 0 && !((s as number) > (x[i - 1] as number))) {
      throw invalid(
        `calibration x must be strictly increasing; x[${i}] = ${String(s)} follows ${String(x[i - 1])}`,
      );
    }
  });
  y.forEach((p, i) => {
    checkScore(p as number, "calibration y");
    if (i > 0 && (p as number) < (y[i - 1] as number)) {
      throw invalid(
        `calibration y must be non-decreasing; y[${i}] = ${String(p)} follows ${String(y[i - 1])}`,
      );
    }
  });
  if (!Number.isSafeInteger(rows) || (rows as number) < 1) {
    throw invalid(`calibration rows must be a positive integer; got ${String(rows)}`);
  }
  return { kind: "isotonic", x: [...(x as number[])], y: [...(y as number[])], rows: rows as number };
}

export function sameCalibration(a: IsotonicCalibration, b: IsotonicCalibration): boolean {
  if (a === b) return true;
  if (a.x.length !== b.x.length || a.rows !== b.rows) return false;
  return a.x.every((v, i) => v === b.x[i] && a.y[i] === b.y[i]);
}
