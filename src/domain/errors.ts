/**
 * Typed errors with a code. One place maps them to HTTP (server/errors.ts) and one to CLI
 * messages and exit codes (cli/errors.ts); everything else just throws.
 */
export const ERROR_CODES = [
  "invalid_argument", // the caller sent something malformed: 400
  "unauthenticated", // no API token, or one the server does not know: 401
  "permission_denied", // a known token whose role does not allow it: 403
  "rate_limited", // a client over its rate (with retryAfterSeconds): 429
  "not_found", // unknown model, version, alias, deployment: 404
  "conflict", // already exists, in use, would break an invariant: 409
  "payload_too_large", // 413
  "unavailable", // model not loaded or not ready, upstream down: 503
  "timeout", // a model call ran past its deadline: 504
  "upstream", // a remote model answered with an error: 502
  "internal", // a bug: 500
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class BallastError extends Error {
  readonly code: ErrorCode;
  /** Extra fields a client can act on (the existing version, the field that is wrong, …). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = "BallastError";
    this.code = code;
    this.details = details;
  }
}

export const invalid = (message: string, details?: Record<string, unknown>): BallastError =>
  new BallastError("invalid_argument", message, details);
export const notFound = (message: string, details?: Record<string, unknown>): BallastError =>
  new BallastError("not_found", message, details);
export const conflict = (message: string, details?: Record<string, unknown>): BallastError =>
  new BallastError("conflict", message, details);
export const unavailable = (message: string, details?: Record<string, unknown>): BallastError =>
  new BallastError("unavailable", message, details);

export function isErrorCode(value: string): value is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(value);
}

export function isBallastError(error: unknown): error is BallastError {
  return error instanceof BallastError;
}
