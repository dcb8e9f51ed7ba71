/**
 * The HTTP face of Ballast, built by a function so tests start it in-process and call it with
 * `inject()`. Routes are thin: parse, call the serving or registry layer, format.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { requestIdGenerator } from "../domain/ids.js";
import type { Ballast } from "../ballast.js";
import { errorReply } from "./errors.js";
import { authorizer } from "./auth.js";
import { plainToken, type ApiToken } from "./tokens.js";
import { jsonBodyParser } from "./json-body.js";
import { feedbackLimiter } from "./feedback-limit.js";
import { securityMetrics } from "./security-metrics.js";
import { redactReplies } from "./redaction.js";
import { isBallastError } from "../domain/errors.js";
import { healthRoutes } from "./routes/health.js";
import { inferenceRoutes } from "./routes/inference.js";
import type { HotPathStats } from "./routes/inference-hot-path.js";
import { feedbackRoutes } from "./routes/feedback.js";
import { predictionRoutes } from "./routes/predictions.js";
import { modelRoutes } from "./routes/models.js";
import { deploymentRoutes } from "./routes/deployments.js";
import { metricsRoutes } from "./routes/metrics.js";
import { monitorRoutes } from "./routes/monitors.js";
import { resourceRoutes } from "./routes/resources.js";
import { replicaRoutes } from "./routes/replicas.js";
import { rolloutRoutes } from "./routes/rollouts.js";
import { pipelineRoutes } from "./routes/pipelines.js";
import { artifactRoutes } from "./routes/artifacts.js";
import { instrumentRoutes } from "./routes/instruments.js";
import { routerRoutes } from "./routes/routers.js";
import { dashboardRoutes, type DashboardOptions } from "./dashboard/index.js";

export interface AppOptions {
  /** Largest JSON body accepted, in bytes (413 beyond it). */
  readonly bodyLimit?: number;
  /** Largest artifact upload, in bytes. */
  readonly artifactLimit?: number;
  readonly logger?: boolean;
  /** An admin token given in clear (`--token`); kept only as its hash. */
  readonly apiToken?: string;
  /** Time limits on each connection (slow clients are cut off); defaults in DEFAULT_TIMEOUTS. */
  readonly timeouts?: Partial<Timeouts>;
  /** Connections open at once; more are closed on arrival and counted. */
  readonly maxConnections?: number;
  /** Feedback items a second per client (token or address) on POST /v1/feedback; 0 turns the limit off. */
  readonly feedbackRate?: number;
  /** Tokens with roles (`--token-file`, `--inference-token`). With any token, every /api/v1 route needs one. */
  readonly tokens?: readonly ApiToken[];
  /** The web dashboard at `/` (default on): how often it samples counters, its event stream's limits. */
  readonly dashboard?: false | Omit<DashboardOptions, "tokens">;
}

import {
  DEFAULT_ARTIFACT_LIMIT,
  DEFAULT_BODY_LIMIT,
  DEFAULT_FEEDBACK_RATE,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_TIMEOUTS,
  type Timeouts,
} from "./limits.js";

/** Client-supplied request ids are kept when they look like ids, replaced otherwise. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const newRequestId = requestIdGenerator();

declare module "fastify" {
  interface FastifyInstance {
    /** How many inference requests the routes' hot path answered, and how many it left to them. */
    readonly inferenceHotPath: HotPathStats;
  }
}

export async function buildApp(ballast: Ballast, options: AppOptions = {}): Promise<FastifyInstance> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    logger: options.logger === true ? { level: "info" } : false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Node's defaults let a client hold a socket forever with a body that never ends.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs || timeouts.headersMs),
      // How often Node checks the two limits above; its default (30 s) would let them run late.
      connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
    },
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : newRequestId();
    },
  });

  // Our own parser rather than Fastify's prototype-poisoning scan, which costs every request a
  // pass over the body: no handler merges a body into another object (spreads copy `__proto__`
  // as an ordinary own key), and the fuzz test sends such bodies. It parses large bodies in
  // slices, yielding between them, and refuses deep nesting (json-body.ts).
  // Clients such as `curl -d` send JSON without saying so, so any content type is read as JSON
  // unless a route has its own parser (artifact uploads take application/octet-stream).
  const parseBody = jsonBodyParser();
  const parseJson = async (_request: unknown, body: string | Buffer): Promise<unknown> => {
    try {
      return await parseBody(body as string);
    } catch (error) {
      if (isBallastError(error)) throw error;
      throw Object.assign(error as Error, { statusCode: 400 });
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
  app.addHook("preSerialization", redactReplies);
  const security = securityMetrics(ballast.metrics.registry);
  const limitFeedback = feedbackLimiter(
    options.feedbackRate ?? DEFAULT_FEEDBACK_RATE,
    ballast.clock,
    security,
  );
  if (limitFeedback !== undefined) app.addHook("preHandler", limitFeedback);
  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  app.server.on("drop", () => security.connectionDropped());
  app.setErrorHandler((error, request, reply) => errorReply(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: `no route for ${request.method} ${request.url.split("?")[0]}`, code: "not_found" }),
  );

  await app.register(healthRoutes(ballast));
  const hotPath: HotPathStats = { taken: 0, passed: 0 };
  app.decorate("inferenceHotPath", { getter: () => hotPath });
  await app.register(
    inferenceRoutes(ballast, {
      parseBody: (text) => parseJson(undefined, text),
      bodyLimit: app.initialConfig.bodyLimit ?? DEFAULT_BODY_LIMIT,
      hotPath,
    }),
  );
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
  await app.register(replicaRoutes(ballast));
  await app.register(pipelineRoutes(ballast));
  await app.register(instrumentRoutes(ballast));
  await app.register(routerRoutes(ballast));
  await app.register(
    artifactRoutes(ballast, { artifactLimit: options.artifactLimit ?? DEFAULT_ARTIFACT_LIMIT }),
  );
  if (options.dashboard !== false)
    await app.register(dashboardRoutes(ballast, { tokens, ...options.dashboard }));
  return app;
}
