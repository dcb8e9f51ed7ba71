/**
 * Pipeline runs as persisted: the run (spec snapshot, parameters, trigger, state), one row per
 * step as of its latest attempt, and each step's log lines. The orchestrator writes the intent
 * first: a step is marked Running with its attempt before it runs, and its result is recorded
 * only if the step is still Running that attempt (a cancel or a timeout in between wins).
 */
import type { Kysely } from "kysely";
import type { JsonValue } from "../domain/json-value.js";
import type { Database } from "../store/schema.js";
import type { PipelineSpec, ResolvedStep } from "./pipeline-spec.js";
import type { ArtifactRef } from "./step.js";

export const RUN_STATES = ["Pending", "Running", "Succeeded", "Failed", "Cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];
/** Cached: done, its outputs taken from an earlier run with the same fingerprint. Skipped: never ran (upstream failed). */
export const STEP_STATES = [
  "Pending",
  "Running",
  "Succeeded",
  "Cached",
  "Failed",
  "Skipped",
  "Cancelled",
] as const;
export type StepState = (typeof STEP_STATES)[number];

export interface RunTrigger {
  readonly kind: string;
  readonly reason: string;
  readonly details?: Readonly<Record<string, JsonValue>>;
}

export interface StepRun {
  readonly step: string;
  readonly kind: string;
  readonly state: StepState;
  /** 0 before the first attempt. */
  readonly attempt: number;
  readonly cached: boolean;
  /** The run whose outputs a cached step reused. */
  readonly cachedFrom?: string;
  readonly fingerprint?: string;
  /** A retry waits until then (epoch ms). */
  readonly notBefore?: number;
  readonly startedAt?: number;
  readonly deadlineAt?: number;
  readonly finishedAt?: number;
  readonly inputs: Readonly<Record<string, ArtifactRef>>;
  readonly outputs: Readonly<Record<string, ArtifactRef>>;
  readonly summary?: Readonly<Record<string, JsonValue>>;
  readonly error?: string;
  readonly logLines: number;
  readonly logDropped: number;
}

export interface PipelineRun {
  readonly id: string;
  readonly pipeline: string;
  readonly state: RunState;
  readonly params: Readonly<Record<string, string>>;
  readonly trigger: RunTrigger;
  readonly spec: PipelineSpec;
  /** The steps with this run's parameters substituted, upstream first. */
  readonly plan: readonly ResolvedStep[];
  /** Why it failed or was cancelled. */
  readonly reason?: string;
  /** What the register step made (its summary). */
  readonly registered?: JsonValue;
  /** What the deploy step started (its summary). */
  readonly deployed?: JsonValue;
  readonly createdAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** In the order they may run. */
  readonly steps: readonly StepRun[];
}

export interface LogLine {
  readonly step: string;
  readonly attempt: number;
  readonly at: number;
  readonly line: string;
}

/** Lines kept per step (over every attempt); the rest are counted in `logDropped`. */
export const MAX_LOG_LINES_PER_STEP = 2000;
/** A longer line is cut here. */
export const MAX_LOG_LINE_CHARS = 4000;
const ACTIVE: RunState[] = ["Pending", "Running"];

type StepPatch = Partial<Omit<StepRun, "step" | "kind" | "logLines" | "logDropped">>;
type RunPatch = Partial<
  Pick<PipelineRun, "state" | "reason" | "registered" | "deployed" | "startedAt" | "finishedAt">
>;

export class RunStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(run: PipelineRun): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("pipeline_runs")
        .values({
          id: run.id,
          pipeline: run.pipeline,
          state: run.state,
          params: JSON.stringify(run.params),
          trigger: JSON.stringify(run.trigger),
          spec: JSON.stringify({ spec: run.spec, plan: run.plan }),
          reason: run.reason ?? null,
          registered: null,
          deployed: null,
          created_at: run.createdAt,
          started_at: null,
          finished_at: null,
          updated_at: run.createdAt,
        })
        .execute();
      await tx
        .insertInto("pipeline_steps")
        .values(
          run.steps.map((s, i) => ({
            run_id: run.id,
            step: s.step,
            position: i,
            kind: s.kind,
            state: s.state,
            attempt: s.attempt,
            cached: 0,
            cached_from: null,
            fingerprint: null,
            not_before: null,
            started_at: null,
            deadline_at: null,
            finished_at: null,
            inputs: "{}",
            outputs: "{}",
            summary: null,
            error: null,
            log_lines: 0,
            log_dropped: 0,
            updated_at: run.createdAt,
          })),
        )
        .execute();
    });
  }

  async get(id: string): Promise<PipelineRun | null> {
    const row = await this.db.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst();
    if (row === undefined) return null;
    return (await this.withSteps([row]))[0] as PipelineRun;
  }

  /** The pipeline's runs, newest first. */
  async list(pipeline: string, limit = 50): Promise<PipelineRun[]> {
    const rows = await this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("pipeline", "=", pipeline)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return this.withSteps(rows);
  }

  /** Runs not finished yet, oldest first. */
  async active(): Promise<PipelineRun[]> {
    const rows = await this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("state", "in", ACTIVE)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return this.withSteps(rows);
  }

  /** The pipeline's runs not finished yet (ids, oldest first). */
  async activeIds(pipeline: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("pipeline_runs")
      .select("id")
      .where("pipeline", "=", pipeline)
      .where("state", "in", ACTIVE)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => r.id);
  }

  async updateRun(id: string, patch: RunPatch, now: number): Promise<void> {
    await this.db
      .updateTable("pipeline_runs")
      .set({ ...runColumns(patch), updated_at: now })
      .where("id", "=", id)
      .execute();
  }

  /** Finishes a run still going; false when it had finished already (a cancel won). */
  async finishRun(id: string, patch: RunPatch, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("pipeline_runs")
      .set({ ...runColumns(patch), updated_at: now })
      .where("id", "=", id)
      .where("state", "in", ACTIVE)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Changes a step only if it is (still) in `from` at `attempt`: the compare-and-set that keeps
   * a late result from overwriting a cancel, a timeout or another replica's claim.
   */
  async moveStep(
    runId: string,
    step: string,
    from: { state: StepState; attempt: number },
    patch: StepPatch,
    now: number,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable("pipeline_steps")
      .set({ ...stepColumns(patch), updated_at: now })
      .where("run_id", "=", runId)
      .where("step", "=", step)
      .where("state", "=", from.state)
      .where("attempt", "=", from.attempt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Every step of the run still Pending or Running moved to `state` (a cancel). */
  async endOpenSteps(runId: string, state: StepState, error: string, now: number): Promise<void> {
    await this.db
      .updateTable("pipeline_steps")
      .set({ state, error, finished_at: now, not_before: null, updated_at: now })
      .where("run_id", "=", runId)
      .where("state", "in", ["Pending", "Running"])
      .execute();
  }

  /**
   * Appends log lines to a step, keeping at most MAX_LOG_LINES_PER_STEP; the rest are counted.
   * `droppedBefore` counts lines the writer could not even hold. Called by one writer per step
   * at a time (the attempt that runs it).
   */
  async appendLogs(
    runId: string,
    step: string,
    attempt: number,
    lines: readonly LogLine[],
    now: number,
    droppedBefore = 0,
  ): Promise<void> {
    if (lines.length === 0 && droppedBefore === 0) return;
    await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom("pipeline_steps")
        .select(["log_lines", "log_dropped"])
        .where("run_id", "=", runId)
        .where("step", "=", step)
        .executeTakeFirst();
      if (row === undefined) return;
      const kept = Number(row.log_lines);
      const room = Math.max(0, MAX_LOG_LINES_PER_STEP - kept);
      const taken = lines.slice(0, room);
      if (taken.length > 0)
        await tx
          .insertInto("pipeline_step_logs")
          .values(
            taken.map((l, i) => ({
              run_id: runId,
              step,
              seq: kept + i,
              attempt: l.attempt ?? attempt,
              at: l.at,
              line: l.line.slice(0, MAX_LOG_LINE_CHARS),
            })),
          )
          .execute();
      await tx
        .updateTable("pipeline_steps")
        .set({
          log_lines: kept + taken.length,
          log_dropped: Number(row.log_dropped) + (lines.length - taken.length) + droppedBefore,
          updated_at: now,
        })
        .where("run_id", "=", runId)
        .where("step", "=", step)
        .execute();
    });
  }

  /** A run's log lines (one step's, or every step's), in the order written. */
  async logs(runId: string, step?: string, limit = MAX_LOG_LINES_PER_STEP * 10): Promise<LogLine[]> {
    let q = this.db.selectFrom("pipeline_step_logs").selectAll().where("run_id", "=", runId);
    if (step !== undefined) q = q.where("step", "=", step);
    const rows = await q.orderBy("at").orderBy("step").orderBy("seq").limit(limit).execute();
    return rows.map((r) => ({ step: r.step, attempt: Number(r.attempt), at: Number(r.at), line: r.line }));
  }

  /** The newest finished step with this fingerprint (succeeded, or cached itself), if any. */
  async cacheHit(fingerprint: string): Promise<{
    runId: string;
    outputs: Record<string, ArtifactRef>;
    summary?: Record<string, JsonValue>;
  } | null> {
    const row = await this.db
      .selectFrom("pipeline_steps")
      .select(["run_id", "outputs", "summary"])
      .where("fingerprint", "=", fingerprint)
      .where("state", "in", ["Succeeded", "Cached"])
      .orderBy("finished_at", "desc")
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) return null;
    return {
      runId: row.run_id,
      outputs: JSON.parse(row.outputs) as Record<string, ArtifactRef>,
      ...(row.summary === null ? {} : { summary: JSON.parse(row.summary) as Record<string, JsonValue> }),
    };
  }

  private async withSteps(rows: ReadonlyArray<Database["pipeline_runs"]>): Promise<PipelineRun[]> {
    if (rows.length === 0) return [];
    const steps = await this.db
      .selectFrom("pipeline_steps")
      .selectAll()
      .where(
        "run_id",
        "in",
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map((row) => {
      const mine = steps
        .filter((s) => s.run_id === row.id)
        .sort((a, b) => Number(a.position) - Number(b.position));
      return runFromRow(row, mine.map(stepFromRow));
    });
  }
}

