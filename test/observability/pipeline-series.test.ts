import { test } from "node:test";
import { rm } from "node:fs/promises";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { FINAL_RUN_STATES, pipelineSeries } from "../../src/observability/pipeline-series.js";
import type { PipelineRun, StepRun } from "../../src/pipelines/run-store.js";
import { startTestServer } from "../helpers/app.js";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { testKinds } from "../pipelines/test-kinds.js";

const step = (name: string, extra: Partial<StepRun>): StepRun =>
  ({
    step: name,
    kind: "train",
    state: "Succeeded",
    attempt: 1,
    cached: false,
    inputs: {},
    outputs: {},
    logLines: 0,
    logDropped: 0,
    ...extra,
  }) as StepRun;

test("a finished run counts by state and times the run and its uncached steps", async () => {
  const registry = new Registry();
  const series = pipelineSeries(registry, async () => []);
  series.runFinished({
    id: "r1",
    pipeline: "retrain",
    state: "Failed",
    createdAt: 0,
    startedAt: 1_000,
    finishedAt: 8_000,
    steps: [
      step("prepare", { cached: true, startedAt: 1_000, finishedAt: 1_500 }),
      step("train", { state: "Failed", startedAt: 2_000, finishedAt: 4_500 }),
      step("register", { state: "Pending" }),
    ],
  } as unknown as PipelineRun);
  const text = await registry.metrics();
  assert.match(text, /^ballast_pipeline_runs_total\{pipeline="retrain",state="Failed"\} 1$/m);
  assert.match(text, /^ballast_pipeline_run_duration_seconds_sum\{pipeline="retrain",state="Failed"\} 7$/m);
  assert.match(
    text,
    /^ballast_pipeline_step_duration_seconds_sum\{pipeline="retrain",step="train",state="Failed"\} 2\.5$/m,
  );
  assert.doesNotMatch(text, /step="prepare"/, "a cached step did no work");
  assert.doesNotMatch(text, /step="register"/, "a step that never ran has no time");
});

const runLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("ballast_pipeline_runs_total{"))
    .sort();

test("every declared Pipeline has its run counter at 0 for each final state; counted runs are kept", async () => {
  const registry = new Registry();
  let declared: string[] = ["retrain"];
  const series = pipelineSeries(registry, async () => declared);
  assert.deepEqual(FINAL_RUN_STATES, ["Succeeded", "Failed", "Cancelled"]);
  assert.deepEqual(runLines(await registry.metrics()), [
    'ballast_pipeline_runs_total{pipeline="retrain",state="Cancelled"} 0',
    'ballast_pipeline_runs_total{pipeline="retrain",state="Failed"} 0',
    'ballast_pipeline_runs_total{pipeline="retrain",state="Succeeded"} 0',
  ]);
  series.runFinished({
    id: "r1",
    pipeline: "retrain",
    state: "Failed",
    createdAt: 0,
    finishedAt: 1_000,
    steps: [],
  } as unknown as PipelineRun);
  declared = ["retrain", "score"];
  const text = await registry.metrics();
  assert.deepEqual(runLines(text), [
    'ballast_pipeline_runs_total{pipeline="retrain",state="Cancelled"} 0',
    'ballast_pipeline_runs_total{pipeline="retrain",state="Failed"} 1',
    'ballast_pipeline_runs_total{pipeline="retrain",state="Succeeded"} 0',
    'ballast_pipeline_runs_total{pipeline="score",state="Cancelled"} 0',
    'ballast_pipeline_runs_total{pipeline="score",state="Failed"} 0',
    'ballast_pipeline_runs_total{pipeline="score",state="Succeeded"} 0',
  ]);
});

test("when the declared Pipelines cannot be read, the scrape still answers with the runs counted", async () => {
  const registry = new Registry();
  const series = pipelineSeries(registry, () => Promise.reject(new Error("store down")));
  series.runFinished({
    id: "r1",
    pipeline: "retrain",
    state: "Succeeded",
    createdAt: 0,
    finishedAt: 1_000,
    steps: [],
  } as unknown as PipelineRun);
  assert.deepEqual(runLines(await registry.metrics()), [
    'ballast_pipeline_runs_total{pipeline="retrain",state="Succeeded"} 1',
  ]);
});

test("/metrics of a server shows a Pipeline's zero run series once it is applied, and again after a restart", async () => {
  const restore = injectStepKinds(testKinds().kinds);
  const s = await startTestServer({ deploy: false, ballast: { pipelineTicker: false } });
  let reopened: Awaited<ReturnType<typeof startTestServer>> | undefined;
  try {
    const zeros = [
      'ballast_pipeline_runs_total{pipeline="nightly",state="Cancelled"} 0',
      'ballast_pipeline_runs_total{pipeline="nightly",state="Failed"} 0',
      'ballast_pipeline_runs_total{pipeline="nightly",state="Succeeded"} 0',
    ];
    assert.deepEqual(runLines((await s.app.inject("/metrics")).body), [], "no Pipeline, no series");
    const applied = await s.app.inject({
      method: "POST",
      url: "/api/v1/apply",
      payload: {
        resources: [
          {
            manifest: {
              apiVersion: "ballast/v1",
              kind: "Pipeline",
              metadata: { name: "nightly" },
              spec: { steps: [{ name: "data", emit: { value: "x" } }] },
            },
          },
        ],
        source: { via: "cli" },
      },
    });
    assert.equal(applied.statusCode, 200, applied.body);
    assert.deepEqual(runLines((await s.app.inject("/metrics")).body), zeros);

    // A new process on the same store: the Pipeline is declared there, so its zeros are too.
    await s.app.close();
    await s.ballast.close();
    reopened = await startTestServer({
      deploy: false,
      ballast: { pipelineTicker: false, dataDir: s.dataDir },
    });
    assert.deepEqual(runLines((await reopened.app.inject("/metrics")).body), zeros);
  } finally {
    if (reopened !== undefined) await reopened.close();
    else await s.close();
    await rm(s.dataDir, { recursive: true, force: true });
    restore();
  }
});
