/**
 * Carries pipeline triggers out: hears firing alerts from the alerting service, and on each tick
 * judges KPIs, routers' per-regime losses, schedules (croner's next run from the last evaluation, on the injected clock) and
 * file arrivals; a person's start comes through `manual`. Each firing is decided (decide.ts:
 * start, or coalesce into the run going or within the cooldown), carried out through the
 * RunStarter, and recorded with why: in the event log and in the run's trigger. What a trigger
 * must not forget across a restart (when it fired, the schedule's last evaluation, a KPI's
 * breach, the files seen) is in the store.
 *
 * Firings are handled one at a time (a queue, bounded; overflow counted), and only where `guard`
 * runs them: the holder of the pipelines lease, so two replicas never start the same run.
 */
import { Cron } from "croner";
import type { Clock } from "../../domain/clock.js";
import { isPlainObject, type JsonValue } from "../../domain/json-value.js";
import type { AlertSubscriber } from "../../alerts/alerting.js";
import type { EventRecorder } from "../../events/event-log.js";
import type { RunStarter } from "../run-starter.js";
import {
  alertFiring,
  alertMatches,
  decide,
  filesFiring,
  kpiBreached,
  kpiFires,
  kpiFiring,
  manualFiring,
  newFiles,
  regimeLossEntering,
  regimeLossFiring,
  regimeLossVerdicts,
  scheduleDue,
  scheduleFiring,
  type TriggerFiring,
} from "./decide.js";
import { listGlob } from "./file-glob.js";
import type { KpiSource } from "./kpi-source.js";
import { TriggerReason } from "./reasons.js";
import { regimeLossJudgements, type RegimeLossSource } from "./regime-loss-source.js";
import { triggerKey, type TriggerSpec } from "./trigger-spec.js";
import type { TriggerRef, TriggerStore } from "./trigger-store.js";

/** A pipeline as its triggers see it. */
export interface PipelineTriggers {
  readonly pipeline: string;
  readonly cooldownMs: number;
  readonly triggers: readonly TriggerSpec[];
}

/** The latest run of a pipeline, when the orchestrator can tell (else the service's own record). */
export interface RunHistory {
  latest(pipeline: string): Promise<{ readonly startedAt: number; readonly active: boolean } | null>;
}

export interface TriggerServiceDeps {
  readonly starter: RunStarter;
  readonly history?: RunHistory;
  /** The pipelines and their triggers, read again on each refresh (the declared resources). */
  readonly pipelines: () => Promise<readonly PipelineTriggers[]>;
  readonly alerts: { subscribe(subscriber: AlertSubscriber): () => void };
  readonly kpis: KpiSource;
  /** The routers' per-regime scoreboards, for `regimeLoss` triggers (absent: they cannot be judged). */
  readonly regimeLosses?: RegimeLossSource;
  readonly store: TriggerStore;
  readonly events: EventRecorder;
  readonly clock: Clock;
  /** `files` triggers' globs are relative to this folder and stay under it. */
  readonly filesRoot: string;
  /** Runs the work only where it should run (the pipelines lease's holder); runs it by default. */
  readonly guard?: (work: () => Promise<unknown>) => Promise<void>;
  /** Firings waiting their turn (alerts arrive in bursts); past it they are dropped and counted. */
  readonly maxQueued?: number;
  /** Files one `files` trigger lists per poll; past it they are left out and counted. */
  readonly maxFilesPerPoll?: number;
}

/** What one firing came to. */
export type FiringOutcome =
  | { readonly action: "started"; readonly runId: string; readonly reason: string }
  | { readonly action: "coalesced"; readonly reason: string }
  | { readonly action: "skipped"; readonly reason: string };

export interface TriggerServiceStats {
  readonly fired: number;
  readonly started: number;
  readonly coalesced: number;
  /** Firings dropped because the queue was full. */
  readonly dropped: number;
  readonly errors: number;
  readonly lastError: string | null;
  /** Files left out of polls over maxFilesPerPoll. */
  readonly filesLeftOut: number;
}

const DEFAULT_MAX_QUEUED = 1000;

