/**
 * Deployments over HTTP. A PUT stores the desired state, then serving is brought in line with
 * it; the answer says whether the deployment is serving and, if not, why.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import type { Variant, VersionRef } from "../../domain/model.js";
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
      const { variants, timeoutMs } = parseDeploymentBody(request.body);
      // `resilience`, `routing` and `strategy` are checked, with field paths, by the deployment store.
      const body = isPlainObject(request.body) ? request.body : {};
      const deployment = await deployments.put({
        name: request.params.name,
        variants,
        timeoutMs,
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
 * stable variant, or `{"variants": [...]}` for several.
 */
export function parseDeploymentBody(body: unknown): { variants: Variant[]; timeoutMs: number | undefined } {
  if (!isPlainObject(body)) throw invalid("the request body must be a JSON object");
  const timeoutMs = body.timeoutMs;
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1)
  ) {
    throw invalid("timeoutMs must be a positive integer (milliseconds)");
  }
  if (body.variants !== undefined) {
    if (!Array.isArray(body.variants)) throw invalid("variants must be an array");
    const variants = body.variants.map((v, i) => parseVariant(v, `variants[${i}]`));
    return { variants, timeoutMs: timeoutMs as number | undefined };
  }
  const variant = parseVariant({ name: "stable", weight: 100, ...body }, "body");
  return { variants: [variant], timeoutMs: timeoutMs as number | undefined };
}

function parseVariant(value: unknown, where: string): Variant {
  if (!isPlainObject(value)) throw invalid(`${where} must be an object`);
  const { name, model, version, alias, weight, shadow } = value;
  if (typeof name !== "string") throw invalid(`${where}.name must be a string`);
  if (typeof model !== "string" || model.length === 0) throw invalid(`${where}.model must be a model name`);
  if (typeof weight !== "number") throw invalid(`${where}.weight must be a number (percent)`);
  if (shadow !== undefined && typeof shadow !== "boolean")
    throw invalid(`${where}.shadow must be true or false`);
  let ref: VersionRef;
  if (version !== undefined && alias !== undefined)
    throw invalid(`${where}: give version or alias, not both`);
  if (version !== undefined) {
    if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) {
      throw invalid(`${where}.version must be a positive integer`);
    }
    ref = { version };
  } else if (typeof alias === "string" && alias.length > 0) {
    ref = { alias };
  } else {
    ref = { alias: "latest" };
  }
  return { name, model, ref, weight, ...(shadow === undefined ? {} : { shadow }) };
}
