/** Parsers for option values shared by several commands; each error names the flag. */
import { invalid } from "../domain/errors.js";

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^[0-9]+$/.test(raw) || port < 0 || port > 65535)
    throw invalid(`--port must be 0…65535, got '${raw}'`);
  return port;
}

export function parsePositiveInt(raw: string, flag: string): number {
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1)
    throw invalid(`${flag} must be a positive integer, got '${raw}'`);
  return n;
}

/** Repeated `key=value` flags as an object; undefined when none were given. */
export function pairs<T>(
  items: string[],
  flag: string,
  parse: (value: string, key: string) => T,
): Record<string, T> | undefined {
  if (items.length === 0) return undefined;
  const out: Record<string, T> = {};
  for (const item of items) {
    const cut = item.indexOf("=");
    if (cut <= 0) throw invalid(`${flag} expects key=value, got '${item}'`);
    const key = item.slice(0, cut);
    out[key] = parse(item.slice(cut + 1), key);
  }
  return out;
}
