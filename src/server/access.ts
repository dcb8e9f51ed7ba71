/**
 * What a route needs, decided from the route the router MATCHED (its pattern, such as
 * `/api/v1/deployments/:name`), never from the raw URL: `/%61pi/v1/…` and `/api/v1/…` reach the
 * same handler, so they must meet the same check. Pure, so the table is tested on its own.
 */

/**
 * - `open`: anyone (health, the protocol's server metadata, `/metrics`).
 * - `infer`: inference; open unless an `inference` token is configured.
 * - `read`: reads under /api/v1.
 * - `feedback`: POST /v1/feedback (an operator action: labels steer rollouts and monitors).
 * - `operate`: deploy, act on rollouts, start and cancel pipeline runs, send market data.
 * - `admin`: everything else that changes state (models, artifacts, aliases, monitors, resources).
 */
export type Access = "open" | "infer" | "read" | "feedback" | "operate" | "admin";

export const ROLES = ["viewer", "inference", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Which role may do what. Viewers read; inference clients only infer. */
const GRANTS: Readonly<Record<Role, ReadonlySet<Access>>> = {
  viewer: new Set(["read"]),
  inference: new Set(["infer"]),
  operator: new Set(["read", "infer", "feedback", "operate"]),
  admin: new Set(["read", "infer", "feedback", "operate", "admin"]),
};

export function grants(role: Role, access: Access): boolean {
  return access === "open" || GRANTS[role].has(access);
}

/** The roles that may do it, for messages ("needs operator or admin"). */
export function rolesFor(access: Access): Role[] {
  return ROLES.filter((r) => grants(r, access));
}

/** Deploy, rollout and pipeline-run actions: what an operator changes. */
const OPERATE: ReadonlyArray<readonly [string, string]> = [
  ["POST", "/api/v1/pipelines/:name/runs"],
  ["POST", "/api/v1/pipelines/:name/runs/:id/cancel"],
  ["PUT", "/api/v1/deployments/:name"],
  ["DELETE", "/api/v1/deployments/:name"],
  ["POST", "/api/v1/deployments/:name/rollout"],
  ["POST", "/api/v1/deployments/:name/rollout/:action"],
  // Workers move step artifacts; a download is production data, so it needs operator too.
  ["PUT", "/api/v1/artifacts"],
  // Market data: bars arrive from feeds and backfills an operator runs.
  ["PUT", "/api/v1/instruments/:id"],
  ["POST", "/api/v1/instruments/:id/bars"],
  ["GET", "/api/v1/artifacts/:sha256"],
];

const OPEN = new Set(["/v2", "/v2/health/live", "/v2/health/ready", "/metrics"]);

/**
 * `route` is the matched pattern, or undefined when nothing matched (the 404 handler, which
 * reaches no data). A route this table does not know needs admin: a new route is closed until
 * someone decides otherwise.
 */
export function accessFor(method: string, route: string | undefined): Access {
  if (route === undefined) return "open";
  if (OPEN.has(route)) return "open";
  if (route.startsWith("/v2/models/") || route.startsWith("/v1/models/")) return "infer";
  if (route === "/v1/feedback") return "feedback";
  if (route === "/api/v1" || route.startsWith("/api/")) {
    const operates = OPERATE.some(([m, r]) => m === (method === "HEAD" ? "GET" : method) && r === route);
    if (method === "GET" || method === "HEAD") return operates ? "operate" : "read";
    return operates ? "operate" : "admin";
  }
  return "admin";
}
