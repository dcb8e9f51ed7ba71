/**
 * Readers for notifier configuration that name the field the way the user wrote it
 * (`notifiers[1].url`), shared by every kind.
 */
import { invalidField, shown } from "../../registry/field.js";

export type RawConfig = Readonly<Record<string, unknown>>;

export const defaultTimeoutMs = 10_000;

export function configObject(raw: unknown, path: string): RawConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidField(path, `expected an object, got ${shown(raw)}`);
  }
  return raw as RawConfig;
}

export function requiredString(raw: RawConfig, path: string, key: string): string {
  const value = raw[key];
  if (typeof value !== "string" || value.trim() === "") {
    throw invalidField(`${path}.${key}`, `expected a non-empty string, got ${shown(value)}`);
  }
  return value;
}

export function optionalString(raw: RawConfig, path: string, key: string): string | undefined {
  return raw[key] === undefined ? undefined : requiredString(raw, path, key);
}

export function httpUrl(raw: RawConfig, path: string, key: string): string {
  const value = requiredString(raw, path, key);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidField(`${path}.${key}`, `expected an http(s) URL, got ${shown(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidField(`${path}.${key}`, `expected an http(s) URL, got ${shown(value)}`);
  }
  return value;
}

export function optionalBoolean(raw: RawConfig, path: string, key: string): boolean | undefined {
  const value = raw[key];
  if (value === undefined || typeof value === "boolean") return value;
  throw invalidField(`${path}.${key}`, `expected true or false, got ${shown(value)}`);
}

export function positiveInteger(raw: RawConfig, path: string, key: string, fallback?: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw invalidField(`${path}.${key}`, `expected a whole number > 0, got ${shown(value)}`);
  }
  return value;
}

export function stringMap(raw: RawConfig, path: string, key: string): Record<string, string> {
  const value = raw[key];
  if (value === undefined) return {};
  const object = configObject(value, `${path}.${key}`);
  for (const [name, entry] of Object.entries(object)) {
    if (typeof entry !== "string") {
      throw invalidField(`${path}.${key}.${name}`, `expected a string, got ${shown(entry)}`);
    }
  }
  return { ...(object as Record<string, string>) };
}

export function stringList(raw: RawConfig, path: string, key: string): string[] {
  const value = raw[key];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidField(`${path}.${key}`, `expected one or more strings, got ${shown(value)}`);
  }
  return list.map((entry: unknown, index) => {
    if (typeof entry !== "string" || entry.trim() === "") {
      throw invalidField(`${path}.${key}[${index}]`, `expected a non-empty string, got ${shown(entry)}`);
    }
    return entry;
  });
}
