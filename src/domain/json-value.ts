/** A JSON object (not null, not an array): the shape every request body and document starts as. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** How deep and how large a client's free-form JSON (parameters, extra fields) may be. */
export interface JsonBounds {
  /** Levels of nesting; the value itself is level 1. */
  readonly maxDepth: number;
  /** Approximate size of the value as JSON text. */
  readonly maxBytes: number;
}

/** A value's approximate JSON size, or the bound it breaks. */
export type JsonMeasure = { readonly bytes: number } | { readonly beyond: "depth" | "size" };

/**
 * Walks a parsed JSON value with an explicit stack and stops at the first bound it breaks, so
 * its cost is bounded by `maxBytes` whatever the value, and a value nested thousands deep
 * (which JSON.parse accepts but JSON.stringify and every recursive walker overflow on) is
 * caught without recursion. The size is an estimate of the JSON text, not exact.
 */
export function measureJson(value: unknown, bounds: JsonBounds): JsonMeasure {
  let bytes = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item === "string") bytes += item.length + 2;
    else if (typeof item !== "object" || item === null) bytes += 8;
    else {
      if (depth > bounds.maxDepth) return { beyond: "depth" };
      bytes += 2;
      if (Array.isArray(item)) {
        for (const child of item as unknown[]) {
          bytes += 1;
          if (bytes > bounds.maxBytes) return { beyond: "size" };
          stack.push([child, depth + 1]);
        }
      } else {
        const record = item as Record<string, unknown>;
        for (const key in record) {
          bytes += key.length + 4;
          if (bytes > bounds.maxBytes) return { beyond: "size" };
          stack.push([record[key], depth + 1]);
        }
      }
    }
    if (bytes > bounds.maxBytes) return { beyond: "size" };
  }
  return { bytes };
}

const PREVIEW: JsonBounds = { maxDepth: 8, maxBytes: 80 };

/**
 * A client's value quoted in an error message: as JSON when it is small, described otherwise,
 * so a message never costs more than the bound, nor overflows the stack on a deep value.
 */
export function previewJson(value: unknown): string {
  if (value === undefined) return "undefined";
  if ("bytes" in measureJson(value, PREVIEW)) return JSON.stringify(value);
  if (typeof value === "string") return `${JSON.stringify(value.slice(0, PREVIEW.maxBytes))}…`;
  return Array.isArray(value) ? "an array too large to show" : "an object too large to show";
}

/** For messages: strings quoted, everything else as JSON, long values cut. */
export function shown(value: unknown): string {
  // previewJson: a deep or huge value in a request body must not cost more than its mention.
  const text = value === undefined ? "nothing" : previewJson(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A value JSON can carry, as stored and sent (pipeline specs, step summaries, lineage). */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
