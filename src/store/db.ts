/**
 * Opens the one database Ballast keeps its state in: a SQLite file in the data directory by
 * default, PostgreSQL when a `postgres://` URL is given (several replicas, Kubernetes). The
 * schema is brought up to date before the store is handed out.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from "kysely";
import { invalid, unavailable } from "../domain/errors.js";
import type { Database } from "./schema.js";
import { migrateToLatest } from "./migrations.js";

export type StoreDialect = "sqlite" | "postgres";

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** The SQLite file, for writers that keep a connection of their own (sqlite only). */
  readonly sqliteFile?: string;
  /** The PostgreSQL URL, for connections of their own such as LISTEN (postgres only). */
  readonly url?: string;
  /** Idempotent: closing twice is harmless. */
  close(): Promise<void>;
}

export interface StoreOptions {
  readonly dataDir: string;
  /** A `postgres://` or `postgresql://` URL; absent means SQLite at `<dataDir>/ballast.db`. */
  readonly url?: string;
}

export const SQLITE_FILE = "ballast.db";

/** How long a writer waits for another process's lock before failing with SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5000;
const PG_CONNECT_TIMEOUT_MS = 10_000;

export async function openStore(options: StoreOptions): Promise<Store> {
  const url = options.url?.trim();
  if (url === undefined || url === "") return openSqlite(options.dataDir);
  if (/^postgres(ql)?:\/\//i.test(url)) return openPostgres(url);
  throw invalid(
    `unsupported store URL ${redact(url)}: use postgres://user@host:5432/db (or postgresql://), ` +
      `or leave it unset for SQLite in the data directory`,
    { field: "url" },
  );
}

/**
 * Switching to WAL needs a moment of exclusive access, and SQLite answers SQLITE_BUSY at once
 * (without its busy handler) when another process opens the same fresh file at that instant;
 * retry for up to the busy timeout.
 */
function switchToWal(database: BetterSqlite3.Database): void {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      database.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      const busy = error instanceof Error && "code" in error && String(error.code).startsWith("SQLITE_BUSY");
      if (!busy || Date.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

async function openSqlite(dataDir: string): Promise<Store> {
  const path = join(dataDir, SQLITE_FILE);
  let database: BetterSqlite3.Database | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    database = new BetterSqlite3(path);
    database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // WAL lets readers (the dashboard, the CLI) run while the server writes.
    switchToWal(database);
    database.pragma("foreign_keys = ON");
  } catch (error) {
    database?.close();
    throw unavailable(`cannot open SQLite store ${path}: ${reasonOf(error)}`);
  }
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database }) });
  const store = { ...closable(db, "sqlite"), sqliteFile: path };
  try {
    // Kysely runs SQLite migrations outside a transaction; an IMMEDIATE one makes them atomic
    // and makes a second process opening the same fresh file wait instead of racing.
    await sql`begin immediate`.execute(db);
    try {
      await migrateToLatest(db);
      await sql`commit`.execute(db);
    } catch (error) {
      await sql`rollback`.execute(db);
      throw error;
    }
  } catch (error) {
    await store.close();
    throw unavailable(`cannot prepare SQLite store ${path}: ${reasonOf(error)}`);
  }
  return store;
}

/**
 * Every transaction on the main SQLite connection begins IMMEDIATE, taking the write lock at
 * BEGIN. Kysely begins them deferred: such a transaction reads on a snapshot and must upgrade to
 * a writer at its first write, and in WAL mode SQLite refuses that upgrade with SQLITE_BUSY at
 * once, without calling the busy handler, when another connection (the prediction-log writer
 * thread, a CLI process) committed after the snapshot or holds the write lock then. Taken at
 * BEGIN, the lock waits for the busy timeout like any other. The transactions here are almost all
 * read-then-write; the rare read-only one pays with a short wait for the lock, which readers
 * outside transactions never take.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  private readonly config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

async function openPostgres(url: string): Promise<Store> {
  const types = new pg.TypeOverrides();
  // Epoch-ms times, sizes and COUNT(*) come back as INT8; all fit a double exactly. Setting
  // this on the pool, not on the global pg.types, leaves other pg users in the process alone.
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  types.setTypeParser(pg.types.builtins.NUMERIC, (value: string) => Number(value));
  types.setTypeParser(pg.types.builtins.FLOAT8, (value: string) => Number(value));
  // Bounded: a server that does not answer (or a pool exhausted for this long) is an error
  // the caller sees, not a request that hangs.
  const pool = new pg.Pool({ connectionString: url, types, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
  // An idle client losing its connection emits 'error' on the pool; unhandled, that would kill
  // the process. The next query fails with the real cause, which is where it belongs.
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store = { ...closable(db, "postgres"), url };
  try {
    // PostgreSQL has transactional DDL and Kysely takes an advisory lock, so replicas starting
    // together migrate once.
    await migrateToLatest(db);
  } catch (error) {
    await store.close();
    throw unavailable(`cannot prepare PostgreSQL store ${redact(url)}: ${reasonOf(error)}`);
  }
  return store;
}

function closable(db: Kysely<Database>, dialect: StoreDialect): Store {
  let closing: Promise<void> | undefined;
  return {
    db,
    dialect,
    close: () => (closing ??= db.destroy()),
  };
}

/** URLs end up in error messages and logs; passwords must not. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  return error instanceof Error ? error.message : String(error);
}