function runColumns(patch: RunPatch): Partial<Database["pipeline_runs"]> {
  const out: Partial<Database["pipeline_runs"]> = {};
  if (patch.state !== undefined) out.state = patch.state;
  if (patch.reason !== undefined) out.reason = patch.reason;
  if (patch.registered !== undefined) out.registered = JSON.stringify(patch.registered);
  if (patch.deployed !== undefined) out.deployed = JSON.stringify(patch.deployed);
  if (patch.startedAt !== undefined) out.started_at = patch.startedAt;
  if (patch.finishedAt !== undefined) out.finished_at = patch.finishedAt;
  return out;
}

function stepColumns(patch: StepPatch): Partial<Database["pipeline_steps"]> {
  const out: Partial<Database["pipeline_steps"]> = {};
  if (patch.state !== undefined) out.state = patch.state;
  if (patch.attempt !== undefined) out.attempt = patch.attempt;
  if (patch.cached !== undefined) out.cached = patch.cached ? 1 : 0;
  if ("cachedFrom" in patch) out.cached_from = patch.cachedFrom ?? null;
  if ("fingerprint" in patch) out.fingerprint = patch.fingerprint ?? null;
  if ("notBefore" in patch) out.not_before = patch.notBefore ?? null;
  if ("startedAt" in patch) out.started_at = patch.startedAt ?? null;
  if ("deadlineAt" in patch) out.deadline_at = patch.deadlineAt ?? null;
  if ("finishedAt" in patch) out.finished_at = patch.finishedAt ?? null;
  if (patch.inputs !== undefined) out.inputs = JSON.stringify(patch.inputs);
  if (patch.outputs !== undefined) out.outputs = JSON.stringify(patch.outputs);
  if ("summary" in patch) out.summary = patch.summary === undefined ? null : JSON.stringify(patch.summary);
  if ("error" in patch) out.error = patch.error ?? null;
  return out;
}

