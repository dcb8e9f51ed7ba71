/**
 * Ballast as it runs in production: SQLite store, prediction log and metrics on (process
 * metrics included), request logging off, serving mlp.onnx as deployment `mlp`. The data
 * directory comes from the parent, which removes it even if this process is killed.
 */
import type { AddressInfo } from "node:net";
import type * as BallastModule from "../../src/ballast.js";
import type * as AppModule from "../../src/server/app.js";
import { DEPLOYMENT, MLP_PATH } from "../mlp-fixture.js";
import { serveForParent, type RunningServer } from "./protocol.js";

// Ballast runs compiled, from dist/, as `npm start` runs it (the parent builds it first), so the
// figures are not those of the tsx loader's transformed source.
const { openBallast } = (await import(
  new URL("../../dist/ballast.js", import.meta.url).href
)) as typeof BallastModule;
const { buildApp } = (await import(
  new URL("../../dist/server/app.js", import.meta.url).href
)) as typeof AppModule;

async function start(): Promise<RunningServer> {
  const dataDir = process.env.BENCH_DATA_DIR;
  if (dataDir === undefined) throw new Error("BENCH_DATA_DIR is not set");
  const ballast = await openBallast({ dataDir, defaultMetrics: true });
  try {
    const { version } = await ballast.registry.registerVersion({ model: DEPLOYMENT, artifactPath: MLP_PATH });
    await ballast.deployments.put({
      name: DEPLOYMENT,
      variants: [{ name: "stable", model: DEPLOYMENT, ref: { version: version.version }, weight: 100 }],
    });
    const problems = await ballast.endpoints.sync();
    if (problems.length > 0)
      throw new Error(`deployment not serving: ${problems.map((p) => p.error).join("; ")}`);
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
