/** Monitors over HTTP: declare one per deployment, read its windows, drift and alerts. */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { parseMonitorSpec } from "../../monitoring/monitor-spec.js";
import { driftFromLog } from "../../monitoring/log-drift.js";
import { performanceFromLog } from "../../monitoring/log-performance.js";
import { parseDuration } from "../../domain/duration.js";
import type { Correction } from "../../monitoring/stats/dataset-drift.js";
import { invalid } from "../../domain/errors.js";
import { instant } from "./predictions.js";

export function monitorRoutes(ballast: Ballast): FastifyPluginAsync {
  const { monitors } = ballast;
  return async (app) => {
    app.get("/api/v1/monitors", async () => ({ monitors: monitors.list() }));

    // Performance by prediction time, with labels and events joined as they have arrived.
    app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>(
      "/api/v1/deployments/:name/performance",
      async (request) => {
        await ballast.deployments.get(request.params.name); // 404 for an unknown deployment
        const now = ballast.clock.now();
        const q = request.query;
        const threshold = q.threshold === undefined ? 0.5 : Number(q.threshold);
        if (!(threshold >= 0 && threshold <= 1)) throw invalid("threshold must be in [0, 1]");
        await ballast.predictionLog.flush();
        const buckets = await performanceFromLog(ballast.predictions, {
          deployment: request.params.name,
          since: q.since === undefined ? now - 7 * 86_400_000 : instant(q.since, "since"),
          until: q.until === undefined ? now + 1 : instant(q.until, "until"),
          bucketMs: parseDuration(q.bucket ?? "1d", "bucket"),
          score: q.score ?? "probability",
          threshold,
        });
        return { deployment: request.params.name, buckets };
      },
    );

    // Drift of what the deployment received over a period, read back from the prediction log.
    app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>(
      "/api/v1/deployments/:name/drift",
      async (request) => {
        await ballast.deployments.get(request.params.name); // 404 for an unknown deployment
        const now = ballast.clock.now();
        const q = request.query;
        const since = q.since === undefined ? now - 7 * 86_400_000 : instant(q.since, "since");
        const until = q.until === undefined ? now + 1 : instant(q.until, "until");
        const correction = q.correction ?? "none";
        if (!["none", "bonferroni", "benjamini-hochberg"].includes(correction)) {
          throw invalid("correction must be none, bonferroni or benjamini-hochberg");
        }
        await ballast.predictionLog.flush();
        return driftFromLog(
          ballast.predictions,
          ballast.references,
          { deployment: request.params.name, since, until },
          { correction: correction as Correction },
        );
      },
    );

    app.get<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) =>
      monitors.status(request.params.name),
    );

    app.get<{ Params: { name: string }; Querystring: { limit?: string } }>(
      "/api/v1/monitors/:name/windows",
      async (request) => {
        const status = monitors.status(request.params.name); // 404 for an unknown monitor
        const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)
          throw invalid("limit must be 1…10000");
        const windows = await ballast.monitorStore.windows(request.params.name, limit);
        return { windows: windows.map((w) => ({ ...w, deployment: status.spec.deployment })) };
      },
    );

    app.put<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) => {
      const spec = parseMonitorSpec(request.body, request.params.name);
      await ballast.monitorStore.put(spec);
      monitors.put(spec);
      prepareMonitors(ballast, spec.deployment);
      await monitors.settled();
      return monitors.status(spec.name);
    });

    app.delete<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) => {
      monitors.delete(request.params.name);
      await ballast.monitorStore.delete(request.params.name);
      return { deleted: request.params.name };
    });
  };
}

/**
 * Points a deployment's monitors at the versions it serves now, so its first rows are watched
 * (a deployment not served yet is prepared when it is).
 */
export function prepareMonitors(ballast: Ballast, deployment: string): void {
  const served = ballast.endpoints.list().find((d) => d.deployment.name === deployment);
  if (served === undefined) return;
  ballast.monitors.prepare(
    deployment,
    served.variants.map((v) => ({
      variant: v.variant.name,
      model: v.version.model,
      version: v.version.version,
    })),
  );
}
