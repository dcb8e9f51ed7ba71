/**
 * Reading a step's spec: each helper checks one field and, when it is wrong, says which
 * (`steps[2].train.timeout: expected a duration like 10m, got 5`). Pure.
 */
import { parseDuration } from "../../domain/duration.js";
import { isPlainObject, type JsonValue } from "../../domain/json-value.js";
import { invalidField, shown } from "../../registry/field.js";

export type Raw = Record<string, unknown>;

/** The spec object, refusing keys it does not know (a typo is an error, not a silent default). */
export function specObject(raw: unknown, field: string, keys: readonly string[]): Raw {
  if (!isPlainObject(raw)) throw invalidField(field, `expected an object, got ${shown(raw)}`);
  const extra = Object.keys(raw).find((k) => !keys.includes(k));
  if (extra !== undefined)
    throw invalidField(`${field}.${extra}`, `unknown field; expected ${keys.join(", ")}`);
  return raw;
}

export function text(raw: Raw, key: string, field: string): string {
  const v = raw[key];
  if (typeof v !== "string" || v === "")
    throw invalidField(`${field}.${key}`, `expected a non-empty string, got ${shown(v)}`);
  return v;
}

export function optionalText(raw: Raw, key: string, field: string): string | undefined {
  return raw[key] === undefined ? undefined : text(raw, key, field);
}

export function oneOf<T extends string>(
  raw: Raw,
  key: string,
  field: string,
  values: readonly T[],
  fallback?: T,
): T {
  const v = raw[key] ?? fallback;
  if (typeof v !== "string" || !(values as readonly string[]).includes(v))
    throw invalidField(`${field}.${key}`, `expected one of ${values.join(", ")}, got ${shown(v)}`);
  return v as T;
}

export function number(
  raw: Raw,
  key: string,
  field: string,
  range: { min?: number; max?: number; integer?: boolean; fallback?: number } = {},
): number {
  const v = raw[key] ?? range.fallback;
  const ok =
    typeof v === "number" &&
    Number.isFinite(v) &&
    (range.integer !== true || Number.isSafeInteger(v)) &&
    (range.min === undefined || v >= range.min) &&
    (range.max === undefined || v <= range.max);
  if (!ok) {
    const bounds = [
      range.min === undefined ? "" : `>= ${range.min}`,
      range.max === undefined ? "" : `<= ${range.max}`,
    ]
      .filter((b) => b !== "")
      .join(" and ");
    throw invalidField(
      `${field}.${key}`,
      `expected ${range.integer === true ? "an integer" : "a number"}${bounds === "" ? "" : ` ${bounds}`}, got ${shown(v)}`,
    );
  }
  return v;
}

export function optionalNumber(
  raw: Raw,
  key: string,
  field: string,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  return raw[key] === undefined ? undefined : number(raw, key, field, range);
}

export function bool(raw: Raw, key: string, field: string, fallback: boolean): boolean {
  const v = raw[key] ?? fallback;
  if (typeof v !== "boolean")
    throw invalidField(`${field}.${key}`, `expected true or false, got ${shown(v)}`);
  return v;
}

export function texts(raw: Raw, key: string, field: string, options: { optional?: boolean } = {}): string[] {
  const v = raw[key];
  if (v === undefined && options.optional === true) return [];
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== "string" || s === ""))
    throw invalidField(`${field}.${key}`, `expected a non-empty list of names, got ${shown(v)}`);
  return v as string[];
}

export function duration(raw: Raw, key: string, field: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string")
    throw invalidField(`${field}.${key}`, `expected a duration like 10m, got ${shown(v)}`);
  return parseDuration(v, `${field}.${key}`);
}

/** A map of names to JSON scalars (`segment: {merchant_category: travel}`). */
export function scalarMap(raw: Raw, key: string, field: string): Record<string, JsonValue> | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (!isPlainObject(v) || Object.keys(v).length === 0)
    throw invalidField(`${field}.${key}`, `expected a map of names to values, got ${shown(v)}`);
  for (const [k, value] of Object.entries(v)) {
    if (value !== null && !["string", "number", "boolean"].includes(typeof value))
      throw invalidField(`${field}.${key}.${k}`, `expected a string, number or boolean, got ${shown(value)}`);
  }
  return v as Record<string, JsonValue>;
}

export function stringMap(raw: Raw, key: string, field: string): Record<string, string> {
  const v = raw[key];
  if (v === undefined) return {};
  if (!isPlainObject(v))
    throw invalidField(`${field}.${key}`, `expected a map of names to strings, got ${shown(v)}`);
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== "string")
      throw invalidField(`${field}.${key}.${k}`, `expected a string, got ${shown(value)}`);
  }
  return v as Record<string, string>;
}

/** An upstream reference: `data`, `split.train`. */
export function reference(raw: Raw, key: string, field: string): string {
  const v = text(raw, key, field);
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/.test(v))
    throw invalidField(`${field}.${key}`, `expected a step output like data or split.train, got ${shown(v)}`);
  return v;
}

/** The input the orchestrator resolved for `ref`, or a clear failure. */
export function inputOf<T>(inputs: Readonly<Record<string, T>>, ref: string, field: string): T {
  const found = inputs[ref];
  if (found === undefined) throw invalidField(field, `input '${ref}' was not given to the step`);
  return found;
}
