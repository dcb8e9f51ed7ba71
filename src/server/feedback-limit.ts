/**
 * The per-client rate limit on POST /v1/feedback, counted in feedback items (a call may carry up
 * to 10,000), per token when the client presented one and per address otherwise. Refused calls
 * get 429 with Retry-After and are counted; accepted ones are unaffected.
 */
import type { preHandlerHookHandler } from "fastify";
import type { Clock } from "../domain/clock.js";
import { BallastError } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { MAX_FEEDBACK_PER_CALL } from "../serving/feedback.js";
import { RateLimiter } from "./rate-limit.js";
import type { SecurityMetrics } from "./security-metrics.js";

const ROUTE = "/v1/feedback";

/** Items a call carries; a malformed body costs one (it is refused by the handler anyway). */
export function feedbackCost(body: unknown): number {
  return isPlainObject(body) && Array.isArray(body.feedback) ? Math.max(1, body.feedback.length) : 1;
}

export function feedbackLimiter(
  ratePerSecond: number,
  clock: Clock,
  metrics: SecurityMetrics,
): preHandlerHookHandler | undefined {
  if (ratePerSecond <= 0) return undefined;
  metrics.rateLimitedRoute(ROUTE);
  // A full call always fits in a full bucket, so one large batch is never refused outright.
  const burst = Math.max(MAX_FEEDBACK_PER_CALL, 2 * ratePerSecond);
  const limiter = new RateLimiter({
    rate: ratePerSecond,
    burst,
    onEvict: () => metrics.rateLimitClientEvicted(),
  });
  return (request, _reply, done) => {
    if (request.routeOptions.url !== ROUTE) {
      done();
      return;
    }
    const cost = feedbackCost(request.body);
    const client = request.apiClient === undefined ? `ip:${request.ip}` : `token:${request.apiClient}`;
    const result = limiter.take(client, clock.now(), cost);
    if (result.allowed) {
      done();
      return;
    }
    metrics.rateLimited(ROUTE, cost);
    const retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    done(
      new BallastError(
        "rate_limited",
        `feedback from this client is over ${ratePerSecond} items a second (--feedback-rate); try again in ${retryAfterSeconds} s`,
        { retryAfterSeconds },
      ),
    );
  };
}
