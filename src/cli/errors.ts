/** The one place where errors become CLI output: one line on stderr and an exit code. */
import type { CommanderError } from "commander";
import { isBallastError, type ErrorCode } from "../domain/errors.js";
import { isStoreBusy } from "../store/busy.js";

const EXIT_CODES: Record<ErrorCode, number> = {
  invalid_argument: 2,
  unauthenticated: 6,
  permission_denied: 6,
  rate_limited: 5,
  not_found: 3,
  conflict: 4,
  payload_too_large: 2,
  unavailable: 5,
  timeout: 5,
  upstream: 5,
  internal: 1,
};

export function exitCodeFor(error: unknown): number {
  if (isStoreBusy(error)) return EXIT_CODES.unavailable;
  return isBallastError(error) ? EXIT_CODES[error.code] : 1;
}

export function messageFor(error: unknown): string {
  if (error instanceof Error) {
    const text = error.message.split("\n")[0] ?? "";
    if (!isBallastError(error) && "code" in error && error.code === "ECONNREFUSED") {
      return `cannot reach the server (${text}); is \`ballast serve\` running, and is --server right?`;
    }
    return text;
  }
  return String(error);
}

export function fail(error: unknown): never {
  process.stderr.write(`ballast: ${messageFor(error)}\n`);
  process.exit(exitCodeFor(error));
}

/** Help and --version end with 0; every other commander error is a bad option or argument: 2. */
export function usageExitCode(error: CommanderError): number {
  return error.exitCode === 0 ? 0 : EXIT_CODES.invalid_argument;
}
