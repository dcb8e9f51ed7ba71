/**
 * Model artifacts, stored once per content: `<dataDir>/artifacts/sha256/<aa>/<hash>`. A version
 * row names its artifact by hash, so the bytes a version serves can never change under it, and
 * registering the same file twice costs no space.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { invalid, notFound } from "../domain/errors.js";

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

  constructor(dataDir: string) {
    this.root = resolve(dataDir, "artifacts", "sha256");
  }

  /** Streams the file through sha256 into the store; the source may be any size. */
  async put(sourcePath: string): Promise<StoredArtifact> {
    await this.checkSource(sourcePath);
    // A file already stored here (an upload being registered) is its own hash: no second copy.
    const stored = await this.alreadyStored(sourcePath);
    if (stored !== undefined) return stored;
    const temp = await this.openTemp();
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const chunk of createReadStream(sourcePath) as AsyncIterable<Buffer>) {
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
    return this.commit(temp.path, hash.digest("hex"), size);
  }

  async putBytes(bytes: Uint8Array): Promise<StoredArtifact> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const existing = await this.existing(sha256, bytes.length);
    if (existing !== undefined) return existing;
    const temp = await this.openTemp();
    try {
      await temp.handle.write(bytes);
      await temp.handle.sync();
    } catch (error) {
      await temp.discard();
      throw error;
    }
    await temp.handle.close();
    return this.commit(temp.path, sha256, bytes.length);
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

  async exists(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.pathFor(sha256))).isFile();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
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
