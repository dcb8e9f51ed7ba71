/**
 * Secrets never leave the server: what is returned or written to events passes through
 * `redactSecrets`, which replaces the values that may be credentials by "<redacted>". The rules
 * go by field name, so a notifier configuration is redacted wherever it sits (a Notifier
 * resource, inline in a Monitor or in a rollout strategy):
 *
 * - fields named like a credential (`pass`, `password`, `secret`, `token`, `apiKey`, …);
 * - every value under `headers` (only the header names are shown: any header may carry a key);
 * - `url`: only scheme, host and port are shown; a path, query or user info, where webhook
 *   services put their keys (Slack's /services/T…/B…/…), becomes "<redacted>";
 * - in any string, the user info of a URL (`https://user:token@host/repo.git`, a git source).
 *
 * References (`passFrom: {env: SMTP_PASSWORD}`) name where a secret is, not the secret, and
 * are shown as written. Stored specs are never redacted, so diff and apply compare real values.
 */
export const REDACTED = "<redacted>";

const CREDENTIAL =
  /^(pass|passwd|password|secret|token|api[-_]?key|access[-_]?token|auth[-_]?token|bearer|client[-_]?secret|private[-_]?key)$/i;

export function redactSecrets<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

/** `scheme://user:password@` inside any text. */
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi;

/** Text with the user info of any URL in it redacted (event messages, source locations). */
export function redactUserInfo(text: string): string {
  return text.includes("@") ? text.replace(USER_INFO, `$1${REDACTED}@`) : text;
}

function redactValue(value: unknown, key: string | undefined): unknown {
  if (typeof value === "string") {
    if (key !== undefined && CREDENTIAL.test(key)) return REDACTED;
    if (key === "url") return redactUrl(value);
    return redactUserInfo(value);
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === "headers" && isRecord(v) ? redactHeaders(v) : redactValue(v, k);
  }
  return out;
}

function redactHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, typeof v === "string" ? REDACTED : v]),
  );
}

/** `https://hooks.slack.com/services/T0/B0/xyz` → `https://hooks.slack.com/<redacted>`. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return REDACTED;
  }
  const bare =
    url.pathname === "/" &&
    url.search === "" &&
    url.hash === "" &&
    url.username === "" &&
    url.password === "";
  return bare ? raw : `${url.protocol}//${url.host}/${REDACTED}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
