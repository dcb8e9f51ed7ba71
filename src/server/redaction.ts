/**
 * The routes whose answers can hold notifier configurations (Monitor specs, rollout strategies,
 * resources, events) have secrets redacted before serialization, whatever the handler returned.
 * Listed by matched route, so a new spelling of a path cannot skip it; reports (drift,
 * performance, predictions) are left alone, since their keys are feature names, not settings.
 */
import type { preSerializationHookHandler } from "fastify";
import { redactSecrets } from "../domain/redact.js";

const SECRET_BEARING = new Set([
  "/api/v1/apply",
  "/api/v1/deployments",
  "/api/v1/deployments/:name",
  "/api/v1/deployments/:name/rollout",
  "/api/v1/deployments/:name/rollout/:action",
  "/api/v1/events",
  "/api/v1/monitors",
  "/api/v1/monitors/:name",
  "/api/v1/resources/:kind",
  "/api/v1/resources/:kind/:name",
  "/api/v1/sync",
]);

export const redactReplies: preSerializationHookHandler<unknown> = (request, _reply, payload, done) => {
  const route = request.routeOptions.url;
  done(null, route !== undefined && SECRET_BEARING.has(route) ? redactSecrets(payload) : payload);
};