export class TriggerService {
  readonly #deps: TriggerServiceDeps;
  #pipelines: readonly PipelineTriggers[] = [];
  #unsubscribe: (() => void) | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #queued = 0;
  #stats = {
    fired: 0,
    started: 0,
    coalesced: 0,
    dropped: 0,
    errors: 0,
    lastError: null as string | null,
    filesLeftOut: 0,
  };

  constructor(deps: TriggerServiceDeps) {
    this.#deps = deps;
  }

  /** Reads the pipelines and starts hearing alerts. */
  async start(): Promise<void> {
    await this.refresh();
    this.#unsubscribe ??= this.#deps.alerts.subscribe((transition) => {
      for (const p of this.#pipelines) {
        for (const t of p.triggers) {
          if (t.kind === "alert" && alertMatches(t, transition)) this.#enqueue(p, t, alertFiring(transition));
        }
      }
    });
  }

  /** Reads the pipelines and their triggers again (after an apply, on each tick). */
  async refresh(): Promise<void> {
    this.#pipelines = await this.#deps.pipelines();
  }

  /** KPIs, schedules and file arrivals, judged now; resolves when their firings are handled. */
  async tick(): Promise<void> {
    await this.refresh();
    await this.#serial(async () => {
      await this.#guarded(async () => {
        for (const p of this.#pipelines) {
          for (const t of p.triggers) {
            try {
              await this.#evaluate(p, t);
            } catch (error) {
              await this.#failed(p, t, error);
            }
          }
        }
      });
    });
  }

  /**
   * A person's start (`ballast pipeline run`): not held back by the cooldown, still coalesced
   * into a run going on. Runs here even without the lease: the person asked this replica.
   */
  async manual(
    pipeline: string,
    request: { readonly params?: Readonly<Record<string, string>>; readonly by?: string } = {},
  ): Promise<FiringOutcome> {
    const p = this.#pipelines.find((x) => x.pipeline === pipeline) ?? {
      pipeline,
      cooldownMs: 0,
      triggers: [],
    };
    return this.#serial(() =>
      this.#fire(p, { kind: "manual" }, manualFiring(request.by, request.params ?? {}), request.params),
    );
  }

  /** Resolves once every queued firing has been handled (tests, shutdown). */
  async settled(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.#chain;
      await seen;
    } while (seen !== this.#chain);
  }

  stats(): TriggerServiceStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    await this.settled();
  }

  #enqueue(p: PipelineTriggers, t: TriggerSpec, firing: TriggerFiring): void {
    if (this.#queued >= (this.#deps.maxQueued ?? DEFAULT_MAX_QUEUED)) {
      this.#stats.dropped += 1;
      return;
    }
    this.#queued += 1;
    void this.#serial(async () => {
      this.#queued -= 1;
      await this.#guarded(() => this.#fire(p, t, firing));
    }).catch((error: unknown) => this.#error(error));
  }

  /** One at a time, in arrival order; a failure does not stop the ones after it. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #guarded(work: () => Promise<unknown>): Promise<void> {
    if (this.#deps.guard === undefined) await work();
    else await this.#deps.guard(work);
  }

  async #evaluate(p: PipelineTriggers, t: TriggerSpec): Promise<void> {
    const now = this.#deps.clock.now();
    const ref = refOf(p.pipeline, t);
    switch (t.kind) {
      case "kpi": {
        const answer = this.#deps.kpis.read(t, now);
        if ("problem" in answer) {
          await this.#problem(p, t, answer.problem);
          return;
        }
        const state = await this.#deps.store.get(ref);
        const before = state?.state.breached;
        const breached = kpiBreached(t, answer);
        const previous = typeof before === "boolean" ? before : null;
        // Too few labels: the last judgement holds (a quiet hour neither fires nor re-arms).
        const change: Record<string, JsonValue> = { ...(state?.state ?? {}), problem: null };
        if (breached !== null) change.breached = breached;
        await this.#deps.store.update(ref, { evaluatedAt: now, state: change });
        if (kpiFires(previous, breached)) await this.#fire(p, t, kpiFiring(t, answer));
        return;
      }
      case "regimeLoss": {
        const answer =
          this.#deps.regimeLosses === undefined
            ? { problem: "this server has no routers to read" }
            : await this.#deps.regimeLosses.read(t.router);
        const judged = "problem" in answer ? answer : regimeLossJudgements(t, answer);
        if ("problem" in judged) {
          await this.#problem(p, t, judged.problem);
          return;
        }
        const state = await this.#deps.store.get(ref);
        const before = state?.state.breached;
        const previous = isPlainObject(before) ? before : {};
        const entering = regimeLossEntering(previous, judged);
        await this.#deps.store.update(ref, {
          evaluatedAt: now,
          state: { ...(state?.state ?? {}), problem: null, breached: regimeLossVerdicts(previous, judged) },
        });
        if (entering.length > 0) await this.#fire(p, t, regimeLossFiring(t, entering));
        return;
      }
      case "schedule": {
        const state = await this.#deps.store.get(ref);
        if (state?.evaluatedAt === null || state?.evaluatedAt === undefined) {
          // First sight: the schedule counts from now; occurrences before it existed are not owed.
          await this.#deps.store.update(ref, { evaluatedAt: now });
          return;
        }
        const cron = new Cron(t.cron, { timezone: t.timezone, paused: true });
        const occurrences = scheduleDue(
          (from) => cron.nextRun(new Date(from))?.getTime() ?? null,
          state.evaluatedAt,
          now,
        );
        await this.#deps.store.update(ref, { evaluatedAt: now });
        if (occurrences.due > 0 && occurrences.last !== null)
          await this.#fire(p, t, scheduleFiring(t, { due: occurrences.due, last: occurrences.last }));
        return;
      }
      case "files": {
        const listing = await listGlob(this.#deps.filesRoot, t.path, this.#deps.maxFilesPerPoll);
        this.#stats.filesLeftOut += listing.leftOut;
        const state = await this.#deps.store.get(ref);
        const seen = await this.#deps.store.seenFiles(ref);
        const arrived = newFiles(seen, listing.files);
        await this.#deps.store.replaceSeenFiles(ref, listing.files);
        if (state === null) {
          // First sight: what is there already is the starting point, not an arrival.
          await this.#deps.store.update(ref, { evaluatedAt: now });
          return;
        }
        await this.#deps.store.update(ref, { evaluatedAt: now });
        if (arrived.length > 0) await this.#fire(p, t, filesFiring(t.path, arrived));
        return;
      }
      case "alert":
      case "manual":
        return;
    }
  }

  async #fire(
    p: PipelineTriggers,
    t: TriggerSpec,
    firing: TriggerFiring,
    params?: Readonly<Record<string, string>>,
  ): Promise<FiringOutcome> {
    const ref = refOf(p.pipeline, t);
    const now = this.#deps.clock.now();
    this.#stats.fired += 1;
    const latest = this.#deps.history === undefined ? undefined : await this.#deps.history.latest(p.pipeline);
    const decision = decide(firing, {
      cooldownMs: p.cooldownMs,
      lastRunStart:
        latest === undefined ? await this.#deps.store.lastStarted(p.pipeline) : (latest?.startedAt ?? null),
      runActive: latest?.active ?? false,
      now,
    });
    let outcome: FiringOutcome;
    if (decision.action === "coalesce") {
      outcome = { action: "coalesced", reason: decision.reason };
    } else {
      const answer = await this.#deps.starter.start(p.pipeline, {
        ...(params === undefined ? {} : { params: { ...params } }),
        trigger: { kind: firing.kind, reason: firing.reason, details: { ...firing.details } },
      });
      outcome = answer.started
        ? { action: "started", runId: answer.runId, reason: firing.reason }
        : { action: "coalesced", reason: `coalesced: ${answer.reason}; ${firing.reason}` };
    }
    await this.#deps.store.update(ref, {
      lastFiredAt: now,
      ...(outcome.action === "started" ? { lastStartedAt: now, lastRunId: outcome.runId } : {}),
    });
    if (outcome.action === "started") this.#stats.started += 1;
    else this.#stats.coalesced += 1;
    await this.#deps.events.record({
      kind: "Pipeline",
      name: p.pipeline,
      reason: outcome.action === "started" ? TriggerReason.TriggerFired : TriggerReason.TriggerCoalesced,
      message:
        outcome.action === "started" ? `run ${outcome.runId} started: ${firing.reason}` : outcome.reason,
      details: {
        trigger: firing.kind,
        ...(outcome.action === "started" ? { run: outcome.runId } : {}),
        ...firing.details,
      },
    });
    return outcome;
  }

  /** A trigger that cannot be judged says so once, not on every tick. */
  async #problem(p: PipelineTriggers, t: TriggerSpec, problem: string): Promise<void> {
    const ref = refOf(p.pipeline, t);
    const state = await this.#deps.store.get(ref);
    if (state?.state.problem === problem) return;
    await this.#deps.store.update(ref, { state: { ...(state?.state ?? {}), problem } });
    await this.#deps.events.record({
      kind: "Pipeline",
      name: p.pipeline,
      type: "Warning",
      reason: TriggerReason.TriggerFailed,
      message: `${t.kind} trigger cannot be evaluated: ${problem}`,
      details: { trigger: t.kind },
    });
  }

  async #failed(p: PipelineTriggers, t: TriggerSpec, error: unknown): Promise<void> {
    this.#error(error);
    await this.#problem(p, t, messageOf(error)).catch((e: unknown) => this.#error(e));
  }

  #error(error: unknown): void {
    this.#stats.errors += 1;
    this.#stats.lastError = messageOf(error);
  }
}

export function triggerService(deps: TriggerServiceDeps): TriggerService {
  return new TriggerService(deps);
}

function refOf(pipeline: string, t: TriggerSpec): TriggerRef {
  return { pipeline, trigger: triggerKey(t), kind: t.kind };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
