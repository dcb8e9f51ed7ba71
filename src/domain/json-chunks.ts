/**
 * JSON.stringify that yields to the event loop on large values. A maximal request body holds
 * hundreds of thousands of numbers; writing them (the logged inputs, the answer) in one call
 * would hold every other request for tens of milliseconds. Here an array with more than
 * CHUNK_ELEMENTS leaves near the top of the value is written a slice at a time, with a pause
 * between slices; the text is exactly what JSON.stringify gives. Small values take no pause and
 * cost one JSON.stringify plus a walk of their first few levels.
 */

/** Leaves written between two pauses, about. */
export const CHUNK_ELEMENTS = 16 * 1024;
/** Levels of objects and arrays looked into for large arrays (a tensor's data is at level 3). */
const SEARCH_DEPTH = 4;

export type Pause = () => Promise<void>;

/** The next turn of the event loop, after pending I/O (a health check) has been served. */
export const nextTurn: Pause = () => new Promise((resolve) => setImmediate(resolve));

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !("toJSON" in value);
}

/** Leaves of `value`, counted only up to `cap` (arrays are walked, everything else is one). */
function leavesUpTo(value: unknown, cap: number): number {
  if (!Array.isArray(value)) return 1;
  let n = 0;
  for (let i = 0; i < value.length && n < cap; i++) n += leavesUpTo(value[i], cap - n);
  return Math.max(n, 1);
}

/** Leaves one element of `array` holds (its first, as a sample: tensor rows are regular). */
function perElement(array: readonly unknown[]): number {
  return array.length === 0 ? 1 : leavesUpTo(array[0], CHUNK_ELEMENTS);
}

function isLarge(array: readonly unknown[]): boolean {
  return array.length * perElement(array) > CHUNK_ELEMENTS && !("toJSON" in array);
}

/** True when `value` holds a large array within its first SEARCH_DEPTH levels. */
export function needsChunks(value: unknown, depth = 0): boolean {
  if (Array.isArray(value)) {
    if (isLarge(value)) return true;
    if (depth >= SEARCH_DEPTH) return false;
    for (const item of value) if (typeof item === "object" && needsChunks(item, depth + 1)) return true;
    return false;
  }
  if (!isPlainRecord(value) || depth >= SEARCH_DEPTH) return false;
  for (const key in value) {
    const item = value[key];
    if (typeof item === "object" && needsChunks(item, depth + 1)) return true;
  }
  return false;
}

/**
 * `JSON.stringify(value)`, the same text (or the same error), with `pause` awaited between
 * slices of large arrays. Values without any are written by one JSON.stringify and no pause.
 */
export async function stringifyInChunks(
  value: unknown,
  pause: Pause = nextTurn,
): Promise<string | undefined> {
  if (!needsChunks(value)) return JSON.stringify(value);
  const parts: string[] = [];
  await write(value, 0, parts, pause);
  return parts.join("");
}

async function write(value: unknown, depth: number, parts: string[], pause: Pause): Promise<void> {
  if (!needsChunks(value, depth)) {
    // Only reached for values inside an array or an object: JSON writes undefined as null there.
    parts.push(JSON.stringify(value) ?? "null");
    return;
  }
  if (Array.isArray(value)) {
    if (isLarge(value)) {
      const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / perElement(value)));
      parts.push("[");
      for (let from = 0; from < value.length; from += step) {
        if (from > 0) {
          await pause();
          parts.push(",");
        }
        // JSON.stringify of a slice is "[" + its elements + "]": the elements are kept.
        parts.push((JSON.stringify(value.slice(from, from + step)) as string).slice(1, -1));
      }
      parts.push("]");
      return;
    }
    parts.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) parts.push(",");
      await write(value[i], depth + 1, parts, pause);
    }
    parts.push("]");
    return;
  }
  // A plain object (needsChunks looks into no other): keys in order, undefined, functions and
  // symbols left out as JSON.stringify leaves them.
  const record = value as Record<string, unknown>;
  parts.push("{");
  let first = true;
  for (const key of Object.keys(record)) {
    const item = record[key];
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    if (!first) parts.push(",");
    first = false;
    parts.push(JSON.stringify(key), ":");
    await write(item, depth + 1, parts, pause);
  }
  parts.push("}");
}
