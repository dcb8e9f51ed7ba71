/**
 * Runs step attempts in this process: the step kind's `run` with the step's timeout as an
 * AbortSignal, in a fresh work dir (dataDir/pipelines/runs/<run>/<step>/<attempt>), its
 * outputs stored in the ArtifactStore and handed back as ArtifactRefs. Steps that spawn
 * programs (a `command` trainer) do so themselves, under the same signal.
 */
import { mkdir, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import type { Clock } from "../../domain/clock.js";
import type { JsonValue } from "../../domain/json-value.js";
import {
  stepContext,
  type ArtifactRef,
  type PipelineServer,
  type StepContext,
  type StepExecutor,
  type StepKind,
  type StepLog,
  type StepResult,
  type StepTask,
  type StepTaskResult,
} from "../step.js";
import { stepKinds, type StepKinds } from "../steps/index.js";

/** What the executor needs of the registry's artifact store. */
export interface ArtifactFiles {
  put(sourcePath: string): Promise<{ readonly sha256: string; readonly size: number }>;
  ensureLocal(sha256: string): Promise<string>;
}

/**
 * A step kind that can tell, after a restart, whether an attempt that was cut off had already
 * made its effect (a version registered for this run, a canary started for it) and if so what
 * it made. Optional: kinds without it are re-run, and must be idempotent by run id.
 */
export interface RecoverableStepKind<S = unknown> extends StepKind<S> {
  recover(ctx: StepContext<S>): Promise<StepResult | undefined>;
}

export function isRecoverable(kind: StepKind): kind is RecoverableStepKind {
  return typeof (kind as Partial<RecoverableStepKind>).recover === "function";
}

export interface EmbeddedOptions {
  readonly dataDir: string;
  readonly artifacts: ArtifactFiles;
  readonly clock: Clock;
  readonly kinds?: StepKinds;
  readonly server?: PipelineServer;
  /** Where a task's log lines go (the orchestrator keeps them with the run). */
  readonly log?: (task: StepTask) => StepLog;
}

export class EmbeddedExecutor implements StepExecutor {
  private readonly kinds: StepKinds;

  constructor(private readonly options: EmbeddedOptions) {
    this.kinds = options.kinds ?? stepKinds;
  }

  execute(task: StepTask, signal: AbortSignal): Promise<StepTaskResult> {
    return this.attempt(task, signal, (kind, ctx) => kind.run(ctx));
  }

  /**
   * After a restart: asks a recoverable kind what the cut-off attempt made. Undefined when the
   * kind cannot tell or finds nothing made (the caller then runs it again).
   */
  async recover(task: StepTask, signal: AbortSignal): Promise<StepTaskResult | undefined> {
    const kind = this.kind(task);
    if (!isRecoverable(kind)) return undefined;
    let found = false;
    const result = await this.attempt(task, signal, async (_k, ctx) => {
      const made = await kind.recover(ctx);
      found = made !== undefined;
      return made ?? { outputs: {} };
    });
    return found ? result : undefined;
  }

  async close(): Promise<void> {}

  /** The work dir of one attempt. */
  workDir(task: Pick<StepTask, "runId" | "step" | "attempt">): string {
    const root = resolve(this.options.dataDir, "pipelines", "runs");
    const dir = resolve(root, task.runId, task.step, String(task.attempt));
    // Run ids and step names are checked names, but a work dir must never leave its root.
    if (!dir.startsWith(root + sep)) throw new Error(`work dir ${dir} is outside ${root}`);
    return dir;
  }

  private kind(task: StepTask): StepKind {
    const kind = this.kinds.get(task.kind);
    if (kind === undefined) throw new Error(`step kind '${task.kind}' is not known to this server`);
    return kind;
  }

  private async attempt(
    task: StepTask,
    signal: AbortSignal,
    work: (kind: StepKind, ctx: StepContext<unknown>) => Promise<StepResult>,
  ): Promise<StepTaskResult> {
    const kind = this.kind(task);
    const inputs: Record<string, ArtifactRef & { path: string }> = {};
    for (const [name, ref] of Object.entries(task.inputs)) {
      inputs[name] = { ...ref, path: await this.options.artifacts.ensureLocal(ref.sha256) };
    }
    const workDir = this.workDir(task);
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });
    // The step's own deadline (wall time), on top of whatever the orchestrator aborts for.
    const timeout = AbortSignal.timeout(task.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    const ctx = stepContext(kind, task, {
      inputs,
      workDir,
      log: this.options.log?.(task) ?? { line: () => {} },
      signal: combined,
      clock: this.options.clock,
      server: this.options.server,
    });
    const result = await untilAborted(work(kind, ctx), combined, task.timeoutMs);
    const outputs: Record<string, ArtifactRef> = {};
    for (const [name, output] of Object.entries(result.outputs)) {
      const stored = await this.options.artifacts.put(resolve(workDir, output.file));
      outputs[name] = {
        sha256: stored.sha256,
        kind: output.kind,
        bytes: stored.size,
        meta: (output.meta ?? {}) as Record<string, JsonValue>,
      };
    }
    // The outputs are in the artifact store now; the attempt's scratch files are not needed.
    await rm(workDir, { recursive: true, force: true });
    return { outputs, ...(result.summary === undefined ? {} : { summary: result.summary }) };
  }
}

/**
 * The step's promise, or a rejection as soon as the signal aborts: a step that ignores its
 * signal cannot hold the run (its work goes on in the background until it notices).
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      const timedOut = reason instanceof DOMException && reason.name === "TimeoutError";
      reject(timedOut ? new Error(`timed out after ${timeoutMs} ms`) : abortError(reason));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(typeof reason === "string" ? reason : "aborted");
}

/** For tests and messages: where attempts of a run live. */
export function runDir(dataDir: string, runId: string): string {
  return join(resolve(dataDir), "pipelines", "runs", runId);
}
