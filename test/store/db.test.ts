import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { sql } from "kysely";
import { isBallastError } from "../../src/domain/errors.js";
import { openStore, SQLITE_FILE, type Store } from "../../src/store/db.js";
import { MIGRATION_TABLE, MIGRATIONS } from "../../src/store/migrations.js";
import { describeStores, tempDir } from "../helpers/stores.js";

/** Written out independently of the migration: what src/store/schema.ts declares. */
const EXPECTED_COLUMNS: Record<string, Record<string, boolean>> = {
  // column -> nullable
  registered_models: {
    name: false,
    description: false,
    tags: false,
    latest_version: false,
    created_at: false,
    updated_at: false,
  },
  model_versions: {
    model: false,
    version: false,
    flavor: false,
    artifact_sha256: false,
    artifact_size: false,
    signature: true,
    tags: false,
    description: false,
    metrics: false,
    lineage: false,
    source: false,
    created_at: false,
    reference_sha256: true,
    reference_rows: true,
    reference_features: true,
  },
  model_aliases: { model: false, alias: false, version: false, updated_at: false },
  deployments: { name: false, spec: false, created_at: false, updated_at: false },
  predictions: {
    request_id: false,
    variant: false,
    deployment: false,
    model: false,
    model_version: false,
    inputs: false,
    outputs: false,
    latency_ms: false,
    created_at: false,
  },
  feedback: {
    request_id: false,
    row_index: false,
    kind: false,
    label: true,
    value: true,
    created_at: false,
    received_at: false,
  },
};

function isCode(code: string) {
  return (error: unknown) => isBallastError(error) && error.code === code;
}

async function insertPrediction(store: Store, requestId: string, latencyMs: number, createdAt: number) {
  await store.db
    .insertInto("predictions")
    .values({
      request_id: requestId,
      variant: "stable",
      deployment: "fraud",
      model: "fraud",
      model_version: 1,
      inputs: "{}",
      outputs: "{}",
      latency_ms: latencyMs,
      created_at: createdAt,
    })
    .execute();
}

describe("openStore URLs", () => {
  test("an unsupported URL is invalid, names the accepted forms and hides the password", async () => {
    await assert.rejects(
      openStore({ dataDir: "/nonexistent", url: "mysql://user:hunter2@db:3306/ballast" }),
      (error: unknown) =>
        isCode("invalid_argument")(error) &&
        error instanceof Error &&
        error.message.includes("postgres://") &&
        error.message.includes("postgresql://") &&
        !error.message.includes("hunter2"),
    );
  });

  test("an unreachable PostgreSQL server is unavailable, and the password stays hidden", async () => {
    await assert.rejects(
      openStore({ dataDir: "/nonexistent", url: "postgresql://user:hunter2@127.0.0.1:1/ballast" }),
      (error: unknown) =>
        isCode("unavailable")(error) &&
        error instanceof Error &&
        error.message.includes("127.0.0.1:1") &&
        !error.message.includes("hunter2"),
    );
  });
});

describe("sqlite specifics", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  test("creates the data dir and the file, in WAL mode with foreign keys and a busy timeout", async () => {
    const dataDir = join(dir.path, "nested", "data");
    const store = await openStore({ dataDir });
    try {
      assert.equal(store.dialect, "sqlite");
      assert.ok(existsSync(join(dataDir, SQLITE_FILE)));
      const pragma = async (name: string) =>
        Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
      assert.equal(String(await pragma("journal_mode")).toLowerCase(), "wal");
      assert.equal(await pragma("foreign_keys"), 1);
      assert.equal(await pragma("busy_timeout"), 5000);
    } finally {
      await store.close();
    }
  });

  test("a file that is not a database, or a data dir that is a file, is unavailable naming the path", async () => {
    const garbled = join(dir.path, "garbled");
    await mkdir(garbled);
    await writeFile(join(garbled, SQLITE_FILE), "this is not a SQLite file, just long enough to be read...");
    await assert.rejects(
      openStore({ dataDir: garbled }),
      (error: unknown) => isCode("unavailable")(error) && String(error).includes(join(garbled, SQLITE_FILE)),
    );
    const plainFile = join(dir.path, "plain-file");
    await writeFile(plainFile, "");
    await assert.rejects(openStore({ dataDir: plainFile }), isCode("unavailable"));
  });

  test("processes opening the same fresh data dir together all succeed, and migrate once", async () => {
    const dataDir = join(dir.path, "raced");
    const dbModule = resolve(fileURLToPath(import.meta.url), "../../../src/store/db.ts");
    // Each child loads the code, says "ready", and opens the store only when the parent says
    // "go" on stdin: a barrier, so the opens really overlap instead of being staggered by startup.
    const script = `
      const { openStore } = await import(${JSON.stringify(dbModule)});
      process.stdout.write("ready\\n");
      process.stdin.once("data", async () => {
        const store = await openStore({ dataDir: ${JSON.stringify(dataDir)} });
        await store.close();
        process.exit(0);
      });`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        stdio: ["pipe", "pipe", "pipe"],
      }),
    );
    const exits = children.map(
      (child) =>
        new Promise<{ code: number | null; stderr: string }>((done) => {
          let stderr = "";
          child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
          child.on("close", (code) => done({ code, stderr }));
        }),
    );
    await Promise.all(
      children.map((child) => new Promise<void>((ready) => child.stdout.once("data", () => ready()))),
    );
    for (const child of children) child.stdin.end("go\n");
    for (const r of await Promise.all(exits)) assert.equal(r.code, 0, r.stderr);
    const store = await openStore({ dataDir });
    try {
      const rows = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(
        store.db,
      );
      assert.deepEqual(
        rows.rows.map((r) => r.name),
        Object.keys(MIGRATIONS),
      );
    } finally {
      await store.close();
    }
  });
});

