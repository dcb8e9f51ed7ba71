/**
 * The CBPE calibration of a reference file: its model-score column against its label column,
 * for `ballast profile --label … --score-column …`. The scores must be what the model version
 * the profile is attached to produced on those rows; the calibrator is only as honest as that.
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { readRowBatches, type RowFormat } from "../io/rows.js";
import { buildCalibration, type ProfileCalibration } from "./profile/calibration.js";

export interface CalibrationColumns {
  readonly score: string;
  readonly label: string;
  /** The label value meaning positive; absent, labels must be 0/1 or true/false. */
  readonly positive?: string;
}

/** Rows missing a score or a label are left out; any other bad value is an error naming its line. */
export async function calibrationFromFile(
  path: string,
  columns: CalibrationColumns,
  format: RowFormat,
): Promise<{ calibration: ProfileCalibration; used: number; skipped: number }> {
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  let skipped = 0;
  for await (const batch of readRowBatches(path, { format, batchSize: 4096 })) {
    batch.rows.forEach((row, i) => {
      const line = batch.lines[i] ?? 0;
      if (!isPlainObject(row)) throw invalid(`${path} line ${line}: calibration needs named columns`);
      const rawScore = row[columns.score];
      const rawLabel = row[columns.label];
      if (missing(rawScore) || missing(rawLabel)) {
        skipped++;
        return;
      }
      const score = Number(rawScore);
      if (!(score >= 0 && score <= 1)) {
        throw invalid(
          `${path} line ${line}: ${columns.score} must be a probability in [0, 1], got ${String(rawScore)}`,
        );
      }
      scores.push(score);
      labels.push(binary(rawLabel, columns, `${path} line ${line}`));
    });
  }
  if (scores.length === 0) {
    throw invalid(`${path} has no rows with both ${columns.score} and ${columns.label}; cannot calibrate`);
  }
  return {
    calibration: buildCalibration({ score: columns.score, label: columns.label }, scores, labels),
    used: scores.length,
    skipped,
  };
}

function missing(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

function binary(value: unknown, columns: CalibrationColumns, at: string): 0 | 1 {
  const text = String(value).trim().toLowerCase();
  if (columns.positive !== undefined) return String(value).trim() === columns.positive ? 1 : 0;
  if (text === "1" || text === "true") return 1;
  if (text === "0" || text === "false") return 0;
  throw invalid(
    `${at}: ${columns.label} must be 0/1 or true/false (or name the positive value with --positive), got ${String(value)}`,
  );
}
