/**
 * The regime routers over HTTP: list them, one router's live state (regime, declared and live
 * weights per regime, its specialists' failures), and its per-regime evaluation. A Router is
 * declared as a resource (`ballast apply`, PUT /api/v1/resources); it answers at
 * /v2/models/{router}/infer (inference.ts).
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";

export function routerRoutes(ballast: Ballast): FastifyPluginAsync {
  const { routers } = ballast;
  return async (app) => {
    app.get("/api/v1/routers", async () => routers.list());
    app.get<{ Params: { name: string } }>("/api/v1/routers/:name", async (request) =>
      routers.describe(request.params.name),
    );
    app.get<{ Params: { name: string }; Querystring: { by?: string } }>(
      "/api/v1/routers/:name/performance",
      async (request) => {
        const by = request.query.by ?? "regime";
        if (by !== "regime") throw invalid(`by: only 'regime' is offered, got '${by}'`);
        return routers.performance(request.params.name);
      },
    );
  };
}