describeStores("store", (c) => {
  test("tables and columns match the schema", async () => {
    const { store, cleanup } = await c.open();
    try {
      const tables = await store.db.introspection.getTables();
      for (const [table, columns] of Object.entries(EXPECTED_COLUMNS)) {
        const found = tables.find((t) => t.name === table);
        assert.ok(found, `table ${table} exists`);
        const actual = Object.fromEntries(found.columns.map((col) => [col.name, col.isNullable]));
        assert.deepEqual(actual, columns, `columns of ${table}`);
      }
    } finally {
      await cleanup();
    }
  });

  test("reals are double precision and times are INT8 read back as numbers", async () => {
    const { store, cleanup } = await c.open();
    try {
      // 0.1 survives only in float8; float4 ('real') would give 0.10000000149011612.
      const createdAt = 1_734_567_890_123;
      await insertPrediction(store, "r1", 0.1, createdAt);
      const row = await store.db.selectFrom("predictions").selectAll().executeTakeFirstOrThrow();
      assert.equal(row.latency_ms, 0.1);
      assert.equal(row.created_at, createdAt);
      assert.equal(typeof row.created_at, "number");
      const count = await store.db
        .selectFrom("predictions")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(count.n, 1);
      await store.db
        .insertInto("feedback")
        .values({
          request_id: "r1",
          row_index: 0,
          kind: "label",
          label: "1",
          value: 0.1,
          created_at: createdAt,
          received_at: 5,
        })
        .execute();
      const feedback = await store.db.selectFrom("feedback").selectAll().executeTakeFirstOrThrow();
      assert.equal(feedback.value, 0.1);
      assert.equal(feedback.received_at, 5);
    } finally {
      await cleanup();
    }
  });

  test("feedback.received_at has no default: the writer must set it", async () => {
    const { store, cleanup } = await c.open();
    try {
      await assert.rejects(
        store.db
          .insertInto("feedback")
          .values({ request_id: "r1", row_index: 0, kind: "label", label: null, value: null, created_at: 1 })
          .execute(),
      );
    } finally {
      await cleanup();
    }
  });

  test("keys: a second prediction with the same (request_id, variant) is refused", async () => {
    const { store, cleanup } = await c.open();
    try {
      await insertPrediction(store, "r1", 1, 1);
      await assert.rejects(insertPrediction(store, "r1", 2, 2));
    } finally {
      await cleanup();
    }
  });

  test("migrations are idempotent: reopening keeps the data and records each migration once", async () => {
    const opened = await c.open();
    try {
      await insertPrediction(opened.store, "kept", 1.5, 42);
      await opened.store.close();
      await opened.store.close(); // closing twice is harmless
      const url = "url" in opened ? opened.url : undefined;
      for (let i = 0; i < 2; i++) {
        const again = await openStore({ dataDir: opened.dataDir, ...(url === undefined ? {} : { url }) });
        try {
          const rows = await again.db.selectFrom("predictions").select("request_id").execute();
          assert.deepEqual(rows, [{ request_id: "kept" }]);
          const applied = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)}`.execute(
            again.db,
          );
          assert.deepEqual(
            applied.rows.map((r) => r.name),
            Object.keys(MIGRATIONS),
          );
        } finally {
          await again.close();
        }
      }
    } finally {
      await opened.cleanup();
    }
  });

  if (c.name === "postgres") {
    test("INT8 parsing is set on the pool, not on the global pg.types", async () => {
      const { store, cleanup } = await c.open();
      try {
        assert.equal(store.dialect, "postgres");
        const parse = pg.types.getTypeParser(pg.types.builtins.INT8) as (value: string) => unknown;
        assert.equal(parse("5"), "5");
        const row = await sql<{
          big: unknown;
          exact: unknown;
        }>`select 5::int8 as big, 2.25::numeric as exact`.execute(store.db);
        assert.deepEqual(row.rows[0], { big: 5, exact: 2.25 });
      } finally {
        await cleanup();
      }
    });
  }
});
