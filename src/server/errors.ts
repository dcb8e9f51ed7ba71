/**
 * The one place where errors become HTTP: status from the typed error's code, body in the
 * protocol's shape `{"error": "..."}` plus a stable `code` (and, for a client's own mistakes,
 * `details` such as the field at fault) that the CLI and other clients match on instead of
 * the status. Fastify's own errors (bad JSON, body too large, wrong content type) are mapped
 * here too, so a client never sees a 500 for its own mistake.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isBallastError, type ErrorCode } from "../domain/errors.js";
import { STATUS, statusFor } from "../domain/http-status.js";
import { storeBusyError } from "../store/busy.js";

export { statusFor };

/** What an error answer carries besides the message. */
export interface ErrorBody {
  readonly error: string;
  readonly code: ErrorCode;
  readonly details?: Record<string, string | number | boolean>;
}

/**
 * Detail fields a client may see: they name its own input or what it may do next. Others
 * (artifact paths, a remote's words, a receiver's URL) stay in the server log.
 */
const PUBLIC_DETAILS = [
  "field",
  "feature",
  "input",
  "row",
  "deployment",
  "version",
  "alias",
  "retryAfterSeconds",
] as const;

export function publicDetails(
  details: Record<string, unknown> | undefined,
): Record<string, string | number | boolean> | undefined {
  if (details === undefined) return undefined;
  const shown: Record<string, string | number | boolean> = {};
  for (const key of PUBLIC_DETAILS) {
    const value = details[key];
    if (typeof value === "number" || typeof value === "boolean") shown[key] = value;
    // A short string only: a field path or a name, never a quoted body.
    else if (typeof value === "string" && value.length <= 200) shown[key] = value;
  }
  return Object.keys(shown).length > 0 ? shown : undefined;
}

/** A Fastify error's status as one of Ballast's codes. */
function codeForStatus(status: number): ErrorCode {
  const code = (Object.keys(STATUS) as ErrorCode[]).find((c) => STATUS[c] === status);
  return code ?? (status >= 500 ? "internal" : "invalid_argument");
}

function body(error: string, code: ErrorCode, details?: Record<string, unknown>): ErrorBody {
  const shown = publicDetails(details);
  return shown === undefined ? { error, code } : { error, code, details: shown };
}

/**
 * Codes whose message may quote something from outside Ballast (a remote server's answer, an
 * absolute file path, a runtime's internals). Their clients, often anonymous, get a generic
 * message with the request id; the operator finds the words in the server log under that id.
 */
const LOGGED_ONLY: ReadonlySet<ErrorCode> = new Set(["upstream", "internal"]);

export function errorReply(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isBallastError(error)) {
    const status = STATUS[error.code];
    if (LOGGED_ONLY.has(error.code)) {
      request.log.error({ err: error, requestId: request.id }, error.message);
      return reply.status(status).send(body(failedMessage(request), error.code));
    }
    // Ballast's own words go to the client; a cause quoted from elsewhere is in details.detail.
    if (status >= 500 && typeof error.details?.detail === "string")
      request.log.warn({ requestId: request.id, detail: error.details.detail }, error.message);
    // Shed requests and open circuits say when trying again makes sense.
    const retryAfter = error.details?.retryAfterSeconds;
    if (typeof retryAfter === "number") void reply.header("retry-after", String(retryAfter));
    if (error.code === "unauthenticated") void reply.header("www-authenticate", "Bearer");
    return reply.status(status).send(body(error.message, error.code, error.details));
  }
  // A store lock that outlasted the busy timeout clears on its own: retry, not a server fault.
  const busy = storeBusyError(error);
  if (busy !== undefined) return errorReply(busy, request, reply);
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return reply.status(status).send(body(clientMessage(fastifyError), codeForStatus(status)));
  }
  request.log.error({ err: error, requestId: request.id }, "unhandled error");
  return reply.status(500).send(body(failedMessage(request), "internal"));
}

/** Names the model a route is about when the path does (`/v2/models/{name}`, `/v1/models/{name}:predict`). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The same words whatever failed, so a client learns nothing about what is behind the model. */
function failedMessage(request: FastifyRequest): string {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const raw = typeof params.name === "string" ? params.name : params.nameAndVerb;
  const name = typeof raw === "string" ? raw.replace(/:predict$/, "") : undefined;
  const subject = name !== undefined && MODEL_NAME.test(name) ? `model ${name}` : "the request";
  return `${subject} failed (request ${request.id}); see the server log`;
}

function clientMessage(error: Partial<FastifyError>): string {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "request body is larger than the server accepts (--body-limit)";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "content-type must be application/json";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the request body is empty; send a JSON object";
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case undefined:
      return `the request body is not valid JSON: ${error.message ?? ""}`.trim();
    default:
      return error.message ?? "bad request";
  }
}
