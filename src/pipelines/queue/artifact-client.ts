/**
 * A worker's way to the server's artifacts: inputs downloaded by hash (checked as they stream
 * to disk), outputs uploaded with the hash computed first (the server checks it again). Only
 * the server's URL and a token are needed; nothing is shared on disk.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";

export interface ArtifactClient {
  /** Writes the artifact to `path`; rejects when the server has none or the bytes do not hash right. */
  download(sha256: string, path: string, signal?: AbortSignal): Promise<void>;
  /** Uploads the file; resolves with its hash and size as the server stored it. */
  upload(path: string, signal?: AbortSignal): Promise<{ sha256: string; bytes: number }>;
}

export const CONTENT_SHA256_HEADER = "x-content-sha256";

export function httpArtifactClient(server: string, token?: string): ArtifactClient {
  const base = server.replace(/\/+$/, "");
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    async download(sha256, path, signal) {
      const response = await fetch(`${base}/api/v1/artifacts/${sha256}`, { headers: auth, signal });
      if (!response.ok || response.body === null)
        throw new Error(
          `artifact sha256:${sha256}: the server answered ${response.status} ${await textOf(response)}`,
        );
      const hash = createHash("sha256");
      const temp = `${path}.part`;
      try {
        await pipeline(
          Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
          new Transform({
            transform(chunk: Buffer, _encoding, done) {
              hash.update(chunk);
              done(null, chunk);
            },
          }),
          createWriteStream(temp),
        );
        const actual = hash.digest("hex");
        if (actual !== sha256) throw new Error(`artifact sha256:${sha256} arrived as ${actual}`);
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
    },

    async upload(path, signal) {
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      const sha256 = hash.digest("hex");
      const { size } = await stat(path);
      const response = await fetch(`${base}/api/v1/artifacts`, {
        method: "PUT",
        headers: {
          ...auth,
          "content-type": "application/octet-stream",
          "content-length": String(size),
          [CONTENT_SHA256_HEADER]: sha256,
        },
        body: Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>,
        // Node's fetch streams a request body only when told it is half-duplex.
        duplex: "half",
        signal,
      } as RequestInit);
      if (response.status !== 201)
        throw new Error(
          `upload of ${path}: the server answered ${response.status} ${await textOf(response)}`,
        );
      const body = (await response.json()) as { sha256: string; size: number };
      if (body.sha256 !== sha256)
        throw new Error(`upload of ${path}: stored as ${body.sha256}, expected ${sha256}`);
      return { sha256, bytes: size };
    },
  };
}

async function textOf(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  return text.slice(0, 500);
}
