/**
 * The HTTP face of Ballast, built by a function so tests start it in-process and call it with
 * `inject()`. Routes are thin: parse, call the serving or registry layer, format.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { requestIdGenerator } from "./request-id.js";
import type { Ballast } from "../ballast.js";
import { errorReply } from "./errors.js";
import { authorizer } from "./auth.js";
import { plainToken, type ApiToken } from "./tokens.js";
import { healthRoutes } from "./routes/health.js";
import { inferenceRoutes } from "./routes/inference.js";
import { feedbackRoutes } from "./routes/feedback.js";
import { predictionRoutes } from "./routes/predictions.js";
import { modelRoutes } from "./routes/models.js";
import { deploymentRoutes } from "./routes/deployments.js";
import { metricsRoutes } from "./routes/metrics.js";
import { monitorRoutes } from "./routes/monitors.js";
import { resourceRoutes } from "./routes/resources.js";
import { rolloutRoutes } from "./routes/rollouts.js";

export interface AppOptions {
  /** Largest JSON body accepted, in bytes (413 beyond it). */
  readonly bodyLimit?: number;
  /** Largest artifact upload, in bytes. */
  readonly artifactLimit?: number;
  readonly logger?: boolean;
  /** An admin token given in clear (`--token`); kept only as its hash. */
  readonly apiToken?: string;
  /** Tokens with roles (`--token-file`, `--inference-token`). With any token, every /api/v1 route needs one. */
  readonly tokens?: readonly ApiToken[];
}

export const DEFAULT_BODY_LIMIT = 32 * 1024 * 1024;
export const DEFAULT_ARTIFACT_LIMIT = 2 * 1024 * 1024 * 1024;

/** Client-supplied request ids are kept when they look like ids, replaced otherwise. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const newRequestId = requestIdGenerator();

export async function buildApp(ballast: Ballast, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === true ? { level: "info" } : false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : newRequestId();
    },
  });

  // Plain JSON.parse rather than Fastify's prototype-poisoning scan, which costs every request
  // a pass over the body: no handler merges a body into another object (spreads copy
  // `__proto__` as an ordinary own key), and the fuzz test sends such bodies.
  // Clients such as `curl -d` send JSON without saying so, so any content type is read as JSON
  // unless a route has its own parser (artifact uploads take application/octet-stream).
  const parseJson = (
    _request: unknown,
    body: string | Buffer,
    done: (error: Error | null, value?: unknown) => void,
  ) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }));
    }
  };
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, parseJson);
  app.addContentTypeParser("*", { parseAs: "string" }, parseJson);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  const tokens = [
    ...(options.tokens ?? []),
    ...(options.apiToken === undefined || options.apiToken === ""
      ? []
      : [plainToken("--token", "admin", options.apiToken)]),
  ];
  const authorize = authorizer(tokens);
  if (authorize !== undefined) app.addHook("onRequest", authorize);
  app.setErrorHandler((error, request, reply) => errorReply(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: `no route for ${request.method} ${request.url.split("?")[0]}` }),
  );

  await app.register(healthRoutes(ballast));
  await app.register(inferenceRoutes(ballast));
  await app.register(feedbackRoutes(ballast));
  await app.register(predictionRoutes(ballast));
  await app.register(
    modelRoutes(ballast, { artifactLimit: options.artifactLimit ?? DEFAULT_ARTIFACT_LIMIT }),
  );
  await app.register(deploymentRoutes(ballast));
  await app.register(metricsRoutes(ballast));
  await app.register(monitorRoutes(ballast));
  await app.register(resourceRoutes(ballast));
  await app.register(rolloutRoutes(ballast));
  return app;
}
