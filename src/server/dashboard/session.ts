/**
 * Who is looking at the dashboard, with the API's own tokens and roles. The browser keeps the
 * token in an HttpOnly, SameSite=Strict cookie (set by the login form); scripts presenting
 * `Authorization: Bearer` are taken too. With no token configured the dashboard is open, as
 * the API is.
 *
 * A cookie is sent by the browser whatever page asks, so a button's POST must also prove it
 * came from a page this server rendered: a per-session CSRF token (an HMAC of the session's
 * token hash under a secret made at startup) in a hidden field, and, when the browser says
 * where the request comes from (Origin, else Referer), that it is this host.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { grants, type Access, type Role } from "../access.js";
import { bearerOf, identify, type ApiToken } from "../tokens.js";

export const SESSION_COOKIE = "ballast_session";
export const CSRF_FIELD = "_csrf";

export interface Viewer {
  /** Null when no token is configured: everyone may do everything the open API allows. */
  readonly role: Role | null;
  /** The token's name, shown in the header; "anonymous" on an open server. */
  readonly name: string;
  /** What the CSRF token is bound to: the token's hash, or "open". */
  readonly subject: string;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      out.set(key, decodeURIComponent(value));
    } catch {
      // A malformed cookie is not ours; ignore it.
    }
  }
  return out;
}

export class Sessions {
  private readonly secret = randomBytes(32);

  constructor(private readonly tokens: readonly ApiToken[]) {}

  get open(): boolean {
    return this.tokens.length === 0;
  }

  /** The viewer a request authenticates as, or undefined (no token, or one this server does not know). */
  viewerOf(request: FastifyRequest): Viewer | undefined {
    if (this.open) return { role: null, name: "anonymous", subject: "open" };
    const presented =
      bearerOf(request.headers.authorization) ?? parseCookies(request.headers.cookie).get(SESSION_COOKIE);
    if (presented === undefined || presented === "") return undefined;
    const token = identify(this.tokens, presented);
    if (token === undefined) return undefined;
    return {
      role: token.role,
      name: token.name,
      subject: createHash("sha256").update(presented).digest("hex"),
    };
  }

  /** A token given in the login form, checked against the configured ones. */
  login(presented: string): ApiToken | undefined {
    return presented === "" ? undefined : identify(this.tokens, presented);
  }

  csrfToken(viewer: Viewer): string {
    return createHmac("sha256", this.secret).update(viewer.subject).digest("base64url");
  }

  csrfValid(viewer: Viewer, given: unknown): boolean {
    if (typeof given !== "string") return false;
    const expected = Buffer.from(this.csrfToken(viewer));
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}

export function may(viewer: Viewer, access: Access): boolean {
  return viewer.role === null || grants(viewer.role, access);
}

/**
 * True unless the browser says the request came from another origin. Requests without Origin
 * and Referer (scripts, old browsers) rely on the CSRF token alone.
 */
export function sameOrigin(request: FastifyRequest): boolean {
  const host = request.headers.host;
  const from = request.headers.origin ?? request.headers.referer;
  if (from === undefined) return true;
  if (from === "null" || host === undefined) return false;
  try {
    return new URL(from).host === host;
  } catch {
    return false;
  }
}

/** Where to go after login: only a path on this server (not `//evil.example`). */
export function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])[^\s]*$/.test(next) ? next : "/";
}
