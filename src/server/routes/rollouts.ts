/**
 * Rollouts over HTTP: start one, watch it, and act on it (`ballast rollout …` calls these).
 * Every action goes through the controller's queue, so a promote racing an abort is answered
 * in order: the second one finds the rollout ended and says so (409).
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import type { ManualAction } from "../../rollout/rollout-state.js";
import { parseDuration } from "../../domain/duration.js";

const ACTIONS: readonly ManualAction[] = ["pause", "resume", "abort", "promote"];

export function rolloutRoutes(ballast: Ballast): FastifyPluginAsync {
  const { rollouts } = ballast;
  return async (app) => {
    // How each shadow variant's answers compare with the live ones.
    app.get<{ Params: { name: string } }>("/api/v1/deployments/:name/shadows", async (request) => {
      await ballast.deployments.get(request.params.name); // 404 for an unknown deployment
      return { shadows: ballast.shadows.reports(request.params.name) };
    });

    // Champion/challenger: every other variant (shadows included) against the champion on labels.
    app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>(
      "/api/v1/deployments/:name/challengers",
      async (request) => {
        const q = request.query;
        const number = (key: string, low: number, high: number): number | undefined => {
          const raw = q[key];
          if (raw === undefined) return undefined;
          const value = Number(raw);
          if (!(value > low && value < high)) throw invalid(`${key} must be a number in (${low}, ${high})`);
          return value;
        };
        const overrides = {
          ...(q.window === undefined ? {} : { windowMs: parseDuration(q.window, "window") }),
          ...(q.score === undefined ? {} : { score: q.score }),
          ...(q.regression === undefined ? {} : { regression: q.regression === "true" }),
          ...(number("alpha", 0, 0.5) === undefined ? {} : { alpha: number("alpha", 0, 0.5) as number }),
          ...(number("threshold", 0, 1) === undefined
            ? {}
            : { threshold: number("threshold", 0, 1) as number }),
        };
        return {
          deployment: request.params.name,
          challengers: await rollouts.challengers(request.params.name, overrides),
        };
      },
    );

    app.get<{ Params: { name: string } }>("/api/v1/deployments/:name/rollout", async (request) =>
      rollouts.describe(request.params.name),
    );

    app.post<{ Params: { name: string } }>("/api/v1/deployments/:name/rollout", async (request) => {
      const body = request.body;
      if (!isPlainObject(body)) throw invalid("the request body must be {version: N} or {alias: name}");
      const { model, version, alias } = body;
      if (model !== undefined && typeof model !== "string") throw invalid("model must be a model name");
      if ((version === undefined) === (alias === undefined))
        throw invalid("give version or alias (the version to roll out)");
      if (
        version !== undefined &&
        (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1)
      )
        throw invalid("version must be a positive integer");
      if (alias !== undefined && typeof alias !== "string") throw invalid("alias must be an alias name");
      await rollouts.start(request.params.name, {
        ...(model === undefined ? {} : { model }),
        ref: version !== undefined ? { version: version as number } : { alias: alias as string },
      });
      return rollouts.describe(request.params.name);
    });

    app.post<{ Params: { name: string; action: string } }>(
      "/api/v1/deployments/:name/rollout/:action",
      async (request) => {
        const { name, action } = request.params;
        if (action === "undo") {
          // The view shows the last rollout, which an undone promotion leaves as Succeeded.
          const undone = await rollouts.undo(name);
          return { ...(await rollouts.describe(name)), undone };
        } else if ((ACTIONS as readonly string[]).includes(action)) {
          await rollouts.act(name, action as ManualAction);
        } else {
          throw invalid(`unknown rollout action '${action}'; expected ${[...ACTIONS, "undo"].join(", ")}`);
        }
        return rollouts.describe(name);
      },
    );
  };
}
