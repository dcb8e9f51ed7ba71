/**
 * The optional `calibration` section of a reference profile: what CBPE needs to estimate a
 * probabilistic classifier's performance before its labels arrive. It is an isotonic map from
 * the model's score to P(positive), fitted on the reference rows that have both a score and a
 * label, so it belongs to the model version the reference describes.
 *
 * Size is bounded: scores are rounded to the 1e-4 grid the performance accumulators bucket by
 * before fitting, so there are at most 10 001 knots however large the reference (pool-adjacent-
 * violators usually leaves a few hundred).
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import {
  fitIsotonicCalibration,
  parseIsotonicCalibration,
  type IsotonicCalibration,
} from "../performance/isotonic.js";
import { SCORE_GRID } from "../performance/score-grid.js";

export interface ProfileCalibration {
  /** The reference column holding the model's score (P(positive)). */
  readonly score: string;
  /** The reference column holding the true label. */
  readonly label: string;
  /** Share of positive labels in the reference. */
  readonly prevalence: number;
  readonly isotonic: IsotonicCalibration;
}

/** Fits the section from paired scores and 0/1 labels (rows missing either are the caller's to drop). */
export function buildCalibration(
  columns: { score: string; label: string },
  scores: readonly number[],
  labels: readonly (0 | 1)[],
): ProfileCalibration {
  const rounded = scores.map((s) => Math.round(s * SCORE_GRID) / SCORE_GRID);
  const isotonic = fitIsotonicCalibration(rounded, labels);
  const positives = labels.reduce<number>((n, y) => n + y, 0);
  return { ...columns, prevalence: positives / labels.length, isotonic };
}

export function parseProfileCalibration(json: unknown, at = "profile.calibration"): ProfileCalibration {
  if (!isPlainObject(json)) throw invalid(`${at} must be an object`);
  const { score, label, prevalence } = json;
  if (typeof score !== "string" || score === "") throw invalid(`${at}.score must name the score column`);
  if (typeof label !== "string" || label === "") throw invalid(`${at}.label must name the label column`);
  if (typeof prevalence !== "number" || !(prevalence >= 0 && prevalence <= 1))
    throw invalid(`${at}.prevalence must be a share in [0, 1]`);
  let isotonic: IsotonicCalibration;
  try {
    isotonic = parseIsotonicCalibration(json.isotonic);
  } catch (error) {
    throw invalid(`${at}.isotonic: ${(error as Error).message}`);
  }
  if (isotonic.x.length > SCORE_GRID + 1)
    throw invalid(`${at}.isotonic has more than ${SCORE_GRID + 1} knots`);
  return { score, label, prevalence, isotonic };
}
