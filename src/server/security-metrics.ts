/**
 * Counters for what the server refused to protect itself: rate-limited feedback, clients the
 * rate limiter forgot, connections dropped over --max-connections. On the app's own registry,
 * next to the serving metrics.
 */
import { Counter, type Registry } from "prom-client";

export interface SecurityMetrics {
  /** A route now limited: its counters start at 0, so the first refusal is a rate, not a new series. */
  rateLimitedRoute(route: string): void;
  rateLimited(route: string, units: number): void;
  rateLimitClientEvicted(): void;
  connectionDropped(): void;
}

/** One set per registry: an app rebuilt on the same Ballast (tests, restarts in-process) shares them. */
const byRegistry = new WeakMap<Registry, SecurityMetrics>();

export function securityMetrics(registry: Registry): SecurityMetrics {
  const existing = byRegistry.get(registry);
  if (existing !== undefined) return existing;
  const created = createSecurityMetrics(registry);
  byRegistry.set(registry, created);
  return created;
}

function createSecurityMetrics(registry: Registry): SecurityMetrics {
  const limited = new Counter({
    name: "ballast_rate_limited_requests_total",
    help: "Requests refused with 429 because their client was over its rate, by route.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const limitedUnits = new Counter({
    name: "ballast_rate_limited_units_total",
    help: "What the refused requests carried (feedback items), by route.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const evicted = new Counter({
    name: "ballast_rate_limit_clients_evicted_total",
    help: "Clients forgotten by a rate limiter because it tracks a bounded number of them.",
    registers: [registry],
  });
  const dropped = new Counter({
    name: "ballast_http_connections_dropped_total",
    help: "Connections closed on arrival because --max-connections were already open.",
    registers: [registry],
  });
  return {
    rateLimitedRoute(route) {
      limited.inc({ route }, 0);
      limitedUnits.inc({ route }, 0);
    },
    rateLimited(route, units) {
      limited.inc({ route });
      limitedUnits.inc({ route }, units);
    },
    rateLimitClientEvicted: () => evicted.inc(),
    connectionDropped: () => dropped.inc(),
  };
}
