/**
 * Pipeline runs as Prometheus series: how many ended and how, and how long runs and their steps
 * took. Fed from the orchestrator's run-finished listener, so a run is counted once, on the
 * process that finished it; a cached step did no work and is not timed.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { PipelineRun } from "../pipelines/run-store.js";

// Training runs take from seconds to hours: buckets span that range.
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

export interface PipelineSeries {
  runFinished(run: PipelineRun): void;
}

export function pipelineSeries(registry: Registry): PipelineSeries {
  const runs = new Counter({
    name: "ballast_pipeline_runs_total",
    help: "Pipeline runs that ended on this process, by pipeline and final state (Succeeded, Failed, Cancelled).",
    labelNames: ["pipeline", "state"] as const,
    registers: [registry],
  });
  const runDuration = new Histogram({
    name: "ballast_pipeline_run_duration_seconds",
    help: "Time from a pipeline run's start to its end, in seconds, by pipeline and final state.",
    labelNames: ["pipeline", "state"] as const,
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  const stepDuration = new Histogram({
    name: "ballast_pipeline_step_duration_seconds",
    help: "Time a pipeline step's last attempt took, in seconds, by pipeline, step and its final state (cached steps are not timed).",
    labelNames: ["pipeline", "step", "state"] as const,
    buckets: RUN_BUCKETS,
    registers: [registry],
  });
  return {
    runFinished(run: PipelineRun): void {
      runs.inc({ pipeline: run.pipeline, state: run.state });
      const started = run.startedAt ?? run.createdAt;
      if (run.finishedAt !== undefined) {
        runDuration.observe(
          { pipeline: run.pipeline, state: run.state },
          Math.max(0, run.finishedAt - started) / 1000,
        );
      }
      for (const step of run.steps) {
        if (step.cached || step.startedAt === undefined || step.finishedAt === undefined) continue;
        stepDuration.observe(
          { pipeline: run.pipeline, step: step.step, state: step.state },
          Math.max(0, step.finishedAt - step.startedAt) / 1000,
        );
      }
    },
  };
}
