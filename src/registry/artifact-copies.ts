/**
 * The database copy of artifacts, which every replica on one PostgreSQL database can read: the
 * bytes in chunks (`artifact_chunks`, 1 MiB by default) and a header row (`artifact_blobs`)
 * written last in the same transaction, so a header means a complete copy. Bytes stream in and
 * out one chunk at a time; a 200 MB model never sits in memory whole. Whoever reads checks the
 * bytes against their hash (`ArtifactStore.ensureLocal`), so a damaged chunk cannot pass as
 * the artifact.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { sql, type Kysely } from "kysely";
import type { StoreDialect } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { BallastError } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import { systemClock } from "../domain/clock.js";

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;

export interface ArtifactCopy {
  readonly size: number;
  /** The chunks in order; throws if one is missing. */
  readonly chunks: AsyncIterable<Buffer>;
}

export interface ArtifactCopiesOptions {
  readonly chunkBytes?: number;
  readonly clock?: Clock;
}

export class ArtifactCopies {
  private readonly chunkBytes: number;
  private readonly clock: Clock;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: StoreDialect,
    options: ArtifactCopiesOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.clock = options.clock ?? systemClock;
  }

  async has(sha256: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("artifact_blobs")
      .select("sha256")
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Copies a stored file (already named by its verified hash) into the database; a complete
   * copy already there is kept. Replicas uploading the same hash at once take turns.
   */
  async upload(sha256: string, size: number, path: string): Promise<void> {
    if (await this.has(sha256)) return;
    await this.db.transaction().execute(async (trx) => {
      if (this.dialect === "postgres") {
        await sql`select pg_advisory_xact_lock(hashtextextended(${`artifact:${sha256}`}, 0))`.execute(trx);
      }
      const done = await trx
        .selectFrom("artifact_blobs")
        .select("sha256")
        .where("sha256", "=", sha256)
        .executeTakeFirst();
      if (done !== undefined) return;
      let seq = 0;
      let written = 0;
      const hash = createHash("sha256");
      const stream = createReadStream(path, { highWaterMark: this.chunkBytes });
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        written += chunk.length;
        await trx.insertInto("artifact_chunks").values({ sha256, seq, bytes: chunk }).execute();
        seq++;
      }
      // The file is named by its hash, but a damaged one must not become every replica's copy.
      const actual = hash.digest("hex");
      if (actual !== sha256 || written !== size) {
        throw new BallastError(
          "internal",
          `artifact file ${path} is damaged: ${written} bytes hashing to sha256:${actual}, ` +
            `not sha256:${sha256} (${size} bytes); it was not copied to the database`,
          { sha256 },
        );
      }
      await trx
        .insertInto("artifact_blobs")
        .values({ sha256, size, chunks: seq, created_at: this.clock.now() })
        .execute();
    });
  }

  /** The complete copy under this hash, or undefined when there is none. */
  async find(sha256: string): Promise<ArtifactCopy | undefined> {
    const header = await this.db
      .selectFrom("artifact_blobs")
      .select(["size", "chunks"])
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    if (header === undefined) return undefined;
    const db = this.db;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let seq = 0; seq < header!.chunks; seq++) {
        const row = await db
          .selectFrom("artifact_chunks")
          .select("bytes")
          .where("sha256", "=", sha256)
          .where("seq", "=", seq)
          .executeTakeFirst();
        if (row === undefined) {
          throw new BallastError(
            "internal",
            `artifact sha256:${sha256} in the database is damaged: chunk ${seq} of ${header!.chunks} is missing`,
          );
        }
        yield Buffer.isBuffer(row.bytes) ? row.bytes : Buffer.from(row.bytes);
      }
    }
    return { size: header.size, chunks: chunks() };
  }
}
