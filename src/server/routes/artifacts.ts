/**
 * Artifacts by hash, for `ballast worker`s: a worker downloads a step's inputs
 * (`GET /api/v1/artifacts/{sha256}`) and uploads its outputs (`PUT /api/v1/artifacts` with the
 * hash it computed in `x-content-sha256`), so a queue job carries no data and a worker needs only
 * the server's URL, a token and the queue. Both need the operator role: datasets are production
 * data, not metadata. An upload is bounded (the artifact limit), hashed as it streams, and
 * refused (nothing stored) when the hash is not the one claimed.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid, notFound } from "../../domain/errors.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;
export const CONTENT_SHA256_HEADER = "x-content-sha256";

export function artifactRoutes(ballast: Ballast, options: { artifactLimit: number }): FastifyPluginAsync {
  const { artifacts } = ballast;
  return async (app) => {
    app.get<{ Params: { sha256: string } }>("/api/v1/artifacts/:sha256", async (request, reply) => {
      const sha256 = request.params.sha256.replace(/^sha256:/, "");
      if (!SHA256_HEX.test(sha256))
        throw invalid("sha256 must be 64 lowercase hex digits", { field: "sha256" });
      if (!(await artifacts.exists(sha256))) throw notFound(`no artifact sha256:${sha256}`);
      const path = await artifacts.ensureLocal(sha256);
      const { size } = await stat(path);
      return reply
        .header("content-type", "application/octet-stream")
        .header("content-length", size)
        .header(CONTENT_SHA256_HEADER, sha256)
        .send(createReadStream(path));
    });

    // Uploads stream to a temporary file through sha256 and are then stored under it.
    await app.register(async (uploads) => {
      uploads.addContentTypeParser(
        "application/octet-stream",
        { bodyLimit: options.artifactLimit },
        (_req, payload, done) => done(null, payload),
      );
      uploads.put("/api/v1/artifacts", { bodyLimit: options.artifactLimit }, async (request, reply) => {
        const claimed = request.headers[CONTENT_SHA256_HEADER];
        if (typeof claimed !== "string" || !SHA256_HEX.test(claimed))
          throw invalid(`send the artifact's sha256 (64 lowercase hex digits) in ${CONTENT_SHA256_HEADER}`, {
            field: CONTENT_SHA256_HEADER,
          });
        if (!(request.body instanceof Object) || typeof (request.body as Readable).pipe !== "function")
          throw invalid("send the artifact bytes with content-type application/octet-stream");
        const dir = join(ballast.dataDir, "uploads");
        await mkdir(dir, { recursive: true });
        const temp = join(dir, randomUUID());
        const hash = createHash("sha256");
        let bytes = 0;
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        });
        try {
          await pipeline(request.body as Readable, hashing, createWriteStream(temp));
          const actual = hash.digest("hex");
          if (actual !== claimed)
            throw invalid(
              `the bytes sent hash to ${actual}, not the ${claimed} claimed; nothing was stored`,
              {
                field: CONTENT_SHA256_HEADER,
              },
            );
          const stored = await artifacts.put(temp);
          return reply
            .status(201)
            .send({ artifact: `sha256:${stored.sha256}`, sha256: stored.sha256, size: bytes });
        } finally {
          await rm(temp, { force: true });
        }
      });
    });
  };
}
