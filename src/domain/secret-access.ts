/**
 * Which secrets a notifier may reference (`passFrom`, `urlFrom`, `headersFrom`). Whoever can
 * declare a notifier (an API client, a commit to a watched git repository) chooses the
 * reference and the receiver the value is sent to, so a reference must not reach the server's
 * own secrets: `{file}` only inside a secrets directory (`ballast serve --secrets-dir`, default
 * /run/secrets) and `{env}` only names an allow-list lets through (`--secret-env`, default
 * `BALLAST_SECRET_*`). The variables the server reads for its own credentials and settings are
 * refused whatever the list says. Pure: parsing and deciding only; reading (and following
 * symlinks) is secret-ref.ts's.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { invalid } from "./errors.js";

export interface SecretAccess {
  /** Absolute; `{file}` references resolve inside it. */
  readonly dir: string;
  /** Names (`SMTP_PASSWORD`) and prefixes (`HOOK_*`) of the environment variables allowed. */
  readonly env: readonly string[];
}

export const DEFAULT_SECRETS_DIR = "/run/secrets";
export const DEFAULT_SECRET_ENV: readonly string[] = ["BALLAST_SECRET_*"];

export const DEFAULT_SECRET_ACCESS: SecretAccess = { dir: DEFAULT_SECRETS_DIR, env: DEFAULT_SECRET_ENV };

/**
 * Never readable through a reference, even when a pattern matches: every `BALLAST_*` variable
 * but the `BALLAST_SECRET_*` ones (the server's credentials and settings, `ballast serve` reads
 * BALLAST_TOKEN, BALLAST_TOKEN_FILE, BALLAST_INFERENCE_TOKEN, BALLAST_STORE, BALLAST_DATA_DIR,
 * and any it reads later), the policy's own two, and the PostgreSQL client's (`PGPASSWORD`, …).
 */
const RESERVED_ENV: ReadonlySet<string> = new Set(["BALLAST_SECRETS_DIR", "BALLAST_SECRET_ENV"]);
const RESERVED_ENV_PREFIXES: readonly string[] = ["PG"];

const ENV_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*\*?$/;

/** Parses `NAME,PREFIX*,…` as `--secret-env` takes it; an empty value allows no variable. */
export function parseSecretEnv(raw: string, flag = "--secret-env"): string[] {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const entry of entries) {
    if (!ENV_PATTERN.test(entry) || entry === "*")
      throw invalid(`${flag}: '${entry}' is not a variable name or a PREFIX* pattern`);
  }
  return entries;
}

/** The policy `ballast serve` runs with, from its flags (defaults when absent). */
export function secretAccessOf(options: { dir?: string; env?: string }): SecretAccess {
  if (options.dir === "") throw invalid("--secrets-dir expects a directory");
  return {
    dir: resolve(options.dir ?? DEFAULT_SECRETS_DIR),
    env: options.env === undefined ? DEFAULT_SECRET_ENV : parseSecretEnv(options.env),
  };
}

export function isReservedEnv(name: string): boolean {
  if (RESERVED_ENV.has(name) || RESERVED_ENV_PREFIXES.some((p) => name.startsWith(p))) return true;
  return name.startsWith("BALLAST_") && !name.startsWith("BALLAST_SECRET_");
}

/** True when `{env: name}` may be read under `access`. */
export function isEnvAllowed(access: SecretAccess, name: string): boolean {
  if (isReservedEnv(name)) return false;
  return access.env.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** Throws a 400 naming `field` (`….headersFrom.Authorization.env`) when `name` may not be read. */
export function checkSecretEnv(access: SecretAccess, name: string, field: string): void {
  if (isEnvAllowed(access, name)) return;
  const why = isReservedEnv(name)
    ? "is one the server itself uses and is never readable by a notifier"
    : `is not allowed; this server allows ${access.env.length === 0 ? "none" : access.env.join(", ")} (--secret-env)`;
  throw invalid(`${field}: environment variable ${name} ${why}`, { field });
}

/** True when `path` (absolute, normalized) is strictly inside `dir`. */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`);
}

/**
 * Where `{file}` points: a relative path under the secrets directory, or an absolute one inside
 * it; undefined when it leads elsewhere or has a `..` segment at all. Symlinks are not looked at
 * here (the file may not exist yet); the reader resolves them before reading.
 */
export function secretFilePath(access: SecretAccess, file: string): string | undefined {
  if (file === "" || file.includes("\0")) return undefined;
  if (file.split(/[\\/]/).includes("..")) return undefined;
  const path = resolve(access.dir, file);
  return isInside(access.dir, path) ? path : undefined;
}

/** The file's absolute path, or a 400 naming `field` (`….passFrom.file`) when it is outside the directory. */
export function checkSecretFile(access: SecretAccess, file: string, field: string): string {
  const path = secretFilePath(access, file);
  if (path !== undefined) return path;
  throw invalid(
    `${field}: ${JSON.stringify(file)} is outside the secrets directory ${access.dir} (--secrets-dir); give a path inside it, without '..'`,
    { field },
  );
}
