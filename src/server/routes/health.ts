import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";

export const SERVER_NAME = "ballast";
export const SERVER_VERSION = "0.1.0";

export function healthRoutes(ballast: Ballast): FastifyPluginAsync {
  return async (app) => {
    app.get("/v2/health/live", async () => ({ live: true }));

    app.get("/v2/health/ready", async (_request, reply) => {
      const problems = [...ballast.endpoints.problemsByDeployment().keys()];
      // Ready means serving what is declared, not only what this replica last heard of.
      const behind = await ballast.endpoints.behind();
      if (problems.length === 0 && behind.length === 0) return { ready: true };
      // Names only: why a deployment is not serving quotes file paths and remote servers, and
      // health is open to anyone; the deployments API has the reasons.
      const error = [
        ...(problems.length === 0
          ? []
          : [`not serving: ${problems.join(", ")} (GET /api/v1/deployments/{name} says why)`]),
        ...(behind.length === 0 ? [] : [`not yet serving what is declared: ${behind.join(", ")}`]),
      ].join("; ");
      return reply.status(503).send({ ready: false, error });
    });

    app.get("/v2", async () => ({
      name: SERVER_NAME,
      version: SERVER_VERSION,
      extensions: ["named_features", "feedback"],
    }));
  };
}
