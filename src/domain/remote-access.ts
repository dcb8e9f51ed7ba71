/**
 * Where Ballast itself may send requests: remote models (the http flavor) and alert receivers
 * (webhook, Slack, Alertmanager). Whoever can register a model or a notifier chooses a URL the
 * server then calls from inside the network, so the URL is a base address only (no query,
 * fragment or user info to smuggle a path or credentials in), and an operator may limit the
 * hosts with `ballast serve --allow-remote host[:port],…`. Pure: parsing and deciding only.
 */
import { invalid, type BallastError } from "./errors.js";

/** One `host[:port]` of the allow-list; no port means any port on that host. */
export interface RemoteHost {
  readonly host: string;
  readonly port?: number;
}

/** `undefined` hosts: anything is allowed (no `--allow-remote` given). */
export interface RemoteAccess {
  readonly hosts?: readonly RemoteHost[];
}

export const ANYWHERE: RemoteAccess = {};

const DEFAULT_PORTS: Readonly<Record<string, number>> = { "http:": 80, "https:": 443 };

/**
 * Checks that `value` is an http(s) base URL with nothing but scheme, host, port and path, and
 * returns it without trailing slashes. `field` names the field in the error (`url`, `spec.url`).
 */
export function checkBaseUrl(value: unknown, field: string): string {
  const refuse = (why: string): BallastError =>
    invalid(`${field}: ${why}, got ${JSON.stringify(value)}`, { field });
  if (typeof value !== "string" || value === "") throw refuse("expected an http:// or https:// URL");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse("expected an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw refuse("expected an http:// or https:// URL");
  // The raw text too: the URL parser drops an empty `?` or `#`, and keeps an empty user name silently.
  if (value.includes("?")) throw refuse("must be a base URL without a query (?…)");
  if (value.includes("#")) throw refuse("must be a base URL without a fragment (#…)");
  const authority = value.slice(value.indexOf("//") + 2).split("/")[0] ?? "";
  if (url.username !== "" || url.password !== "" || authority.includes("@"))
    throw refuse("must not carry user info (user:password@); put credentials in headers");
  return value.replace(/\/+$/, "");
}

/** Parses `host[:port],…` as `--allow-remote` takes it. */
export function parseAllowList(raw: string, flag = "--allow-remote"): RemoteAccess {
  const entries = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) throw invalid(`${flag} expects host[:port],…, got '${raw}'`);
  const hosts = entries.map((entry): RemoteHost => {
    const notHost = (): BallastError => invalid(`${flag}: '${entry}' is not a host or host:port`);
    // A scheme, path or user info here is a mistake worth saying, not something to ignore.
    if (/[/@?#\\\s]/.test(entry)) throw notHost();
    let url: URL;
    try {
      url = new URL(`http://${entry}`);
    } catch {
      throw notHost();
    }
    const explicit = /:(\d+)$/.exec(entry);
    return { host: url.hostname, ...(explicit === null ? {} : { port: Number(explicit[1]) }) };
  });
  return { hosts };
}

/** True when `url` (already a checked base URL) points where the allow-list lets it. */
export function isAllowed(access: RemoteAccess, url: string): boolean {
  if (access.hosts === undefined) return true;
  const parsed = new URL(url);
  const port = parsed.port === "" ? DEFAULT_PORTS[parsed.protocol] : Number(parsed.port);
  return access.hosts.some((h) => h.host === parsed.hostname && (h.port === undefined || h.port === port));
}

/** Throws a 400 naming `field` when the allow-list does not let `url` be called. */
export function checkAllowed(access: RemoteAccess, url: string, field: string): void {
  if (isAllowed(access, url)) return;
  const list = (access.hosts ?? []).map((h) => (h.port === undefined ? h.host : `${h.host}:${h.port}`));
  throw invalid(
    `${field}: ${new URL(url).host} is not an allowed remote host; this server allows ${list.join(", ")} (--allow-remote)`,
    { field },
  );
}
