import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { pipelineSeries } from "../../src/observability/pipeline-series.js";
import type { PipelineRun, StepRun } from "../../src/pipelines/run-store.js";

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
  const series = pipelineSeries(registry);
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
