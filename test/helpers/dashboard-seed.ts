/**
 * A server with something on every dashboard page: the fraud deployment with a drift monitor
 * and traffic (a normal window, then a shifted one), a `shop` deployment in the middle of a
 * canary rollout, and a two-step pipeline with one finished run.
 */
import { startTestServer, type TestServer } from "./app.js";
import { fraudRows } from "./traffic.js";
import { sendFraudTraffic } from "./fraud-requests.js";
import { watchFraudDrift } from "./monitors.js";
import { startShopCanary } from "./canary.js";
import { pipelineManifest, runPipeline } from "./pipeline-runs.js";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { testKinds } from "../pipelines/test-kinds.js";
import type { AppOptions } from "../../src/server/app.js";

export const PIPELINE_SPEC = {
  params: { word: "ab" },
  steps: [
    { name: "data", emit: { value: "${params.word}" } },
    { name: "twice", double: { input: "data" } },
  ],
};

export interface SeededServer extends TestServer {
  /** Undoes the test step kinds. */
  restore(): void;
  runId: string;
}

/** `token`: what the seeding traffic presents when `app.tokens` closes inference. */
export async function seedDashboard(app: AppOptions = {}, token?: string): Promise<SeededServer> {
  const restore = injectStepKinds(testKinds().kinds);
  const server = await startTestServer({
    app: { dashboard: { sampleMs: 0 }, ...app },
    ballast: { pipelineTicker: false },
  });
  const b = server.ballast;
  await watchFraudDrift(b);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  await sendFraudTraffic(server, fraudRows(2, 200, 1), () => headers);
  server.clock.advance(60_000);
  await sendFraudTraffic(server, fraudRows(3, 200, 3), () => headers);
  server.clock.advance(60_000);
  await sendFraudTraffic(server, fraudRows(4, 200, 1), () => headers);

  // A canary in progress: shop serves fraud v1, v2 goes out in steps that wait for a person.
  await startShopCanary(server, [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }]);

  await b.resources.apply({
    manifests: [pipelineManifest("retrain", PIPELINE_SPEC, "seed")],
    source: { via: "api" },
  });
  const runId = await runPipeline(server, "retrain", "seed");
  return { ...server, restore, runId };
}
