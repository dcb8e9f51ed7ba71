/**
 * Model artifacts, stored once per content: `<dataDir>/artifacts/sha256/<aa>/<hash>`. A version
 * row names its artifact by hash, so the bytes a version serves can never change under it, and
 * registering the same file twice costs no space.
 *
 * With a database copy (PostgreSQL, several replicas) every artifact stored is also written to
 * the database, and the data directory is a cache: `ensureLocal` brings a missing file down,
 * checked against its hash, before anything reads it. Without one (SQLite, one node) the files
 * are the only copy.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { BallastError, invalid, notFound } from "../domain/errors.js";
import type { ArtifactCopies } from "./artifact-copies.js";

export interface StoredArtifact {
  /** Lowercase hex. */
  readonly sha256: string;
  readonly size: number;
  /** Absolute path of the stored copy. */
  readonly path: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class ArtifactStore {
  private readonly root: string;
  /** Downloads under way, one per hash. */
  private readonly fetching = new Map<string, Promise<string>>();

  constructor(
    dataDir: string,
    private readonly copies?: ArtifactCopies,
  ) {
    this.root = resolve(dataDir, "artifacts", "sha256");
  }

  /** Streams the file through sha256 into the store; the source may be any size. */
  async put(sourcePath: string): Promise<StoredArtifact> {
    return this.shared(await this.putLocal(sourcePath));
  }

  async putBytes(bytes: Uint8Array): Promise<StoredArtifact> {
    return this.shared(await this.putBytesLocal(bytes));
  }

  /**
   * The path of the artifact's file, once it is there: a file missing from this data directory
   * is fetched from the database copy (into a temp file, checked against its hash, renamed), one
   * fetch per hash however many callers wait for it.
   */
  async ensureLocal(sha256: string): Promise<string> {
    const path = this.pathFor(sha256);
    if (await this.exists(sha256, "local")) return path;
    let fetching = this.fetching.get(sha256);
    if (fetching === undefined) {
      fetching = this.fetchCopy(sha256).finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, fetching);
    }
    return fetching;
  }

  /**
   * Copies every artifact of this data directory that the database lacks (those stored before
   * the database kept copies, or by a replica that crashed before copying); returns how many.
   */
  async shareLocal(): Promise<number> {
    if (this.copies === undefined) return 0;
    let shared = 0;
    for (const prefix of await readdir(this.root).catch(() => [])) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(join(this.root, prefix))) {
        if (!SHA256_HEX.test(name) || name.slice(0, 2) !== prefix || (await this.copies.has(name))) continue;
        const path = this.pathFor(name);
        await this.copies.upload(name, (await stat(path)).size, path);
        shared++;
      }
    }
    return shared;
  }

  private async shared(stored: StoredArtifact): Promise<StoredArtifact> {
    await this.copies?.upload(stored.sha256, stored.size, stored.path);
    return stored;
  }

  private async fetchCopy(sha256: string): Promise<string> {
    const copy = await this.copies?.find(sha256);
    if (copy === undefined) {
      throw notFound(
        this.copies === undefined
          ? `artifact sha256:${sha256} is not in this data directory`
          : `artifact sha256:${sha256} is neither in this data directory nor in the database`,
        { sha256 },
      );
    }
    const temp = await this.openTemp();
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const chunk of copy.chunks) {
        hash.update(chunk);
        size += chunk.length;
        await temp.handle.write(chunk);
      }
      await temp.handle.sync();
    } catch (error) {
      await temp.discard();
      throw error;
    }
    await temp.handle.close();
    const actual = hash.digest("hex");
    if (actual !== sha256 || size !== copy.size) {
      await unlink(temp.path).catch(() => {});
      throw new BallastError(
        "internal",
        `artifact sha256:${sha256} in the database is damaged: its chunks hold ${size} bytes ` +
          `hashing to sha256:${actual} (expected ${copy.size} bytes); store the artifact again`,
        { sha256 },
      );
    }
    return (await this.commit(temp.path, sha256, size)).path;
  }

  private async putLocal(sourcePath: string): Promise<StoredArtifact> {
    await this.checkSource(sourcePath);
    // A file already stored here (an upload being registered) is its own hash: no second copy.
    const stored = await this.alreadyStored(sourcePath);
    if (stored !== undefined) return stored;
    const hash = createHash("sha256");
    let size = 0;
    const temp = await this.writeTemp(async (handle) => {
      for await (const chunk of createReadStream(sourcePath) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
    });
    return this.commit(temp, hash.digest("hex"), size);
  }

  private async putBytesLocal(bytes: Uint8Array): Promise<StoredArtifact> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const existing = await this.existing(sha256, bytes.length);
    if (existing !== undefined) return existing;
    const temp = await this.writeTemp((handle) => handle.write(bytes));
    return this.commit(temp, sha256, bytes.length);
  }

  /** A temp file written by `write` and synced (removed again if writing fails); its path. */
  private async writeTemp(write: (handle: FileHandle) => Promise<unknown>): Promise<string> {
    const temp = await this.openTemp();
    try {
      await write(temp.handle);
      await temp.handle.sync();
    } catch (error) {
      await temp.discard();
      throw error;
    }
    await temp.handle.close();
    return temp.path;
  }

  pathFor(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) {
      throw invalid(`not a sha256 digest: ${JSON.stringify(sha256)} (expected 64 lowercase hex digits)`, {
        field: "sha256",
      });
    }
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  private async alreadyStored(sourcePath: string): Promise<StoredArtifact | undefined> {
    const path = resolve(sourcePath);
    const name = basename(path);
    if (!SHA256_HEX.test(name) || path !== this.pathFor(name)) return undefined;
    return { sha256: name, size: (await stat(path)).size, path };
  }

  /** Whether the artifact is stored: here, or (by default) in the database copy too. */
  async exists(sha256: string, where: "local" | "anywhere" = "anywhere"): Promise<boolean> {
    try {
      if ((await stat(this.pathFor(sha256))).isFile()) return true;
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    return where === "anywhere" && this.copies !== undefined && this.copies.has(sha256);
  }

  private async checkSource(sourcePath: string): Promise<void> {
    let info;
    try {
      info = await stat(sourcePath);
    } catch (error) {
      if (isMissing(error)) throw notFound(`artifact file not found: ${sourcePath}`, { path: sourcePath });
      throw error;
    }
    if (!info.isFile())
      throw invalid(`artifact must be a file, not a directory: ${sourcePath}`, { path: sourcePath });
  }

  /**
   * Temp files live inside the store so the final rename stays on one filesystem and is
   * atomic: a crash leaves at most a stray temp file, never a half-written artifact.
   */
  private async openTemp(): Promise<{ path: string; handle: FileHandle; discard: () => Promise<void> }> {
    const dir = join(this.root, "tmp");
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${process.pid}-${randomBytes(8).toString("hex")}`);
    const handle = await open(path, "wx");
    const discard = async (): Promise<void> => {
      await handle.close().catch(() => {});
      await unlink(path).catch(() => {});
    };
    return { path, handle, discard };
  }

  private async commit(tempPath: string, sha256: string, size: number): Promise<StoredArtifact> {
    const existing = await this.existing(sha256, size);
    if (existing !== undefined) {
      await unlink(tempPath);
      return existing;
    }
    const path = this.pathFor(sha256);
    await mkdir(dirname(path), { recursive: true });
    await rename(tempPath, path);
    await syncDirectory(dirname(path));
    return { sha256, size, path };
  }

  /**
   * An artifact already stored under this hash is kept as it is. A size mismatch can only mean
   * damage (the name is the hash of the content), so that copy is replaced rather than trusted.
   */
  private async existing(sha256: string, size: number): Promise<StoredArtifact | undefined> {
    const path = this.pathFor(sha256);
    try {
      const info = await stat(path);
      return info.isFile() && info.size === size ? { sha256, size, path } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }
}

/** Makes the rename itself durable: a registration acknowledged is a registration kept. */
async function syncDirectory(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is already synced.
  } finally {
    await handle?.close();
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR");
}
