/**
 * Segments: drift and performance sliced by the value of one feature (merchant category, online
 * or not). The first `maxValues` distinct values seen get a segment of their own; later values
 * share `__other__`, missing ones `__missing__`, so memory, alerts and metric series stay bounded
 * however many values the feature turns out to have.
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";

export const OTHER_SEGMENT = "__other__";
export const MISSING_SEGMENT = "__missing__";
export const DEFAULT_SEGMENT_VALUES = 20;
export const MAX_SEGMENT_VALUES = 100;

export interface SegmentSpec {
  /** The input feature whose value picks the segment. */
  readonly feature: string;
  /** Values with a segment of their own; the rest go to `__other__`. */
  readonly maxValues: number;
}

/** A segment: which feature, which value (or `__other__`, `__missing__`). */
export interface SegmentRef {
  readonly feature: string;
  readonly value: string;
}

export function parseSegmentSpec(raw: unknown, field = "segment"): SegmentSpec {
  if (!isPlainObject(raw))
    throw invalid(`${field} must be an object like {feature: merchant_category, maxValues: 20}`);
  const extra = Object.keys(raw).find((k) => k !== "feature" && k !== "maxValues");
  if (extra !== undefined)
    throw invalid(`${field} has unknown field '${extra}'; expected feature, maxValues`);
  const feature = raw.feature;
  if (typeof feature !== "string" || feature.length === 0)
    throw invalid(`${field}.feature must name an input feature`);
  return {
    feature,
    maxValues: parseMaxValues(raw.maxValues ?? DEFAULT_SEGMENT_VALUES, `${field}.maxValues`),
  };
}

export function parseMaxValues(raw: unknown, field: string): number {
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < 1 || raw > MAX_SEGMENT_VALUES)
    throw invalid(`${field} must be an integer in 1…${MAX_SEGMENT_VALUES}, got ${JSON.stringify(raw)}`);
  return raw;
}

/** The `segment` label of alerts and metric series: `merchant_category=grocery`. */
export function segmentLabel(segment: SegmentRef): string {
  return `${segment.feature}=${segment.value}`;
}

/**
 * Assigns values to segments, first come first served. `keyOf` is on the request path: a value
 * seen before is one map lookup (numbers and strings of the same text share a segment).
 */
export class SegmentKeys {
  /** Raw value → segment, for values with a segment of their own (and missing markers). */
  private readonly known = new Map<unknown, string>([
    [undefined, MISSING_SEGMENT],
    [null, MISSING_SEGMENT],
    ["", MISSING_SEGMENT],
    [Number.NaN, MISSING_SEGMENT],
  ]);
  private readonly own = new Set<string>();

  constructor(readonly maxValues: number) {}

  keyOf(value: unknown): string {
    return this.known.get(value) ?? this.assign(value);
  }

  /** The values with a segment of their own, in the order they were first seen. */
  values(): string[] {
    return [...this.own];
  }

  /** Takes over values assigned before (a restart), as far as room remains. */
  adopt(values: readonly string[]): void {
    for (const v of values) this.keyOf(v);
  }

  private assign(value: unknown): string {
    let text: string;
    if (typeof value === "string") text = value;
    else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
      text = String(value);
    else return OTHER_SEGMENT; // objects and arrays are no segment key
    if (text === OTHER_SEGMENT || text === MISSING_SEGMENT) return text;
    if (!this.own.has(text)) {
      if (this.own.size >= this.maxValues) return OTHER_SEGMENT; // not cached: the cache stays bounded
      this.own.add(text);
    }
    // At most a few raw forms (1, "1") per own value: the cache is bounded by maxValues.
    this.known.set(value, text);
    return text;
  }
}
