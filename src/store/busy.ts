/**
 * When the store is contended rather than broken: SQLite's lock errors (another connection held
 * the write lock past the busy timeout), PostgreSQL's lock timeouts, deadlocks and serialization
 * failures. The same request a moment later succeeds, so clients are told to retry (503 with
 * Retry-After), not that the server failed (500).
 */
import { BallastError, unavailable } from "../domain/errors.js";
import { errorCode } from "./prediction-rows.js";

/** A contended store clears within about one transaction; a second is the smallest Retry-After. */
export const STORE_BUSY_RETRY_SECONDS = 1;

/** lock_not_available, serialization_failure, deadlock_detected. */
const POSTGRES_BUSY = new Set(["55P03", "40001", "40P01"]);

export function isStoreBusy(error: unknown): boolean {
  if (error instanceof BallastError) return false;
  const code = errorCode(error);
  if (code === undefined) return false;
  return /^SQLITE_(BUSY|LOCKED)/.test(code) || POSTGRES_BUSY.has(code);
}

/** The client's answer for a contended store, or undefined when `error` is something else. */
export function storeBusyError(error: unknown): BallastError | undefined {
  if (!isStoreBusy(error)) return undefined;
  return unavailable(
    `the store is busy (another writer held its lock too long); try again in ${STORE_BUSY_RETRY_SECONDS} s`,
    {
      retryAfterSeconds: STORE_BUSY_RETRY_SECONDS,
      detail: error instanceof Error ? error.message : String(error),
    },
  );
}
