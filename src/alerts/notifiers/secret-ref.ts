/**
 * Secrets referenced rather than written in a configuration, as Kubernetes' `valueFrom` and
 * Alertmanager's `*_file` do: `passFrom: {env: BALLAST_SECRET_SMTP}` or `{file: /run/secrets/smtp}`.
 * The reference is what is stored, shown and diffed; the value is read when a message is sent,
 * so a rotated file is picked up without applying anything. What may be referenced is limited
 * (`--secrets-dir`, `--secret-env`, see domain/secret-access.ts): checked when a notifier is
 * declared, and again here when the value is read.
 */
import { readFile, realpath } from "node:fs/promises";
import { BallastError } from "../../domain/errors.js";
import {
  checkSecretEnv,
  checkSecretFile,
  DEFAULT_SECRET_ACCESS,
  isEnvAllowed,
  isInside,
  secretFilePath,
  type SecretAccess,
} from "../../domain/secret-access.js";
import { invalidField, shown } from "../../registry/field.js";
import type { RawConfig } from "./config.js";

export type SecretRef = { readonly env: string } | { readonly file: string };

export function parseSecretRef(raw: unknown, path: string): SecretRef {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw invalidField(path, `expected {env: NAME} or {file: /path}, got ${shown(raw)}`);
  const keys = Object.keys(raw);
  const { env, file } = raw as Record<string, unknown>;
  if (keys.length !== 1 || (env === undefined && file === undefined))
    throw invalidField(path, `expected exactly one of env or file, got ${shown(raw)}`);
  if (env !== undefined) {
    if (typeof env !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env))
      throw invalidField(`${path}.env`, `expected an environment variable name, got ${shown(env)}`);
    return { env };
  }
  if (typeof file !== "string" || file === "")
    throw invalidField(`${path}.file`, `expected a file path, got ${shown(file)}`);
  return { file };
}

export function optionalSecretRef(raw: RawConfig, path: string, key: string): SecretRef | undefined {
  return raw[key] === undefined ? undefined : parseSecretRef(raw[key], `${path}.${key}`);
}

/** A map of references (`headersFrom: {Authorization: {env: TOKEN}}`). */
export function secretRefMap(
  raw: RawConfig,
  path: string,
  key: string,
): Record<string, SecretRef> | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalidField(
      `${path}.${key}`,
      `expected a map of header names to {env} or {file}, got ${shown(value)}`,
    );
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([name, ref]) => [
      name,
      parseSecretRef(ref, `${path}.${key}.${name}`),
    ]),
  );
}

/** Throws a 400 naming the field (`….Authorization.env`) when `access` does not let `ref` be read. */
export function checkSecretRef(access: SecretAccess, ref: SecretRef, field: string): void {
  if ("env" in ref) checkSecretEnv(access, ref.env, `${field}.env`);
  else checkSecretFile(access, ref.file, `${field}.file`);
}

/**
 * The secret's value now; a missing one fails the delivery (not retried: it will not appear by
 * itself), and so does one `access` does not allow (a reference stored before the policy was
 * narrowed, or a file whose symlinks lead out of the secrets directory).
 */
export async function resolveSecret(
  ref: SecretRef,
  receiver: string,
  field: string,
  access: SecretAccess = DEFAULT_SECRET_ACCESS,
): Promise<string> {
  if ("env" in ref) {
    if (!isEnvAllowed(access, ref.env))
      throw refused(`${receiver}: ${field}: environment variable ${ref.env} is not allowed (--secret-env)`);
    const value = process.env[ref.env];
    if (value === undefined || value === "")
      throw missing(`${receiver}: ${field}: environment variable ${ref.env} is not set`);
    return value;
  }
  const outside = (): BallastError =>
    refused(
      `${receiver}: ${field}: ${ref.file} is outside the secrets directory ${access.dir} (--secrets-dir)`,
    );
  const path = secretFilePath(access, ref.file);
  if (path === undefined) throw outside();
  try {
    // Symlinks followed before deciding: a link inside the directory may point anywhere.
    const real = await realpath(path);
    const dir = await realpath(access.dir);
    if (!isInside(dir, real)) throw outside();
    // One trailing newline is how `echo secret > file` writes it, not part of the secret.
    return (await readFile(real, "utf8")).replace(/\r?\n$/, "");
  } catch (error) {
    if (error instanceof BallastError) throw error;
    const code = (error as { code?: string }).code ?? "unreadable";
    throw missing(`${receiver}: ${field}: cannot read ${ref.file} (${code})`);
  }
}

export async function resolveSecretMap(
  refs: Readonly<Record<string, SecretRef>> | undefined,
  receiver: string,
  field: string,
  access: SecretAccess = DEFAULT_SECRET_ACCESS,
): Promise<Record<string, string>> {
  if (refs === undefined) return {};
  const out: Record<string, string> = {};
  for (const [name, ref] of Object.entries(refs))
    out[name] = await resolveSecret(ref, receiver, `${field}.${name}`, access);
  return out;
}

function missing(message: string): BallastError {
  return new BallastError("unavailable", message, { retryable: false });
}

function refused(message: string): BallastError {
  return new BallastError("invalid_argument", message, { retryable: false });
}

/** `url: …` written out, or `urlFrom: {env|file}` when the URL itself is the key (Slack, Teams). */
export type UrlSource = { readonly url: string } | { readonly urlFrom: SecretRef };

export function urlSource(raw: RawConfig, path: string, parseUrl: () => string): UrlSource {
  if (raw.urlFrom === undefined) return { url: parseUrl() };
  if (raw.url !== undefined) throw invalidField(`${path}.urlFrom`, "give url or urlFrom, not both");
  return { urlFrom: parseSecretRef(raw.urlFrom, `${path}.urlFrom`) };
}

/** The URL to call now, read from its reference when it has one. */
export async function resolveUrl(
  source: { readonly url?: string; readonly urlFrom?: SecretRef },
  receiver: string,
  access: SecretAccess = DEFAULT_SECRET_ACCESS,
): Promise<string> {
  if (source.url !== undefined) return source.url;
  if (source.urlFrom === undefined) throw missing(`${receiver}: no url configured`);
  const value = await resolveSecret(source.urlFrom, receiver, "urlFrom", access);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  // The value itself is not repeated: it is the secret.
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw missing(`${receiver}: urlFrom: the value read is not an http(s) URL`);
  return value;
}

/** Header references that do not repeat a header written out in clear. */
export function headerRefs(
  raw: RawConfig,
  path: string,
  headers: Readonly<Record<string, string>>,
): Record<string, SecretRef> | undefined {
  const refs = secretRefMap(raw, path, "headersFrom");
  if (refs === undefined) return undefined;
  const clear = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  const both = Object.keys(refs).find((h) => clear.has(h.toLowerCase()));
  if (both !== undefined)
    throw invalidField(`${path}.headersFrom.${both}`, "this header is also under headers; give it once");
  return refs;
}
