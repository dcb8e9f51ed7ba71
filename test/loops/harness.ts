/**
 * Shared by the loop tests: a Ballast in-process on SQLite with every ticker off and a manual
 * clock, the example manifests applied through the API, and helpers that drive monitors,
 * triggers, pipeline runs and rollouts by hand.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { readManifests } from "../../src/resources/manifest.js";
import type { PipelineRun } from "../../src/pipelines/run-store.js";
import { startTestServer, type TestServer } from "../helpers/app.js";

export async function loopServer(): Promise<TestServer> {
  return startTestServer({
    deploy: false,
    ballast: { pipelineTicker: false, triggerTicker: false, rolloutTicker: false },
  });
}

export async function register(t: TestServer, model: string, file: string): Promise<number> {
  const { version } = await t.ballast.registry.registerVersion({ model, artifactPath: file });
  return version.version;
}

export async function applyFile(t: TestServer, path: string): Promise<void> {
  const text = await readFile(path, "utf8");
  const resources = readManifests(text, path).map((m) => ({ manifest: m.manifest, origin: m.origin }));
  const res = await t.app.inject({ method: "POST", url: "/api/v1/apply", payload: { resources } });
  assert.equal(res.statusCode, 200, res.body);
}

export async function post(
  t: TestServer,
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
) {
  const res = await t.app.inject({ method: "POST", url, payload: payload as object, headers });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/** Evaluates the monitors at the clock's time and lets the alerts and triggers they cause run. */
export async function evaluateMonitors(t: TestServer): Promise<void> {
  // Leases are renewed on a wall-clock timer; the manual clock jumps, so renew at its time.
  await t.ballast.replica.leases.renew();
  t.ballast.monitors.tick(t.clock.now());
  await t.ballast.monitors.settled();
  await t.ballast.pipelineTriggers.tick();
  await t.ballast.pipelineTriggers.settled();
}

/** Ticks the orchestrator until the run has finished. */
export async function driveRun(t: TestServer, runId: string, ticks = 40): Promise<PipelineRun> {
  for (let i = 0; i < ticks; i++) {
    await t.ballast.replica.leases.renew();
    await t.ballast.pipelines.tick();
    await t.ballast.pipelines.settled();
    const run = (await t.ballast.pipelines.get(runId)) as PipelineRun;
    if (run.state !== "Pending" && run.state !== "Running") return run;
  }
  return (await t.ballast.pipelines.get(runId)) as PipelineRun;
}

export async function runsOf(t: TestServer, pipeline: string): Promise<PipelineRun[]> {
  return t.ballast.pipelines.list(pipeline);
}

export interface RolloutView {
  rollout: {
    phase: string;
    weight: number;
    message: string;
    canary: { version: number };
  } | null;
  gates: Array<{ gate: string; decision: string; detail: string }>;
}

export async function rolloutOf(t: TestServer, deployment: string): Promise<RolloutView> {
  return (await t.app.inject({ url: `/api/v1/deployments/${deployment}/rollout` })).json() as RolloutView;
}

/** What the deployment's live variants serve now. */
export async function servedVersions(t: TestServer, deployment: string): Promise<number[]> {
  const d = await t.ballast.deployments.get(deployment);
  return d.variants
    .filter((v) => v.shadow !== true && (v.weight ?? 100) > 0)
    .map((v) => (v.ref as { version?: number }).version ?? -1);
}

export async function rolloutEvents(t: TestServer, deployment: string): Promise<string[]> {
  const events = await t.ballast.events.list({ name: deployment });
  return events.map((e) => e.reason);
}
