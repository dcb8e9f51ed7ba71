/** A JSON object (not null, not an array): the shape every request body and document starts as. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
