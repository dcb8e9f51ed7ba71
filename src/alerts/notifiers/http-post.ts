/**
 * One JSON POST with a per-attempt deadline, the way every HTTP notifier sends. Failures are
 * typed so the dispatcher knows whether trying again can help: a 4xx other than 408 and 429
 * means the receiver rejected the payload itself.
 */
import { BallastError } from "../../domain/errors.js";
import { redactUrl } from "../../domain/redact.js";
import { ANYWHERE, isAllowed, type RemoteAccess } from "../../domain/remote-access.js";

export interface JsonPost {
  readonly receiver: string;
  readonly url: string;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Where this server may send requests (`--allow-remote`); anywhere when absent. */
  readonly access?: RemoteAccess;
}

export async function postJson(post: JsonPost): Promise<void> {
  // Messages end up in alert status and logs: the URL's path may be its key (Slack).
  const shownUrl = redactUrl(post.url);
  // Checked at each send too: a receiver stored before the list was narrowed is not called.
  if (!isAllowed(post.access ?? ANYWHERE, post.url)) {
    throw new BallastError(
      "invalid_argument",
      `${post.receiver}: ${new URL(post.url).host} is not an allowed remote host (--allow-remote)`,
      { retryable: false },
    );
  }
  const deadline = AbortSignal.timeout(post.timeoutMs);
  let response: Response;
  try {
    response = await fetch(post.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...post.headers },
      body: JSON.stringify(post.body),
      signal: AbortSignal.any([post.signal, deadline]),
      // A redirect could lead past the allow-list: the receiver's 3xx is a failed delivery.
      redirect: "manual",
    });
  } catch (error) {
    if (deadline.aborted) {
      throw new BallastError(
        "timeout",
        `${post.receiver}: no answer from ${shownUrl} within ${post.timeoutMs} ms`,
      );
    }
    if (post.signal.aborted) throw abortReason(post.signal, post.receiver);
    throw new BallastError("unavailable", `${post.receiver}: could not reach ${shownUrl}: ${causeOf(error)}`);
  }
  // Read the body even on success so the connection can be reused.
  const text = await response.text().catch(() => "");
  if (response.ok) return;
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw new BallastError(
    "upstream",
    `${post.receiver}: ${shownUrl} answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`,
    { status: response.status, retryable },
  );
}

function abortReason(signal: AbortSignal, receiver: string): BallastError {
  const reason: unknown = signal.reason;
  if (reason instanceof BallastError) return reason;
  return new BallastError("timeout", `${receiver}: delivery was aborted`);
}

function causeOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}
