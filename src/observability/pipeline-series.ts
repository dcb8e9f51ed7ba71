/**
 * Pipeline runs as Prometheus series: how many ended and how, and how long runs and their steps
 * took. Fed from the orchestrator's run-finished listener, so a run is counted once, on the
 * process that finished it; a cached step did no work and is not timed.
 *
 * Every declared Pipeline has its run counter at 0 for each final state from the first scrape
 * after it is applied (or after this process starts), before any run ends: Prometheus'
 * increase() and rate() need a sample before the first increment, so a counter that first
 * appeared at 1 would hide the first failed run from the "pipeline failed" alert.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { PipelineRun, RunState } from "../pipelines/run-store.js";

// Training runs take from seconds to hours: buckets span that range.
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/** The states a run ends in: the run counter's `state` values. */
export const FINAL_RUN_STATES: readonly RunState[] = ["Succeeded", "Failed", "Cancelled"];

export interface PipelineSeries {
  runFinished(run: PipelineRun): void;
}

/**
 * `declared`: the names of the Pipelines declared now, read at scrape time (so a Pipeline applied
 * through any replica, or before a restart, gets its zeros here too).
 */
export function pipelineSeries(
  registry: Registry,
  declared: () => Promise<readonly string[]>,
): PipelineSeries {
  const runs = new Counter({
    name: "ballast_pipeline_runs_total",
    help: "Pipeline runs that ended on this process, by pipeline and final state (Succeeded, Failed, Cancelled); 0 for every declared Pipeline before its first.",
    labelNames: ["pipeline", "state"] as const,
    registers: [registry],
    async collect(this: Counter<"pipeline" | "state">) {
      let names: readonly string[];
      try {
        names = await declared();
      } catch {
        // The store did not answer: the runs counted so far are still exported, only the zeros wait.
        return;
      }
      // Adding 0 creates a missing series and leaves a counted one as it is.
      for (const pipeline of names) for (const state of FINAL_RUN_STATES) this.inc({ pipeline, state }, 0);
    },
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
