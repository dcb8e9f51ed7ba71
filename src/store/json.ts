/**
 * The text JSON columns (tags, metrics, signatures, specs, logged tensors). Both dialects
 * store JSON as text so one set of queries serves SQLite and PostgreSQL.
 */
import { BallastError } from "../domain/errors.js";

/** `undefined` becomes `null` so a column never receives the string "undefined". */
export function toJson(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

/**
 * Parses a JSON column. A NULL or empty column gives `fallback`; malformed text throws instead
 * of becoming the fallback, because only Ballast writes these columns and a corrupt value
 * must not pass for an empty one. The result is trusted as `T` (we wrote it) and not checked.
 */
export function fromJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === "") return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BallastError("internal", `corrupt JSON in the store (${reason}): ${text.slice(0, 80)}`);
  }
}
