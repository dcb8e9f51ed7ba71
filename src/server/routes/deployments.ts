/**
 * Deployments over HTTP. A PUT goes through the deployment-change service like every other door:
 * a version change on a deployment with a rollout strategy goes out through it, unless the
 * request says `?strategy=skip`. The answer says whether the deployment is serving and, if not,
 * why, and names the rollout it started.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import type { Variant } from "../../domain/model.js";
import { variantsFromDocs } from "../../registry/deployment-spec.js";
import { isPlainObject } from "../../domain/json-value.js";
import { strategyChoice } from "../../application/change-plan.js";

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
          // The weight this replica routes with (the stored one may be newer, see `ready`).
          weight: v.variant.weight,
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

    app.put<{ Params: { name: string }; Querystring: { strategy?: string } }>(
      "/api/v1/deployments/:name",
      async (request) => {
        if (!isPlainObject(request.body)) throw invalid("the request body must be a JSON object");
        const body = request.body;
        const strategy = strategyChoice(request.query.strategy);
        // Inline notifiers of the strategy against --allow-remote and the secret policy, before storing.
        ballast.rolloutAlerts.checkAccess(body.strategy);
        // Everything but the variants' spelling is checked, with field paths, by the deployment store.
        const { deployment, rollout } = await ballast.changes.apply(
          {
            name: request.params.name,
            // Plain documents: the store checks them into variants (names, models, refs, weights).
            variants: variantsOf(body) as unknown as Variant[],
            timeoutMs: body.timeoutMs as number | undefined,
            resilience: body.resilience,
            routing: body.routing,
            strategy: body.strategy,
          },
          { strategy },
        );
        return {
          ...deployment,
          status: status(deployment.name),
          ...(rollout === null
            ? {}
            : { rollout: { id: rollout.id, phase: rollout.phase, canary: rollout.canary } }),
        };
      },
    );

    app.delete<{ Params: { name: string } }>("/api/v1/deployments/:name", async (request) => {
      await ballast.changes.remove(request.params.name);
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
