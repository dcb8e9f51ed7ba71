/**
 * API tokens and their roles. Only sha256 hashes are kept and compared: a token file can be
 * committed or mounted without holding the tokens themselves, and a presented token is hashed
 * first, so every comparison is between equal-length digests (timingSafeEqual) and no entry
 * is skipped early.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { parse } from "yaml";
import { invalid } from "../domain/errors.js";
import { ROLES, type Role } from "./access.js";

export interface ApiToken {
  /** Who holds it (`ci`, `grafana`); named in 403 messages and logs, never the token. */
  readonly name: string;
  readonly role: Role;
  /** sha256 of the token, 32 bytes. */
  readonly sha256: Buffer;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A token given in clear (`--token`, `--inference-token`), kept only as its hash. */
export function plainToken(name: string, role: Role, token: string): ApiToken {
  if (token === "") throw invalid(`the ${name} token is empty`);
  return { name, role, sha256: Buffer.from(hashToken(token), "hex") };
}

/**
 * A token file: a YAML list of `{name, role, sha256}`, e.g.
 * `- {name: ci, role: operator, sha256: 9f86d0…}` (`ballast token hash` prints the hash).
 */
export function parseTokenFile(text: string, file: string): ApiToken[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    throw invalid(`${file}: not YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw invalid(`${file}: expected a list of {name, role, sha256}`);
  const names = new Set<string>();
  return doc.map((entry: unknown, i): ApiToken => {
    const where = `${file}[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw invalid(`${where}: expected {name, role, sha256}`);
    const { name, role, sha256, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined)
      throw invalid(`${where}.${unknown}: unknown field; an entry has name, role, sha256`);
    if (typeof name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(name))
      throw invalid(`${where}.name: expected a name of letters, digits, '.', '_' or '-'`);
    if (names.has(name)) throw invalid(`${where}.name: '${name}' is listed twice`);
    names.add(name);
    if (typeof role !== "string" || !(ROLES as readonly string[]).includes(role))
      throw invalid(`${where}.role: expected one of ${ROLES.join(", ")}`);
    if (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256))
      throw invalid(`${where}.sha256: expected 64 hex digits (\`ballast token hash\` prints them)`);
    return { name, role: role as Role, sha256: Buffer.from(sha256, "hex") };
  });
}

/** The token a request presents (`Authorization: Bearer <token>`), or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The configured token the presented one hashes to; every entry is compared, none skipped. */
export function identify(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = createHash("sha256").update(presented, "utf8").digest();
  let found: ApiToken | undefined;
  for (const token of tokens) {
    if (timingSafeEqual(digest, token.sha256) && found === undefined) found = token;
  }
  return found;
}
