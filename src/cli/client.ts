/**
 * How CLI commands talk to a running server. Errors come back as the server sent them
 * (`{"error": "..."}`) and are rethrown as typed errors so the CLI prints one line.
 */
import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import { BallastError, isErrorCode, type ErrorCode } from "../domain/errors.js";

export const DEFAULT_SERVER = process.env.BALLAST_SERVER ?? "http://127.0.0.1:8080";

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  429: "rate_limited",
  502: "upstream",
  503: "unavailable",
  504: "timeout",
};

/** How often a call the server asked for again later is sent again before its answer is reported. */
const MAX_RETRIES = 30;
/** The longest wait a server's Retry-After may ask for, so a wrong header cannot hang the CLI. */
const MAX_RETRY_AFTER_MS = 30_000;

/** Retry-After in seconds (the form Ballast sends); absent or unreadable: one second. */
export function retryAfterMs(header: string | null): number {
  const seconds = header === null ? NaN : Number(header);
  if (!Number.isFinite(seconds) || seconds < 0) return 1000;
  return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
}

/**
 * Whether the server asked for the same call again later, having done nothing with it: a 429
 * (over a rate), or a 503 with Retry-After (shed, circuit open, store busy). A 503 without it
 * (not ready, a router whose specialists all failed) says nothing of when it would do better,
 * so it is reported rather than sent again blindly.
 */
function askedAgainLater(response: { status: number; headers: Headers }): boolean {
  return response.status === 429 || (response.status === 503 && response.headers.has("retry-after"));
}

/** The flags of every command that talks to a server. */
export interface ServerFlags {
  readonly server: string;
  readonly token?: string;
}

/**
 * Adds `--server` and `--token` to a command. Every command that calls a server takes both, so
 * the error that asks for a token (exit 6) can always be answered on the same command line.
 */
export function serverOptions(command: Command): Command {
  return command
    .option("--server <url>", "Ballast server (or $BALLAST_SERVER)", DEFAULT_SERVER)
    .option("--token <token>", "API token, if the server requires one (default: $BALLAST_TOKEN)");
}

export function clientFor(flags: ServerFlags): ServerClient {
  return new ServerClient(flags.server, flags.token);
}

export class ServerClient {
  constructor(
    readonly baseUrl: string = DEFAULT_SERVER,
    private readonly token: string | undefined = process.env.BALLAST_TOKEN,
  ) {}

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    stream?: { body: ReadableStream; size: number },
  ): Promise<T> {
    const auth: Record<string, string> =
      this.token === undefined || this.token === "" ? {} : { authorization: `Bearer ${this.token}` };
    const init: RequestInit & { duplex?: "half" } = { method, headers: { ...auth, ...headers } };
    if (stream !== undefined) {
      init.body = stream.body;
      init.duplex = "half";
      (init.headers as Record<string, string>)["content-type"] = "application/octet-stream";
      (init.headers as Record<string, string>)["content-length"] = String(stream.size);
    } else if (body instanceof Uint8Array) {
      init.body = body;
      (init.headers as Record<string, string>)["content-type"] ??= "application/octet-stream";
    } else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), init);
      // The same call is sent again when the server says; a streamed upload cannot be
      // replayed and fails instead.
      for (let retry = 0; askedAgainLater(response) && stream === undefined && retry < MAX_RETRIES; retry++) {
        await response.body?.cancel();
        await sleep(retryAfterMs(response.headers.get("retry-after")));
        response = await fetch(new URL(path, this.baseUrl), init);
      }
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new BallastError(
        "unavailable",
        `cannot reach ${this.baseUrl} (${cause}); is \`ballast serve\` running, and is --server right?`,
      );
    }
    const text = await response.text();
    const parsed: unknown = text.length > 0 ? safeJson(text) : undefined;
    if (!response.ok) throw errorFrom(response, parsed);
    return parsed as T;
  }
}

/**
 * The server's error as a typed one: its `code` when it sends a known one (Ballast does),
 * else the status read as a code (a proxy in between, an older server).
 */
export function errorFrom(response: { status: number; statusText: string }, parsed: unknown): BallastError {
  const body = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const message = typeof body.error === "string" ? body.error : `${response.status} ${response.statusText}`;
  const sent = typeof body.code === "string" && isErrorCode(body.code) ? body.code : undefined;
  const details =
    typeof body.details === "object" && body.details !== null && !Array.isArray(body.details)
      ? (body.details as Record<string, unknown>)
      : undefined;
  return new BallastError(sent ?? CODE_BY_STATUS[response.status] ?? "internal", message, details);
}

/** Streams a file to the server (used for artifact uploads, which may be large). */
export async function uploadFile<T>(client: ServerClient, path: string, filePath: string): Promise<T> {
  const { createReadStream } = await import("node:fs");
  const { stat } = await import("node:fs/promises");
  const size = (
    await stat(filePath).catch(() => {
      throw new BallastError("not_found", `no such file: ${filePath}`);
    })
  ).size;
  const body = createReadStream(filePath) as unknown as ReadableStream;
  return client.request<T>("POST", path, undefined, {}, { body, size });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
