/**
 * Validation errors that name the offending field the way a user wrote it (`variants[1].weight`),
 * so the CLI, the HTTP API and manifest errors can all point at the right place.
 */
import { invalid, type BallastError } from "../domain/errors.js";
import { previewJson } from "../domain/json-value.js";

export function invalidField(
  field: string,
  problem: string,
  details: Record<string, unknown> = {},
): BallastError {
  return invalid(`${field}: ${problem}`, { field, ...details });
}

/** For messages: strings quoted, everything else as JSON, long values cut. */
export function shown(value: unknown): string {
  // previewJson: a deep or huge value in a request body must not cost more than its mention.
  const text = value === undefined ? "nothing" : previewJson(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