function runFromRow(row: Database["pipeline_runs"], steps: StepRun[]): PipelineRun {
  const { spec, plan } = JSON.parse(row.spec) as { spec: PipelineSpec; plan: ResolvedStep[] };
  return {
    id: row.id,
    pipeline: row.pipeline,
    state: row.state as RunState,
    params: JSON.parse(row.params) as Record<string, string>,
    trigger: JSON.parse(row.trigger) as RunTrigger,
    spec,
    plan,
    ...(row.reason === null ? {} : { reason: row.reason }),
    ...(row.registered === null ? {} : { registered: JSON.parse(row.registered) as JsonValue }),
    ...(row.deployed === null ? {} : { deployed: JSON.parse(row.deployed) as JsonValue }),
    createdAt: Number(row.created_at),
    ...(row.started_at === null ? {} : { startedAt: Number(row.started_at) }),
    ...(row.finished_at === null ? {} : { finishedAt: Number(row.finished_at) }),
    steps,
  };
}

function stepFromRow(row: Database["pipeline_steps"]): StepRun {
  const num = (v: number | null): number | undefined => (v === null ? undefined : Number(v));
  const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> =>
    value === undefined ? {} : ({ [key]: value } as Record<K, V>);
  return {
    step: row.step,
    kind: row.kind,
    state: row.state as StepState,
    attempt: Number(row.attempt),
    cached: Number(row.cached) === 1,
    ...optional("cachedFrom", row.cached_from ?? undefined),
    ...optional("fingerprint", row.fingerprint ?? undefined),
    ...optional("notBefore", num(row.not_before)),
    ...optional("startedAt", num(row.started_at)),
    ...optional("deadlineAt", num(row.deadline_at)),
    ...optional("finishedAt", num(row.finished_at)),
    inputs: JSON.parse(row.inputs) as Record<string, ArtifactRef>,
    outputs: JSON.parse(row.outputs) as Record<string, ArtifactRef>,
    ...optional(
      "summary",
      row.summary === null ? undefined : (JSON.parse(row.summary) as Record<string, JsonValue>),
    ),
    ...optional("error", row.error ?? undefined),
    logLines: Number(row.log_lines),
    logDropped: Number(row.log_dropped),
  };
}
