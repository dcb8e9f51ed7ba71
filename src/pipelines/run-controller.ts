/**
 * The orchestrator: starts pipeline runs (RunStarter), and on every `tick()` moves each active
 * run along as run-decisions.ts says: steps whose upstream is done start (marked Running with
 * their attempt before anything runs), steps past their deadline are aborted, failed attempts
 * are retried after their backoff or fail the run, and steps downstream of a failure are
 * skipped. An attempt resolves its inputs, fingerprints the step, takes earlier outputs when the
 * fingerprint matches (recorded as Cached), or hands the step to an executor: `server` steps
 * always run embedded, `anywhere` steps go to the configured executor (a queue, or embedded).
 *
 * After a restart, steps recorded as Running that this process is not running were cut off:
 * cacheable steps simply run again; effectful ones (register, deploy) are first asked what the
 * cut-off attempt made (`recover`) and otherwise run again under the same run id, which they
 * are idempotent by. So a version is never registered twice and a canary never started twice.
 *
 * The caller drives `tick()` (ballast.ts on a timer under the pipelines lease; tests on a manual
 * clock, then `settled()` to wait for the attempts under way).
 */
import { conflict, notFound } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import { requestIdGenerator } from "../domain/ids.js";
import type { JsonValue } from "../domain/json-value.js";
import { SerialQueue } from "../domain/serial-queue.js";
import { outputOfRef, stepOfRef } from "./dag.js";
import { EmbeddedExecutor, type ArtifactFiles } from "./executors/embedded.js";
import { fingerprint } from "./fingerprint.js";
import { resolveSteps, runParams, type PipelineSpec, type ResolvedStep } from "./pipeline-spec.js";
import { afterFailedAttempt, afterInterruption, nextActions, type RunAction } from "./run-decisions.js";
import type { RunStarter } from "./run-starter.js";
import {
  MAX_LOG_LINES_PER_STEP,
  type LogLine,
  type PipelineRun,
  type RunStore,
  type RunTrigger,
  type StepRun,
} from "./run-store.js";
import {
  stepContext,
  type ArtifactRef,
  type PipelineServer,
  type StepExecutor,
  type StepLog,
  type StepTask,
  type StepTaskResult,
} from "./step.js";
import { stepKinds, type StepKinds } from "./steps/index.js";

export interface RunControllerOptions {
  readonly store: RunStore;
  /** The declared Pipeline's spec, or null when there is none. */
  readonly pipelines: (name: string) => Promise<PipelineSpec | null>;
  readonly artifacts: ArtifactFiles & { exists(sha256: string): Promise<boolean> };
  readonly dataDir: string;
  readonly clock: Clock;
  readonly kinds?: StepKinds;
  /** Where `anywhere` steps go (a queue); embedded when absent. */
  readonly executor?: StepExecutor;
  readonly server?: PipelineServer;
  /** Runs `work` on one replica at a time (starts must not race past the concurrency limit). */
  readonly exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
  /** Called when an attempt ends, so the caller may tick again soon instead of at its next interval. */
  readonly kick?: () => void;
  /** Called once a run has finished (Succeeded, Failed or Cancelled). */
  readonly runFinished?: (run: PipelineRun) => void;
}

export interface StartRequest {
  readonly params?: Record<string, string>;
  readonly trigger: RunTrigger;
}

interface InFlight {
  readonly attempt: number;
  readonly abort: AbortController;
  /** Set when the controller aborted it for its deadline; the failure is recorded there. */
  timedOut: boolean;
  done?: Promise<void>;
}

/** Log lines held for one step until they are written (bounded; the rest counted). */
interface LogBuffer {
  attempt: number;
  lines: LogLine[];
  dropped: number;
}

export class RunController implements RunStarter {
  private readonly kinds: StepKinds;
  private readonly embedded: EmbeddedExecutor;
  private readonly queue = new SerialQueue();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly logBuffers = new Map<string, LogBuffer>();
  private readonly newId: () => string;
  private closing = false;
  private readonly finishedListeners = new Set<(run: PipelineRun) => void>();

  constructor(private readonly options: RunControllerOptions) {
    this.kinds = options.kinds ?? stepKinds;
    this.newId = requestIdGenerator(() => options.clock.now());
    this.embedded = new EmbeddedExecutor({
      dataDir: options.dataDir,
      artifacts: options.artifacts,
      clock: options.clock,
      kinds: this.kinds,
      ...(options.server === undefined ? {} : { server: options.server }),
      log: (task) => this.logFor(task.runId, task.step, task.attempt),
    });
  }

