/**
 * How one cell is read, the same way when a profile is built and when a window counts live
 * values, so a value lands in the same bin on both sides.
 */

/** null, undefined, "" and NaN are missing. */
export function isMissing(value: unknown): boolean {
  return (
    value === null || value === undefined || value === "" || (typeof value === "number" && value !== value)
  );
}
