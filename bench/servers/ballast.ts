/**
 * Ballast as it runs in production: SQLite store, prediction log and metrics on (process
 * metrics included), request logging off, serving mlp.onnx as deployment `mlp`. The data
 * directory comes from the parent, which removes it even if this process is killed.
 *
 * With BENCH_MONITOR=1 (the "ballast+monitor" kind) the version is registered with feature
 * names and a reference profile, and monitor `mlp-drift` watches the deployment, so every
 * answered row is also sketched; everything else is the same, so the two kinds' ratio is the
 * cost of drift monitoring.
 */
import type { AddressInfo } from "node:net";
import type * as BallastModule from "../../src/ballast.js";
import type * as AppModule from "../../src/server/app.js";
import type * as ProfileBuilderModule from "../../src/monitoring/profile/profile-builder.js";
import type * as MonitorSpecModule from "../../src/monitoring/monitor-spec.js";
import type { ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { DEPLOYMENT, FEATURE_NAMES, MLP_PATH, MONITOR_NAME, REQUEST_ROW } from "../mlp-fixture.js";
import { serveForParent, type RunningServer } from "./protocol.js";

// Ballast runs compiled, from dist/, as `npm start` runs it (the parent builds it first), so the
// figures are not those of the tsx loader's transformed source.
const { openBallast } = (await import(
  new URL("../../dist/ballast.js", import.meta.url).href
)) as typeof BallastModule;
const { buildApp } = (await import(
  new URL("../../dist/server/app.js", import.meta.url).href
)) as typeof AppModule;
const { ProfileBuilder } = (await import(
  new URL("../../dist/monitoring/profile/profile-builder.js", import.meta.url).href
)) as typeof ProfileBuilderModule;
const { parseMonitorSpec } = (await import(
  new URL("../../dist/monitoring/monitor-spec.js", import.meta.url).href
)) as typeof MonitorSpecModule;

const REFERENCE_ROWS = 20_000;
const monitored = process.env.BENCH_MONITOR === "1";

/**
 * The reference is the distribution the load generator sends, which is the one request row
 * repeated, so live windows match it and no drift alert fires: the cost measured is
 * sketching and evaluating, not alerting.
 */
function referenceProfile(): ReferenceProfile {
  const row = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, REQUEST_ROW[i] as number]));
  const builder = new ProfileBuilder();
  const batch = new Array<Record<string, number>>(1000).fill(row);
  for (let added = 0; added < REFERENCE_ROWS; added += batch.length) builder.add(batch);
  return builder.finish();
}

async function start(): Promise<RunningServer> {
  const dataDir = process.env.BENCH_DATA_DIR;
  if (dataDir === undefined) throw new Error("BENCH_DATA_DIR is not set");
  const ballast = await openBallast({ dataDir, defaultMetrics: true });
  try {
    const { version } = await ballast.registry.registerVersion({
      model: DEPLOYMENT,
      artifactPath: MLP_PATH,
      ...(monitored ? { features: FEATURE_NAMES, referenceProfile: referenceProfile() } : {}),
    });
    await ballast.deployments.put({
      name: DEPLOYMENT,
      variants: [{ name: "stable", model: DEPLOYMENT, ref: { version: version.version }, weight: 100 }],
    });
    const problems = await ballast.endpoints.sync();
    if (problems.length > 0)
      throw new Error(`deployment not serving: ${problems.map((p) => p.error).join("; ")}`);
    if (monitored) {
      ballast.monitors.put(
        parseMonitorSpec(
          { deployment: DEPLOYMENT, window: { kind: "tumbling", by: "count", size: 10_000 } },
          MONITOR_NAME,
        ),
      );
      ballast.monitors.prepare(DEPLOYMENT, [
        { variant: "stable", model: DEPLOYMENT, version: version.version },
      ]);
      await ballast.monitors.settled();
      const problem = ballast.monitors.status(MONITOR_NAME).variants.find((v) => v.problem !== null);
      if (problem !== undefined) throw new Error(`monitor ${MONITOR_NAME} not watching: ${problem.problem}`);
    }
  } catch (error) {
    await ballast.close();
    throw error;
  }
  const app = await buildApp(ballast, { logger: false });
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    port: (app.server.address() as AddressInfo).port,
    flush: () => ballast.predictionLog.flush(),
    stop: async () => {
      await app.close();
      await ballast.close();
    },
  };
}

await serveForParent(start);