  /**
   * Starts a run of `pipeline`, or says why not (as many runs going as its concurrency allows).
   * An unknown pipeline, an undeclared parameter or a spec its kinds refuse is thrown.
   */
  start(
    pipeline: string,
    request: StartRequest,
  ): Promise<{ started: true; runId: string } | { started: false; reason: string }> {
    const exclusive = this.options.exclusive ?? ((work) => work());
    return this.queue.run(() =>
      exclusive(async () => {
        const spec = await this.options.pipelines(pipeline);
        if (spec === null)
          throw notFound(`Pipeline ${pipeline} does not exist; list them with \`ballast get pipelines\``);
        const params = runParams(spec, request.params ?? {});
        const plan = resolveSteps(spec, params, this.kinds);
        const going = await this.options.store.activeIds(pipeline);
        if (going.length >= spec.concurrency) {
          return {
            started: false as const,
            reason: `pipeline ${pipeline} already has ${going.length} run${going.length === 1 ? "" : "s"} going (${going.join(", ")}); its concurrency is ${spec.concurrency}`,
          };
        }
        const now = this.options.clock.now();
        const id = this.newId().toLowerCase();
        await this.options.store.create({
          id,
          pipeline,
          state: "Pending",
          params,
          trigger: request.trigger,
          spec,
          plan,
          createdAt: now,
          steps: plan.map((s) => ({
            step: s.name,
            kind: s.kind,
            state: "Pending",
            attempt: 0,
            cached: false,
            inputs: {},
            outputs: {},
            logLines: 0,
            logDropped: 0,
          })),
        });
        this.options.kick?.();
        return { started: true as const, runId: id };
      }),
    );
  }

  /**
   * Hears every run that finishes (Succeeded, Failed, Cancelled) on this process, as well as
   * the `runFinished` option: for registry events and notifiers. Returns the unsubscribe.
   */
  subscribe(listener: (run: PipelineRun) => void): () => void {
    this.finishedListeners.add(listener);
    return () => this.finishedListeners.delete(listener);
  }

  get(runId: string): Promise<PipelineRun | null> {
    return this.options.store.get(runId);
  }

  async mustGet(runId: string): Promise<PipelineRun> {
    const run = await this.options.store.get(runId);
    if (run === null) throw notFound(`pipeline run ${runId} does not exist`);
    return run;
  }

  list(pipeline: string, limit?: number): Promise<PipelineRun[]> {
    return this.options.store.list(pipeline, limit);
  }

  async logs(runId: string, step?: string): Promise<LogLine[]> {
    const run = await this.mustGet(runId);
    if (step !== undefined && !run.steps.some((s) => s.step === step))
      throw notFound(
        `run ${runId} has no step ${step}; its steps are ${run.steps.map((s) => s.step).join(", ")}`,
      );
    await this.flushLogs();
    return this.options.store.logs(runId, step);
  }

  /** Cancels a run: its attempts are aborted, its open steps and the run marked Cancelled. */
  cancel(runId: string, by = "a user"): Promise<PipelineRun> {
    return this.queue.run(async () => {
      const run = await this.mustGet(runId);
      const now = this.options.clock.now();
      const reason = `cancelled by ${by}`;
      if (!(await this.options.store.finishRun(runId, { state: "Cancelled", reason, finishedAt: now }, now)))
        throw conflict(`run ${runId} has already finished (${run.state})`);
      await this.options.store.endOpenSteps(runId, "Cancelled", reason, now);
      for (const [key, flight] of this.inFlight)
        if (key.startsWith(`${runId}/`)) flight.abort.abort(new Error(reason));
      const after = await this.mustGet(runId);
      this.announce(after);
      return after;
    });
  }

