/**
 * A server with something on every dashboard page: the fraud deployment with a drift monitor
 * and traffic (a normal window, then a shifted one), a `shop` deployment in the middle of a
 * canary rollout, and a two-step pipeline with one finished run.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FRAUD_MODEL, startTestServer, type TestServer } from "./app.js";
import { fraudRows } from "./traffic.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
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
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 3000, 1));
  await b.registry.attachReference("fraud", 1, builder.finish());
  await b.monitorChanges.put(
    (await import("../../src/monitoring/monitor-spec.js")).parseAnyMonitorSpec(
      {
        deployment: "fraud",
        features: ["amount", "hour"],
        test: "psi",
        window: { kind: "tumbling", by: "count", size: 200 },
        minSamples: 100,
      },
      "fraud-drift",
    ),
  );
  const send = async (rows: ReturnType<typeof fraudRows>) => {
    for (let i = 0; i < rows.length; i += 50) {
      const r = await server.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        payload: { instances: rows.slice(i, i + 50) },
        ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
      });
      if (r.statusCode !== 200) throw new Error(`seeding traffic: ${r.statusCode} ${r.body}`);
      await b.monitors.settled();
    }
  };
  await send(fraudRows(2, 200, 1));
  server.clock.advance(60_000);
  await send(fraudRows(3, 200, 3));
  server.clock.advance(60_000);
  await send(fraudRows(4, 200, 1));

  // A canary in progress: shop serves fraud v1, v2 goes out in steps that wait for a person.
  const v2 = join(server.dataDir, "fraud-v2.json");
  await writeFile(v2, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
  await b.registry.registerVersion({ model: "fraud", artifactPath: v2 });
  await b.deployments.put({
    name: "shop",
    variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: {} }] } },
  });
  await b.endpoints.sync();
  await b.rollouts.start("shop", { ref: { version: 2 } });
  await b.rollouts.tick();

  await b.resources.apply({
    manifests: [
      {
        manifest: {
          apiVersion: "ballast/v1",
          kind: "Pipeline",
          metadata: { name: "retrain" },
          spec: PIPELINE_SPEC,
        },
        origin: { file: "seed", document: 1, line: 1 },
      },
    ],
    source: { via: "api" },
  });
  const started = await b.pipelines.start("retrain", {
    params: {},
    trigger: { kind: "manual", reason: "seed" },
  });
  if (!started.started) throw new Error(started.reason);
  for (let i = 0; i < 10; i++) {
    await b.pipelines.tick();
    await b.pipelines.settled();
    const run = await b.pipelines.get(started.runId);
    if (run?.state !== "Running" && run?.state !== "Pending") break;
  }
  return { ...server, restore, runId: started.runId };
}
