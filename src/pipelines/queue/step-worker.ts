/**
 * What a `ballast worker` does with one StepTask: downloads its input artifacts from the server,
 * runs the step kind (only `anywhere` kinds: the ones that need no server), and uploads what the
 * step wrote, answering with the artifact refs the orchestrator records. Each attempt works in a
 * fresh directory, removed afterwards; the step's timeout aborts it.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { systemClock, type Clock } from "../../domain/clock.js";
import { stepContext, type ArtifactRef, type StepKind, type StepTask, type StepTaskResult } from "../step.js";
import type { StepKinds } from "../steps/index.js";
import type { ArtifactClient } from "./artifact-client.js";

export interface StepWorkerDeps {
  readonly kinds: StepKinds;
  readonly artifacts: ArtifactClient;
  /** Where attempts get their directories. */
  readonly workRoot: string;
  readonly clock?: Clock;
  /** Where the step's log lines go (the job's log, the worker's output). */
  readonly log?: (line: string) => void;
}

/** Log lines one attempt may write; past it they are counted, not kept. */
export const MAX_LOG_LINES = 10_000;

export async function runStepTask(
  task: StepTask,
  deps: StepWorkerDeps,
  signal: AbortSignal,
): Promise<StepTaskResult> {
  const kind: StepKind | undefined = deps.kinds.get(task.kind);
  if (kind === undefined)
    throw new Error(`this worker has no step kind ${task.kind} (it has ${deps.kinds.names().join(", ")})`);
  if (kind.placement !== "anywhere") throw new Error(`step kind ${task.kind} runs in the server only`);
  await mkdir(deps.workRoot, { recursive: true });
  const dir = await mkdtemp(join(deps.workRoot, "attempt-"));
  const timeout = AbortSignal.timeout(task.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  let lines = 0;
  try {
    const inputsDir = join(dir, "inputs");
    const workDir = join(dir, "work");
    await mkdir(inputsDir);
    await mkdir(workDir);
    const inputs: Record<string, ArtifactRef & { path: string }> = {};
    for (const [name, ref] of Object.entries(task.inputs)) {
      const path = join(inputsDir, ref.sha256);
      // Two inputs naming one artifact share the file.
      if (!Object.values(inputs).some((i) => i.sha256 === ref.sha256))
        await deps.artifacts.download(ref.sha256, path, both);
      inputs[name] = { ...ref, path };
    }
    const ctx = stepContext(kind, task, {
      inputs,
      workDir,
      log: {
        line: (text) => {
          lines += 1;
          if (lines <= MAX_LOG_LINES) deps.log?.(text);
          else if (lines === MAX_LOG_LINES + 1)
            deps.log?.(`(more than ${MAX_LOG_LINES} lines; the rest are counted only)`);
        },
      },
      signal: both,
      clock: deps.clock ?? systemClock,
    });
    const result = await kind.run(ctx);
    if (timeout.aborted) throw new Error(`step ${task.step} ran past its timeout of ${task.timeoutMs} ms`);
    const outputs: Record<string, ArtifactRef> = {};
    for (const [name, out] of Object.entries(result.outputs)) {
      const file = isAbsolute(out.file) ? out.file : join(workDir, out.file);
      const { sha256, bytes } = await deps.artifacts.upload(file, both);
      outputs[name] = { sha256, kind: out.kind, bytes, meta: out.meta ?? {} };
    }
    return { outputs, ...(result.summary === undefined ? {} : { summary: result.summary }) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
