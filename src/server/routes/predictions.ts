import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import type { PredictionQuery } from "../../serving/prediction-store.js";

export const MAX_PAGE = 10_000;

export function predictionRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: Record<string, string | undefined> }>("/api/v1/predictions", async (request) => {
      const query = parsePredictionQuery(request.query);
      const predictions = await ballast.predictions.query(query);
      return { predictions, count: predictions.length, log: ballast.predictionLog.stats() };
    });

    app.get("/api/v1/prediction-log", async () => ballast.predictionLog.stats());
  };
}

export function parsePredictionQuery(q: Record<string, string | undefined>): PredictionQuery {
  const known = new Set(["deployment", "model", "version", "variant", "since", "until", "limit"]);
  for (const key of Object.keys(q)) {
    if (!known.has(key)) throw invalid(`unknown query parameter '${key}'; use ${[...known].join(", ")}`);
  }
  const version = q.version === undefined ? undefined : positiveInt(q.version, "version");
  const limit = q.limit === undefined ? 100 : positiveInt(q.limit, "limit");
  if (limit > MAX_PAGE) throw invalid(`limit must be at most ${MAX_PAGE}`);
  return {
    deployment: q.deployment,
    model: q.model,
    variant: q.variant,
    version,
    since: q.since === undefined ? undefined : instant(q.since, "since"),
    until: q.until === undefined ? undefined : instant(q.until, "until"),
    limit,
  };
}

function positiveInt(raw: string, field: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw invalid(`${field} must be a positive integer, got '${raw}'`);
  return Number(raw);
}

/** Epoch milliseconds or an ISO-8601 time. */
export function instant(raw: string, field: string): number {
  const value = /^-?[0-9]+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(value))
    throw invalid(`${field} must be epoch milliseconds or an ISO-8601 time, got '${raw}'`);
  return value;
}
