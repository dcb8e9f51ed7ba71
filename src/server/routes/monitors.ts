/** Monitors over HTTP: declare one per deployment, read its windows, drift and alerts. */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { parseMonitorSpec } from "../../monitoring/monitor-spec.js";

export function monitorRoutes(ballast: Ballast): FastifyPluginAsync {
  const { monitors } = ballast;
  return async (app) => {
    app.get("/api/v1/monitors", async () => ({ monitors: monitors.list() }));

    app.get<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) =>
      monitors.status(request.params.name),
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
