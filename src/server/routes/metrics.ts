import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";

export function metricsRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    app.get("/metrics", async (_request, reply) => {
      const text = await ballast.metrics.render();
      return reply.type(ballast.metrics.registry.contentType).send(text);
    });
  };
}