  /** One pass over the active runs. Runs one at a time; a failure in one run does not stop the others. */
  tick(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closing) return;
      await this.flushLogs();
      const runs = await this.options.store.active();
      const active = new Set(runs.map((r) => r.id));
      // Attempts of runs that ended elsewhere (cancelled through another replica) stop here too.
      for (const [key, flight] of this.inFlight)
        if (!active.has(key.slice(0, key.indexOf("/")))) flight.abort.abort(new Error("the run has ended"));
      // One run's trouble (its store rows, a kind's hook) must not hold the others back.
      let first: unknown;
      for (const run of runs) {
        await this.advance(run).catch((error: unknown) => {
          first ??= error;
        });
      }
      if (first !== undefined) throw first;
    });
  }

  /** Waits for every attempt under way (tests: after a tick, before looking). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight.values()].map((f) => f.done?.catch(() => undefined)));
      // An attempt still being claimed has no promise yet: let its write go through.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.queue.run(() => this.flushLogs());
  }

  /**
   * Stops: attempts under way are aborted and left Running in the store, so whoever starts next
   * picks them up as interrupted (as after a crash, but without losing their log lines).
   */
  async close(): Promise<void> {
    await this.queue.run(async () => {
      this.closing = true;
      for (const flight of this.inFlight.values()) flight.abort.abort(new Error("the server is stopping"));
    });
    await Promise.all([...this.inFlight.values()].map((f) => f.done?.catch(() => undefined)));
    await this.flushLogs().catch(() => undefined);
    await this.embedded.close();
  }

  // ------------------------------------------------------------------ one run

  private async advance(run: PipelineRun): Promise<void> {
    const now = this.options.clock.now();
    const planned = new Map(run.plan.map((s) => [s.name, s]));
    // Running here but not by this process: cut off by a restart (or a replica that died).
    for (const step of run.steps) {
      if (step.state === "Running" && !this.inFlight.has(key(run.id, step.step)))
        await this.interrupted(run, step, planned.get(step.step) as ResolvedStep, now);
    }
    const fresh = await this.options.store.get(run.id);
    if (fresh === null || (fresh.state !== "Pending" && fresh.state !== "Running")) return;
    for (const action of nextActions(fresh.plan, fresh.steps, now)) await this.act(fresh, action, now);
  }

  private async act(run: PipelineRun, action: RunAction, now: number): Promise<void> {
    const { store } = this.options;
    switch (action.type) {
      case "skip":
        await store.moveStep(
          run.id,
          action.step,
          { state: "Pending", attempt: stepOf(run, action.step).attempt },
          { state: "Skipped", error: action.reason, finishedAt: now },
          now,
        );
        return;
      case "timeout": {
        const flight = this.inFlight.get(key(run.id, action.step));
        const plan = run.plan.find((s) => s.name === action.step) as ResolvedStep;
        const error = `timed out after ${describeMs(plan.timeoutMs)}`;
        if (flight !== undefined) {
          flight.timedOut = true;
          flight.abort.abort(new Error(error));
        }
        await this.failed(run.id, plan, action.attempt, error);
        return;
      }
      case "start":
        await this.launch(
          run,
          run.plan.find((s) => s.name === action.step) as ResolvedStep,
          action.attempt,
          false,
        );
        return;
      case "finish": {
        const finished = await store.finishRun(
          run.id,
          {
            state: action.state,
            ...(action.reason === undefined ? {} : { reason: action.reason }),
            finishedAt: now,
          },
          now,
        );
        if (finished) this.announce((await store.get(run.id)) as PipelineRun);
        return;
      }
    }
  }

  /** A step found Running that nothing here runs: it was cut off; run it again (or give up). */
  private async interrupted(run: PipelineRun, step: StepRun, plan: ResolvedStep, now: number): Promise<void> {
    const note = `attempt ${step.attempt} was cut off (the server stopped while it ran)`;
    if (afterInterruption(step.attempt, plan.retries) === "fail") {
      await this.options.store.moveStep(
        run.id,
        step.step,
        { state: "Running", attempt: step.attempt },
        { state: "Failed", error: `${note}, too many times`, finishedAt: now },
        now,
      );
      return;
    }
    const kind = this.kinds.get(step.kind);
    const effectful = kind !== undefined && !kind.cacheable;
    this.log(
      run.id,
      step.step,
      step.attempt,
      effectful
        ? `${note}; checking what it made before running it again (same run id)`
        : `${note}; running it again`,
    );
    await this.launch(run, plan, step.attempt + 1, effectful, { state: "Running", attempt: step.attempt });
  }

  /**
   * Claims the step (Running with its attempt, written before anything runs), then runs the
   * attempt in the background; its outcome is recorded when it ends.
   */
  private async launch(
    run: PipelineRun,
    plan: ResolvedStep,
    attempt: number,
    resumed: boolean,
    from: { state: "Pending" | "Running"; attempt: number } = { state: "Pending", attempt: attempt - 1 },
  ): Promise<void> {
    const { store, clock } = this.options;
    const now = clock.now();
    const flight: InFlight = { attempt, abort: new AbortController(), timedOut: false };
    const k = key(run.id, plan.name);
    this.inFlight.set(k, flight);
    const claimed = await store
      .moveStep(
        run.id,
        plan.name,
        from,
        {
          state: "Running",
          attempt,
          startedAt: now,
          deadlineAt: now + plan.timeoutMs,
          notBefore: undefined,
          finishedAt: undefined,
        },
        now,
      )
      .catch((error: unknown) => {
        this.inFlight.delete(k);
        throw error;
      });
    if (!claimed) {
      this.inFlight.delete(k);
      return;
    }
    if (run.state === "Pending") await store.updateRun(run.id, { state: "Running", startedAt: now }, now);
    flight.done = this.runAttempt(run, plan, attempt, resumed, flight.abort.signal)
      .then(
        (result) => this.succeeded(run, plan, attempt, result),
        (error: unknown) => {
          if (this.closing || flight.timedOut || flight.abort.signal.aborted) return;
          return this.failed(run.id, plan, attempt, errorText(error));
        },
      )
      .catch(() => undefined) // a store error here: the step stays Running and is picked up as interrupted
      .finally(() => {
        if (this.inFlight.get(k) === flight) this.inFlight.delete(k);
        this.options.kick?.();
      });
  }

  private async runAttempt(
    run: PipelineRun,
    plan: ResolvedStep,
    attempt: number,
    resumed: boolean,
    signal: AbortSignal,
  ): Promise<AttemptResult> {
    const kind = this.kinds.get(plan.kind);
    if (kind === undefined) throw new Error(`step kind '${plan.kind}' is not known to this server`);
    const fresh = (await this.options.store.get(run.id)) ?? run;
    const inputs = resolveInputs(plan, fresh);
    const task: StepTask = {
      runId: run.id,
      pipeline: run.pipeline,
      step: plan.name,
      kind: plan.kind,
      attempt,
      spec: plan.spec,
      params: run.params,
      inputs,
      timeoutMs: plan.timeoutMs,
      fingerprint: "",
    };
    const volatility = await this.volatility(task, signal);
    const print = fingerprint({
      kind: plan.kind,
      spec: plan.spec,
      inputs: Object.fromEntries(Object.entries(inputs).map(([n, r]) => [n, r.sha256])),
      ...(volatility === undefined ? {} : { volatility }),
    });
    const log = this.logFor(run.id, plan.name, attempt);
    if (plan.cache && kind.cacheable) {
      const hit = await this.options.store.cacheHit(print);
      if (hit !== null && (await this.allStored(hit.outputs))) {
        log.line(`cached: the outputs of run ${hit.runId} have the same fingerprint ${print.slice(0, 12)}`);
        return {
          inputs,
          fingerprint: print,
          cachedFrom: hit.runId,
          outputs: hit.outputs,
          ...(hit.summary === undefined ? {} : { summary: hit.summary }),
        };
      }
    }
    const withPrint = { ...task, fingerprint: print };
    if (resumed) {
      const made = await this.embedded.recover(withPrint, signal);
      if (made !== undefined) {
        log.line("the cut-off attempt had finished its work; recorded what it made");
        return { inputs, fingerprint: print, ...made };
      }
    }
    log.line(`attempt ${attempt} started`);
    const executor = kind.placement === "server" ? this.embedded : (this.options.executor ?? this.embedded);
    const result = await executor.execute(withPrint, signal);
    return { inputs, fingerprint: print, ...result };
  }

  private async volatility(task: StepTask, signal: AbortSignal): Promise<JsonValue | undefined> {
    const kind = this.kinds.get(task.kind);
    if (kind?.volatility === undefined) return undefined;
    const inputs: Record<string, ArtifactRef & { path: string }> = {};
    for (const [name, ref] of Object.entries(task.inputs))
      inputs[name] = { ...ref, path: await this.options.artifacts.ensureLocal(ref.sha256) };
    const ctx = stepContext(kind, task, {
      inputs,
      workDir: this.embedded.workDir(task),
      log: this.logFor(task.runId, task.step, task.attempt),
      signal,
      clock: this.options.clock,
      server: this.options.server,
    });
    return kind.volatility(ctx);
  }

  private async allStored(outputs: Readonly<Record<string, ArtifactRef>>): Promise<boolean> {
    for (const ref of Object.values(outputs))
      if (!(await this.options.artifacts.exists(ref.sha256))) return false;
    return true;
  }

  private async succeeded(
    run: PipelineRun,
    plan: ResolvedStep,
    attempt: number,
    result: AttemptResult,
  ): Promise<void> {
    const { store, clock } = this.options;
    const now = clock.now();
    const cached = result.cachedFrom !== undefined;
    const recorded = await store.moveStep(
      run.id,
      plan.name,
      { state: "Running", attempt },
      {
        state: cached ? "Cached" : "Succeeded",
        cached,
        ...(cached ? { cachedFrom: result.cachedFrom } : {}),
        fingerprint: result.fingerprint,
        inputs: result.inputs,
        outputs: result.outputs,
        summary: result.summary,
        error: undefined,
        finishedAt: now,
      },
      now,
    );
    if (!recorded) return;
    // What the run made that matters beyond it: the version registered, the rollout started.
    if (plan.kind === "register" && result.summary !== undefined)
      await store.updateRun(run.id, { registered: result.summary }, now);
    if (plan.kind === "deploy" && result.summary !== undefined)
      await store.updateRun(run.id, { deployed: result.summary }, now);
    this.log(run.id, plan.name, attempt, cached ? "done (cached)" : "done");
    await this.flushLogs();
  }

  private async failed(runId: string, plan: ResolvedStep, attempt: number, error: string): Promise<void> {
    const { store, clock } = this.options;
    const now = clock.now();
    const next = afterFailedAttempt(plan.retries, attempt, now);
    const moved =
      next.state === "Pending"
        ? await store.moveStep(
            runId,
            plan.name,
            { state: "Running", attempt },
            { state: "Pending", notBefore: next.notBefore, error },
            now,
          )
        : await store.moveStep(
            runId,
            plan.name,
            { state: "Running", attempt },
            { state: "Failed", error, finishedAt: now },
            now,
          );
    if (!moved) return;
    this.log(
      runId,
      plan.name,
      attempt,
      next.state === "Pending"
        ? `attempt ${attempt} failed: ${error}; retrying in ${describeMs(next.delayMs)}`
        : `attempt ${attempt} failed: ${error}`,
    );
    await this.flushLogs();
  }

  /** A listener's failure is its own: it must not stop the tick or the others. */
  private announce(run: PipelineRun): void {
    for (const listener of [this.options.runFinished, ...this.finishedListeners]) {
      try {
        listener?.(run);
      } catch {
        // ignored on purpose (see above)
      }
    }
  }

  // ------------------------------------------------------------------ logs

  private logFor(runId: string, step: string, attempt: number): StepLog {
    return { line: (text) => this.log(runId, step, attempt, text) };
  }

  private log(runId: string, step: string, attempt: number, text: string): void {
    const k = key(runId, step);
    let buffer = this.logBuffers.get(k);
    if (buffer === undefined) {
      buffer = { attempt, lines: [], dropped: 0 };
      this.logBuffers.set(k, buffer);
    }
    // Held lines are bounded like stored ones; the store counts what it cannot keep.
    if (buffer.lines.length >= MAX_LOG_LINES_PER_STEP) buffer.dropped++;
    else buffer.lines.push({ step, attempt, at: this.options.clock.now(), line: String(text) });
  }

  private async flushLogs(): Promise<void> {
    const buffers = [...this.logBuffers.entries()];
    this.logBuffers.clear();
    for (const [k, buffer] of buffers) {
      const slash = k.indexOf("/");
      await this.options.store.appendLogs(
        k.slice(0, slash),
        k.slice(slash + 1),
        buffer.attempt,
        buffer.lines,
        this.options.clock.now(),
        buffer.dropped,
      );
    }
  }
}

