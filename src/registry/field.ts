/**
 * Validation errors that name the offending field the way a user wrote it (`variants[1].weight`),
 * so the CLI, the HTTP API and manifest errors can all point at the right place.
 */
import { invalid, type BallastError } from "../domain/errors.js";
// Defined with previewJson, so layers below the registry (markets) quote values the same way.
export { shown } from "../domain/json-value.js";

export function invalidField(
  field: string,
  problem: string,
  details: Record<string, unknown> = {},
): BallastError {
  return invalid(`${field}: ${problem}`, { field, ...details });
}
