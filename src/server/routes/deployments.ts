/**
 * Deployments over HTTP. A PUT stores the desired state, then serving is brought in line with
 * it; the answer says whether the deployment is serving and, if not, why.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import type { Variant } from "../../domain/model.js";
import { variantsFromDocs } from "../../registry/deployment-spec.js";
import { isPlainObject } from "../../domain/json-value.js";

export function deploymentRoutes(ballast: Ballast): FastifyPluginAsync {
  const { deployments, endpoints, pool } = ballast;

  const status = (name: string) => {
    const problem = endpoints.problemsByDeployment().get(name);
    const served = endpoints.list().find((d) => d.deployment.name === name);
    return {
      serving:
        served?.variants.map((v) => ({
          variant: v.variant.name,
          model: v.version.model,
          version: v.version.version,
          state: pool.state(v.version.model, v.version.version).state,
        })) ?? [],
      ready: problem === undefined && served !== undefined,
      ...(problem === undefined ? {} : { error: problem }),
    };
  };

  return async (app) => {
    app.get("/api/v1/deployments", async () => {
      const all = await deployments.list();
      return { deployments: all.map((d) => ({ ...d, status: status(d.name) })) };
    });

    app.get<{ Params: { name: string } }>("/api/v1/deployments/:name", async (request) => {
      const deployment = await deployments.get(request.params.name);
      return { ...deployment, status: status(deployment.name) };
    });

    app.put<{ Params: { name: string } }>("/api/v1/deployments/:name", async (request) => {
      if (!isPlainObject(request.body)) throw invalid("the request body must be a JSON object");
      const body = request.body;
      // Everything but the variants' spelling is checked, with field paths, by the deployment store.
      const deployment = await deployments.put({
        name: request.params.name,
        // Plain documents: the store checks them into variants (names, models, refs, weights).
        variants: variantsOf(body) as unknown as Variant[],
        timeoutMs: body.timeoutMs as number | undefined,
        resilience: body.resilience,
        routing: body.routing,
        strategy: body.strategy,
      });
      await endpoints.sync();
      ballast.prepareMonitors(deployment.name);
      return { ...deployment, status: status(deployment.name) };
    });

    app.delete<{ Params: { name: string } }>("/api/v1/deployments/:name", async (request) => {
      await deployments.delete(request.params.name);
      await endpoints.sync();
      return { deleted: request.params.name };
    });
  };
}

/**
 * `{"model": "fraud", "version": 3}` or `{"model": "fraud", "alias": "champion"}` for one
 * stable variant, or `{"variants": [...]}` for several, written as in a Deployment manifest.
 */
function variantsOf(body: Record<string, unknown>): Array<Record<string, unknown>> {
  if (body.variants !== undefined) return variantsFromDocs(body.variants);
  const { model, version, alias } = body;
  return variantsFromDocs([
    { model, ...(version === undefined ? {} : { version }), ...(alias === undefined ? {} : { alias }) },
  ]);
}
