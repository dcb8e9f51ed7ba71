/**
 * The stores every storage test runs against: SQLite always, PostgreSQL when
 * BALLAST_TEST_POSTGRES_URL names a server (each case gets a database of its own).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import pg from "pg";
import { openStore, type Store } from "../../src/store/db.js";

export interface OpenedStore {
  readonly store: Store;
  readonly dataDir: string;
  /** Closes the store and removes what the case created (temp dir, database). */
  readonly cleanup: () => Promise<void>;
}

export interface StoreCase {
  readonly name: "sqlite" | "postgres";
  /** Set when the case cannot run here; pass it as `{ skip }` so the reason is reported. */
  readonly skip?: string;
  /** The URL opening the case's own database, for tests that reopen it (postgres only). */
  readonly open: () => Promise<OpenedStore & { readonly url?: string }>;
}

export const POSTGRES_URL_VARIABLE = "BALLAST_TEST_POSTGRES_URL";

export function storeCases(): StoreCase[] {
  const postgresUrl = process.env[POSTGRES_URL_VARIABLE];
  return [
    { name: "sqlite", open: openSqliteCase },
    postgresUrl === undefined || postgresUrl === ""
      ? {
          name: "postgres",
          skip: `postgres: ${POSTGRES_URL_VARIABLE} is unset`,
          open: () => Promise.reject(new Error(`postgres: ${POSTGRES_URL_VARIABLE} is unset`)),
        }
      : { name: "postgres", open: () => openPostgresCase(postgresUrl) },
  ];
}

export async function tempDir(
  prefix = "ballast-test-",
): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

async function openSqliteCase(): Promise<OpenedStore> {
  const dir = await tempDir();
  const store = await openStore({ dataDir: dir.path });
  return {
    store,
    dataDir: dir.path,
    cleanup: async () => {
      await store.close();
      await dir.remove();
    },
  };
}

/** A fresh, empty database on the server `adminUrl` points at, and the way to drop it again. */
export async function scratchDatabase(
  adminUrl: string,
  prefix = "ballast_test",
): Promise<{ url: string; drop: () => Promise<void> }> {
  const database = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    drop: async () => {
      await withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    },
  };
}

async function openPostgresCase(adminUrl: string): Promise<OpenedStore & { url: string }> {
  const database = await scratchDatabase(adminUrl);
  const dir = await tempDir();
  let store: Store;
  try {
    store = await openStore({ dataDir: dir.path, url: database.url });
  } catch (error) {
    await dir.remove();
    await database.drop();
    throw error;
  }
  return {
    store,
    dataDir: dir.path,
    url: database.url,
    cleanup: async () => {
      await store.close();
      await dir.remove();
      await database.drop();
    },
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Declares `body` once per store case, as a suite named "<title> on <store>". A case that cannot
 * run becomes one skipped test carrying the reason, so the summary counts it as skipped.
 */
export function describeStores(title: string, body: (c: StoreCase) => void): void {
  for (const c of storeCases()) {
    const name = `${title} on ${c.name}`;
    if (c.skip !== undefined) test(name, { skip: c.skip }, () => {});
    else describe(name, () => body(c));
  }
}
