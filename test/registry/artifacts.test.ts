import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isBallastError } from "../../src/domain/errors.js";
import { ArtifactStore } from "../../src/registry/artifacts.js";
import { tempDir } from "../helpers/stores.js";

// FIPS 180-2 test vectors, independent of node:crypto.
const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("ArtifactStore", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ArtifactStore;
  let dataDir: string;
  let n = 0;
  const source = async (content: string | Uint8Array) => {
    const path = join(dir.path, "sources", `file-${n++}`);
    await mkdir(join(dir.path, "sources"), { recursive: true });
    await writeFile(path, content);
    return path;
  };

  before(async () => {
    dir = await tempDir();
  });
  after(() => dir.remove());

  test("stores a file under artifacts/sha256/<first two hex>/<hash>", async () => {
    dataDir = join(dir.path, "data-1");
    store = new ArtifactStore(dataDir);
    const stored = await store.put(await source("abc"));
    assert.equal(stored.sha256, ABC_SHA256);
    assert.equal(stored.size, 3);
    assert.equal(stored.path, join(dataDir, "artifacts", "sha256", "ba", ABC_SHA256));
    assert.equal(await readFile(stored.path, "utf8"), "abc");
    assert.equal(store.pathFor(ABC_SHA256), stored.path);
    assert.equal(await store.exists(ABC_SHA256), true);
  });

  test("an empty file is a valid artifact", async () => {
    const stored = await new ArtifactStore(join(dir.path, "data-empty")).put(await source(""));
    assert.equal(stored.sha256, EMPTY_SHA256);
    assert.equal(stored.size, 0);
  });

  test("a file larger than one read chunk hashes the same as the whole", async () => {
    // A million 'a's (FIPS 180-2's long test vector) spans many 64 KiB stream chunks.
    const million = "a".repeat(1_000_000);
    const stored = await new ArtifactStore(join(dir.path, "data-big")).put(await source(million));
    assert.equal(stored.sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    assert.equal(stored.size, 1_000_000);
  });

  test("the same content is stored once and an existing artifact is not rewritten", async () => {
    const first = await store.put(await source("abc"));
    const before = await stat(first.path);
    const second = await store.put(await source("abc"));
    const viaBytes = await store.putBytes(new TextEncoder().encode("abc"));
    assert.deepEqual(second, first);
    assert.deepEqual(viaBytes, first);
    const afterStat = await stat(first.path);
    assert.equal(afterStat.ino, before.ino);
    assert.equal(afterStat.mtimeMs, before.mtimeMs);
    assert.deepEqual(await readdir(join(dataDir, "artifacts", "sha256", "ba")), [ABC_SHA256]);
  });

  test("no temp files are left behind", async () => {
    await store.put(await source("left behind?"));
    await store.putBytes(new Uint8Array([1, 2, 3]));
    const tmp = join(dataDir, "artifacts", "sha256", "tmp");
    assert.deepEqual(await readdir(tmp).catch(() => []), []);
  });

  test("putBytes stores bytes content-addressed", async () => {
    const bytes = new TextEncoder().encode("abc");
    const stored = await new ArtifactStore(join(dir.path, "data-bytes")).putBytes(bytes);
    assert.equal(stored.sha256, ABC_SHA256);
    assert.equal(await readFile(stored.path, "utf8"), "abc");
  });

  test("a damaged copy (wrong size) is replaced, not trusted", async () => {
    const fresh = new ArtifactStore(join(dir.path, "data-damaged"));
    const path = fresh.pathFor(ABC_SHA256);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, "ab");
    const stored = await fresh.put(await source("abc"));
    assert.equal(await readFile(stored.path, "utf8"), "abc");
  });

  test("a missing source is not_found naming the path", async () => {
    const missing = join(dir.path, "no-such-model.onnx");
    await assert.rejects(
      store.put(missing),
      (error: unknown) =>
        isBallastError(error) && error.code === "not_found" && error.message.includes(missing),
    );
  });

  test("a directory is not an artifact", async () => {
    await assert.rejects(
      store.put(dir.path),
      (error: unknown) => isBallastError(error) && error.code === "invalid_argument",
    );
  });

  test("pathFor and exists refuse anything but a sha256 hex digest", async () => {
    for (const bad of ["../../etc/passwd", ABC_SHA256.toUpperCase(), ABC_SHA256.slice(1), ""]) {
      assert.throws(
        () => store.pathFor(bad),
        (error: unknown) => isBallastError(error) && error.code === "invalid_argument",
      );
    }
    await assert.rejects(store.exists("nope"));
    assert.equal(await store.exists(EMPTY_SHA256.replace(/^e3/, "00")), false);
  });
});
