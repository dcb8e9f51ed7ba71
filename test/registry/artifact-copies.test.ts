import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sql } from "kysely";
import { isBallastError } from "../../src/domain/errors.js";
import { ArtifactCopies } from "../../src/registry/artifact-copies.js";
import { ArtifactStore } from "../../src/registry/artifacts.js";
import { describeStores, tempDir, type OpenedStore } from "../helpers/stores.js";

const CHUNK = 64 * 1024;

describeStores("Artifacts shared through the database", (c) => {
  let opened: OpenedStore;
  let dirs: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  /** A replica: its own data directory, the one database. */
  const replica = (
    copies = new ArtifactCopies(opened.store.db, opened.store.dialect, { chunkBytes: CHUNK }),
  ) => new ArtifactStore(join(dirs.path, `replica-${n++}`), copies);
  const source = async (bytes: Uint8Array): Promise<string> => {
    const path = join(dirs.path, `source-${n++}`);
    await writeFile(path, bytes);
    return path;
  };
  const damaged = (error: unknown) =>
    isBallastError(error) && error.code === "internal" && /in the database is damaged/.test(error.message);

  before(async () => {
    opened = await c.open();
    dirs = await tempDir();
  });
  after(async () => {
    await dirs.remove();
    await opened.cleanup();
  });

  test("a file put through one replica is read, byte for byte, through another", async () => {
    const bytes = randomBytes(5 * CHUNK + 123); // six chunks, the last one short
    const a = replica();
    const b = replica();
    const stored = await a.put(await source(bytes));
    assert.equal(await b.exists(stored.sha256, "local"), false);
    assert.equal(await b.exists(stored.sha256), true, "the database copy counts as stored");
    const path = await b.ensureLocal(stored.sha256);
    assert.equal(path, b.pathFor(stored.sha256));
    assert.deepEqual(await readFile(path), bytes);
    const chunks = await opened.store.db
      .selectFrom("artifact_chunks")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("sha256", "=", stored.sha256)
      .executeTakeFirstOrThrow();
    assert.equal(Number(chunks.n), 6);
  });

  test("putBytes shares too, and storing the same content again adds no second copy", async () => {
    const bytes = randomBytes(1000);
    const a = replica();
    const stored = await a.putBytes(bytes);
    await a.put(await source(bytes));
    await replica().putBytes(bytes);
    assert.deepEqual(await readFile(await replica().ensureLocal(stored.sha256)), bytes);
    const rows = await opened.store.db
      .selectFrom("artifact_blobs")
      .selectAll()
      .where("sha256", "=", stored.sha256)
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.size, 1000);
  });

  test("replicas storing the same content at once leave one complete copy", async () => {
    const bytes = randomBytes(3 * CHUNK);
    const path = await source(bytes);
    const [first] = await Promise.all([replica().put(path), replica().put(path), replica().put(path)]);
    assert.deepEqual(await readFile(await replica().ensureLocal(first.sha256)), bytes);
  });

  test("callers waiting for the same artifact share one download", async () => {
    const bytes = randomBytes(2 * CHUNK);
    const stored = await replica().putBytes(bytes);
    const copies = new ArtifactCopies(opened.store.db, opened.store.dialect, { chunkBytes: CHUNK });
    let finds = 0;
    const find = copies.find.bind(copies);
    copies.find = (sha256) => {
      finds++;
      return find(sha256);
    };
    const b = replica(copies);
    const paths = await Promise.all([b.ensureLocal(stored.sha256), b.ensureLocal(stored.sha256)]);
    assert.equal(finds, 1);
    assert.equal(paths[0], paths[1]);
    assert.equal(await b.ensureLocal(stored.sha256), paths[0], "a file already here is not fetched again");
    assert.equal(finds, 1);
  });

  test("a damaged chunk fails with a clear error and leaves no file", async () => {
    const bytes = randomBytes(3 * CHUNK);
    const stored = await replica().putBytes(bytes);
    await opened.store.db
      .updateTable("artifact_chunks")
      .set({ bytes: Buffer.from("not what was stored") })
      .where("sha256", "=", stored.sha256)
      .where("seq", "=", 1)
      .execute();
    const b = replica();
    await assert.rejects(b.ensureLocal(stored.sha256), damaged);
    assert.equal(await b.exists(stored.sha256, "local"), false);
    const tmp = join(b.pathFor(stored.sha256), "..", "..", "tmp");
    assert.deepEqual(await readdir(tmp).catch(() => []), []);
  });

  test("a missing chunk fails naming the chunk", async () => {
    const stored = await replica().putBytes(randomBytes(3 * CHUNK));
    await sql`delete from artifact_chunks where sha256 = ${stored.sha256} and seq = 2`.execute(
      opened.store.db,
    );
    await assert.rejects(
      replica().ensureLocal(stored.sha256),
      (error: unknown) => isBallastError(error) && /chunk 2 of 3 is missing/.test(error.message),
    );
  });

  test("artifacts stored before the database kept copies are shared by shareLocal", async () => {
    const dataDir = join(dirs.path, `replica-${n++}`);
    const old = [randomBytes(10), randomBytes(2 * CHUNK)];
    const stored = await Promise.all(old.map((bytes) => new ArtifactStore(dataDir).putBytes(bytes)));
    const a = new ArtifactStore(dataDir, new ArtifactCopies(opened.store.db, opened.store.dialect));
    assert.equal(await replica().exists(stored[0]!.sha256), false);
    assert.equal(await a.shareLocal(), 2);
    assert.equal(await a.shareLocal(), 0, "nothing twice");
    const b = replica();
    for (const [i, s] of stored.entries())
      assert.deepEqual(await readFile(await b.ensureLocal(s.sha256)), old[i]);
  });

  test("a damaged local file is not copied to the database", async () => {
    const dataDir = join(dirs.path, `replica-${n++}`);
    const stored = await new ArtifactStore(dataDir).putBytes(randomBytes(100));
    await writeFile(stored.path, randomBytes(100)); // same size, other bytes
    const a = new ArtifactStore(dataDir, new ArtifactCopies(opened.store.db, opened.store.dialect));
    await assert.rejects(
      a.shareLocal(),
      (error: unknown) =>
        isBallastError(error) && /is damaged: .*not copied to the database/.test(error.message),
    );
    assert.equal(await replica().exists(stored.sha256), false);
    const chunks = await opened.store.db
      .selectFrom("artifact_chunks")
      .select("seq")
      .where("sha256", "=", stored.sha256)
      .execute();
    assert.deepEqual(chunks, [], "the transaction left nothing behind");
  });

  test("an artifact stored nowhere is not_found", async () => {
    const sha256 = createHash("sha256").update("never stored").digest("hex");
    await assert.rejects(
      replica().ensureLocal(sha256),
      (error: unknown) =>
        isBallastError(error) && error.code === "not_found" && error.message.includes(sha256),
    );
  });

  test("a replica whose cached file was removed fetches it again", async () => {
    const bytes = randomBytes(100);
    const a = replica();
    const stored = await a.putBytes(bytes);
    await rm(stored.path);
    assert.deepEqual(await readFile(await a.ensureLocal(stored.sha256)), bytes);
  });
});

test("without a database copy the data directory is the only copy", async () => {
  const dir = await tempDir();
  try {
    const store = new ArtifactStore(join(dir.path, "data"));
    const stored = await store.putBytes(new TextEncoder().encode("abc"));
    assert.equal(await store.ensureLocal(stored.sha256), stored.path);
    await rm(stored.path);
    assert.equal(await store.exists(stored.sha256), false);
    await assert.rejects(
      store.ensureLocal(stored.sha256),
      (error: unknown) => isBallastError(error) && error.code === "not_found",
    );
  } finally {
    await dir.remove();
  }
});
