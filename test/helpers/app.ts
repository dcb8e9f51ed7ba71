/** Starts Ballast in-process on a temp data dir with one builtin logistic model deployed. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { openBallast, type Ballast, type BallastOptions } from "../../src/ballast.js";
import { buildApp, type AppOptions } from "../../src/server/app.js";
import type { Clock } from "../../src/domain/clock.js";

export const FRAUD_FEATURES = ["amount", "hour", "night"];
export const FRAUD_WEIGHTS = [0.8, -0.05, 1.5];
export const FRAUD_INTERCEPT = -3;

/** P(fraud) computed here independently of the runtime, in float64. */
export function expectedProbability(x: number[]): number {
  const z = FRAUD_INTERCEPT + x.reduce((s, v, i) => s + v * (FRAUD_WEIGHTS[i] as number), 0);
  return 1 / (1 + Math.exp(-z));
}

export const FRAUD_MODEL = {
  format: "ballast.builtin/v1",
  kind: "logistic_regression",
  features: FRAUD_FEATURES,
  weights: FRAUD_WEIGHTS,
  intercept: FRAUD_INTERCEPT,
};

export class ManualClock implements Clock {
  constructor(public t = Date.parse("2026-11-25T12:00:00Z")) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface TestServer {
  ballast: Ballast;
  app: FastifyInstance;
  dataDir: string;
  modelPath: string;
  clock: ManualClock;
  close(): Promise<void>;
}

export async function startTestServer(
  options: { ballast?: Partial<BallastOptions>; app?: AppOptions; deploy?: boolean } = {},
): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-test-"));
  const modelPath = join(dataDir, "fraud.json");
  await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
  const clock = new ManualClock();
  // Rollouts step only when a test calls `rollouts.tick()`, on its manual clock.
  const ballast = await openBallast({
    dataDir,
    clock,
    defaultMetrics: false,
    rolloutTicker: false,
    ...options.ballast,
  });
  if (options.deploy !== false) {
    const { version } = await ballast.registry.registerVersion({ model: "fraud", artifactPath: modelPath });
    await ballast.deployments.put({
      name: "fraud",
      variants: [{ name: "stable", model: "fraud", ref: { version: version.version }, weight: 100 }],
    });
    await ballast.endpoints.sync();
  }
  const app = await buildApp(ballast, options.app);
  return {
    ballast,
    app,
    dataDir,
    modelPath,
    clock,
    async close() {
      await app.close();
      await ballast.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
