/**
 * A step's fingerprint: what decides whether an earlier result still holds. SHA-256 over the
 * step's kind, its spec after parameter substitution (keys sorted, so spelling order does not
 * matter), the hashes of its input artifacts by name, and its volatility (the resolved window
 * of a log source, the newest file's mtime). Same fingerprint, same outputs.
 */
import { createHash } from "node:crypto";
import type { JsonValue } from "../domain/json-value.js";

export interface FingerprintParts {
  readonly kind: string;
  readonly spec: JsonValue;
  /** Input name -> artifact sha256. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly volatility?: JsonValue;
}

/** Bump when what is hashed changes meaning, so old cache entries stop matching. */
const VERSION = 1;

export function fingerprint(parts: FingerprintParts): string {
  const text = canonicalJson({
    v: VERSION,
    kind: parts.kind,
    spec: parts.spec,
    inputs: parts.inputs,
    volatility: parts.volatility ?? null,
  });
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted at every depth. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map((v: JsonValue) => canonicalJson(v)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, JsonValue>)[k] as JsonValue)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
