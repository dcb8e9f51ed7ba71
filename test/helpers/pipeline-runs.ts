/** Pipelines applied as resources and run to their end on the injected clock. */
import type { TestServer } from "./app.js";

/** A Pipeline resource as `resources.apply` takes it; `file` names where it came from. */
export function pipelineManifest(name: string, spec: object, file: string) {
  return {
    manifest: { apiVersion: "ballast/v1", kind: "Pipeline", metadata: { name }, spec },
    origin: { file, document: 1, line: 1 },
  };
}

/**
 * Starts pipeline `name` by hand and ticks it (at most 10 times, the clock moved `tickMs` before
 * each) until its run is neither pending nor running. Returns the run's id.
 */
export async function runPipeline(s: TestServer, name: string, reason: string, tickMs = 0): Promise<string> {
  const b = s.ballast;
  const started = await b.pipelines.start(name, { params: {}, trigger: { kind: "manual", reason } });
  if (!started.started) throw new Error(started.reason);
  for (let i = 0; i < 10; i++) {
    s.clock.advance(tickMs);
    await b.pipelines.tick();
    await b.pipelines.settled();
    const run = await b.pipelines.get(started.runId);
    if (run?.state !== "Running" && run?.state !== "Pending") break;
  }
  return started.runId;
}
