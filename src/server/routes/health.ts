import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";

export const SERVER_NAME = "ballast";
export const SERVER_VERSION = "0.1.0";

export function healthRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    app.get("/v2/health/live", async () => ({ live: true }));

    app.get("/v2/health/ready", async (_request, reply) => {
      const problems = [...ballast.endpoints.problemsByDeployment()];
      if (problems.length === 0) return { ready: true };
      const error = problems.map(([name, why]) => `${name}: ${why}`).join("; ");
      return reply.status(503).send({ ready: false, error });
    });

    app.get("/v2", async () => ({
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: ["named_features", "feedback"],
    }));
  };
}