interface AttemptResult extends StepTaskResult {
  readonly inputs: Readonly<Record<string, ArtifactRef>>;
  readonly fingerprint: string;
  readonly cachedFrom?: string;
}

function key(runId: string, step: string): string {
  return `${runId}/${step}`;
}

function stepOf(run: PipelineRun, name: string): StepRun {
  return run.steps.find((s) => s.step === name) as StepRun;
}

/**
 * The artifacts a step reads, by the name its spec uses: `split.train` is output `train` of
 * step `split`; a bare `data` is step `data`'s only output, or its first (primary) one.
 */
export function resolveInputs(plan: ResolvedStep, run: PipelineRun): Record<string, ArtifactRef> {
  const out: Record<string, ArtifactRef> = {};
  for (const ref of plan.inputs) {
    const from = stepOf(run, stepOfRef(ref));
    const name = outputOfRef(ref);
    const outputs = Object.entries(from.outputs);
    const found = name === undefined ? outputs[0]?.[1] : from.outputs[name];
    if (found === undefined)
      throw new Error(
        `input ${ref}: step ${from.step} has ${outputs.length === 0 ? "no outputs" : `outputs ${outputs.map(([n]) => n).join(", ")}`}`,
      );
    out[ref] = found;
  }
  return out;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 2000 ? `${text.slice(0, 1997)}...` : text;
}

/** 90000 -> "1m30s", 500 -> "500ms". */
export function describeMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join("");
}
