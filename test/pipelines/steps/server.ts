/** The real PipelineServer over a Ballast opened on a temp dir (SQLite), as ballast.ts wires it. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipelineServer } from "../../../src/application/pipeline-server.js";
import type { PipelineServer } from "../../../src/pipelines/step.js";
import { FRAUD_MODEL, startTestServer, type TestServer } from "../../helpers/app.js";

export function serverFor(t: TestServer, fileRoots: readonly string[] = [t.dataDir]): PipelineServer {
  const b = t.ballast;
  return pipelineServer({
    db: b.store.db,
    predictions: b.predictions,
    flush: () => b.predictionLog.flush(),
    registry: b.registry,
    artifacts: b.artifacts,
    deployments: b.deployments,
    changes: b.changes,
    rollingTo: (d) => b.rollouts.rollingTo(d),
    events: b.events,
    fileRoots,
  });
}

/** The test server with `fraud` deployed (FRAUD_MODEL v1), optionally with a canary strategy. */
export async function fraudServer(options: { canary?: boolean } = {}): Promise<TestServer> {
  const t = await startTestServer();
  if (options.canary === true) {
    const deployment = await t.ballast.deployments.get("fraud");
    const { createdAt: _c, updatedAt: _u, ...declared } = deployment;
    await t.ballast.changes.apply(
      {
        ...declared,
        strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
      },
      { strategy: "skip" },
    );
  }
  return t;
}

export async function writeModel(
  dir: string,
  name: string,
  weights: number[],
  intercept: number,
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, weights, intercept }));
  return path;
}
