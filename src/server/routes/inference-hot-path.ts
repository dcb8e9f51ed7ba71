/**
 * The inference routes' hot path: a route-level `onRequest` hook that reads and parses the body
 * itself, runs the same call the route handler runs, and writes the answer straight to the
 * socket. It skips what Fastify does between `onRequest` and the handler (content-type parser
 * lookup, preParsing/preValidation/preHandler runners, the async handler wrapper) and after it
 * (`reply.send`, onSend), which on a one-row request cost about as much as the model call.
 *
 * What it keeps is what those steps do for these routes: it runs after the app's own onRequest
 * hooks (request id header, token check), reads at most the body limit, refuses a body whose
 * length is not its Content-Length, parses with the app's JSON parser, and hands every error to
 * Fastify (`done(error)`), so the error handler answers it exactly as it answers the route's.
 * A body error closes the connection, as Fastify's parser does. A request the path does not
 * recognise as ordinary (no or an unusual content type, no Content-Length, chunked, empty, or
 * over the limit) goes on to the route unchanged.
 */
import type { IncomingMessage } from "node:http";
import { errorCodes, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from "fastify";

/** An inference answer as it goes out: its JSON text and the headers it adds to the request's. */
export interface InferenceAnswer {
  readonly text: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** How often each way was taken, so tests can tell the hot path answered them. */
export interface HotPathStats {
  /** Requests answered (or refused with an error) on the hot path. */
  taken: number;
  /** Requests left to the route because something about them was unusual. */
  passed: number;
}

/** Parses a body as the app's content-type parser does (its errors carry their status). */
export type BodyParser = (text: string) => Promise<unknown>;

/** The call a route makes once it has the parsed body. */
export type InferenceCall = (request: FastifyRequest, body: unknown) => Promise<InferenceAnswer>;

/** Content types the app's parser reads as JSON without question; others take the route. */
const PLAIN_JSON = new Set(["application/json", "application/json; charset=utf-8"]);

const JSON_TYPE = "application/json; charset=utf-8";

/** Content-Length as a positive integer within the limit, or undefined when it is anything else. */
function plainLength(request: FastifyRequest, limit: number): number | undefined {
  const headers = request.headers;
  if (headers["transfer-encoding"] !== undefined) return undefined;
  const type = headers["content-type"];
  if (type !== undefined && !PLAIN_JSON.has(type.toLowerCase())) return undefined;
  const raw = headers["content-length"];
  if (raw === undefined || !/^[1-9][0-9]{0,15}$/.test(raw)) return undefined;
  const length = Number(raw);
  return length <= limit ? length : undefined;
}

/** The body as text, with the checks Fastify's raw-body reader makes (and its errors). */
function readBody(
  raw: IncomingMessage,
  length: number,
  limit: number,
  done: (error: Error | null, text?: string) => void,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  const stop = (): void => {
    raw.removeListener("data", onData);
    raw.removeListener("end", onEnd);
    raw.removeListener("error", onEnd);
  };
  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limit) {
      stop();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    chunks.push(bytes);
  }
  function onEnd(error?: Error & { statusCode?: number }): void {
    stop();
    if (error != null) {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      done(error);
      return;
    }
    if (received !== length) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    const only = chunks.length === 1 ? chunks[0] : undefined;
    done(null, (only ?? Buffer.concat(chunks, received)).toString("utf8"));
  }
  raw.on("data", onData);
  raw.on("end", onEnd);
  raw.on("error", onEnd);
  raw.resume();
}

/** Writes a 200 answer with the headers hooks set before (request id) and the answer's own. */
function writeAnswer(reply: FastifyReply, answer: InferenceAnswer): void {
  const headers: Record<string, string | number | string[] | undefined> = reply.getHeaders();
  for (const name in answer.headers) headers[name] = answer.headers[name];
  headers["content-type"] = JSON_TYPE;
  headers["content-length"] = String(Buffer.byteLength(answer.text));
  reply.hijack();
  reply.raw.writeHead(200, headers);
  reply.raw.end(answer.text);
}

/**
 * A route-level onRequest hook for an inference route; `call` is what the route's handler calls,
 * so both ways give the same answer.
 */
export function hotPath(
  call: InferenceCall,
  options: { readonly parse: BodyParser; readonly bodyLimit: number; readonly stats: HotPathStats },
): onRequestHookHandler {
  const { parse, bodyLimit, stats } = options;
  return function inferenceHotPath(request, reply, done) {
    const length = request.method === "POST" ? plainLength(request, bodyLimit) : undefined;
    if (length === undefined) {
      stats.passed++;
      done();
      return;
    }
    stats.taken++;
    // As Fastify's parser does: after a body error the client may still be sending, so the
    // connection is not reused.
    const refuse = (error: unknown): void => {
      void reply.header("connection", "close");
      done(error as Error);
    };
    readBody(request.raw, length, bodyLimit, (error, text) => {
      if (error !== null) {
        refuse(error);
        return;
      }
      parse(text as string).then(
        (body) =>
          call(request, body).then(
            (answer) => {
              writeAnswer(reply, answer);
              done();
            },
            (failure: unknown) => done(failure as Error),
          ),
        refuse,
      );
    });
  };
}
