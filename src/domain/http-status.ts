/**
 * The HTTP status each error code answers with: read by server/errors.ts (the answer) and by
 * the metrics (the `status` label), so both always agree.
 */
import type { ErrorCode } from "./errors.js";

export const STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  rate_limited: 429,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unavailable: 503,
  timeout: 504,
  upstream: 502,
  internal: 500,
};

export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}
