/**
 * The token check as a Fastify hook. It runs after routing, on `request.routeOptions.url` (the
 * matched pattern), so however a path is spelled (`/%61pi/v1/…`, `/api/%761/…`) the handler it
 * reaches is the one whose rule is checked.
 */
import type { FastifyRequest, onRequestHookHandler } from "fastify";
import { BallastError } from "../domain/errors.js";
import { accessFor, grants, rolesFor, type Access } from "./access.js";
import { bearerOf, identify, type ApiToken } from "./tokens.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The token's name once the request presented a valid one (rate limits count per token). */
    apiClient?: string;
  }
}

/** A hook that lets through only what the presented token's role allows; none when no token is configured. */
export function authorizer(tokens: readonly ApiToken[]): onRequestHookHandler | undefined {
  if (tokens.length === 0) return undefined;
  // Inference stays open unless some token exists for it.
  const inferenceClosed = tokens.some((t) => t.role === "inference");
  return (request, _reply, done) => {
    try {
      check(request, tokens, inferenceClosed);
      done();
    } catch (error) {
      done(error as Error);
    }
  };
}

function check(request: FastifyRequest, tokens: readonly ApiToken[], inferenceClosed: boolean): void {
  // Dashboard pages take the token from their session cookie too, and answer a browser with a
  // login page rather than JSON: they check the same tokens and roles themselves (dashboard/session.ts).
  if (request.routeOptions.config.dashboard === true) return;
  const route = request.routeOptions.url;
  const access: Access = accessFor(request.method, route);
  if (access === "open" || (access === "infer" && !inferenceClosed)) return;
  const what = `${request.method} ${route ?? ""}`;
  const roles = rolesFor(access);
  const needs = roles.length === 1 ? roles[0] : `${roles.slice(0, -1).join(", ")} or ${roles.at(-1)}`;
  const presented = bearerOf(request.headers.authorization);
  if (presented === undefined) {
    throw new BallastError(
      "unauthenticated",
      `${what} needs an API token with role ${needs}: send Authorization: Bearer <token> (--token or BALLAST_TOKEN)`,
    );
  }
  const token = identify(tokens, presented);
  if (token === undefined) {
    throw new BallastError(
      "unauthenticated",
      `${what} needs an API token with role ${needs}; the token sent is not one this server knows`,
    );
  }
  request.apiClient = token.name;
  if (!grants(token.role, access)) {
    throw new BallastError(
      "permission_denied",
      `${what} needs role ${needs}; token '${token.name}' has role ${token.role}`,
    );
  }
}
