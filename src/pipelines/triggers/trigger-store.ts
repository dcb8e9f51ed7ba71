/**
 * What pipeline triggers remember across restarts (migration 0013): per trigger, when it last
 * fired and started a run, when its schedule was last evaluated, its KPI's breach; and the files
 * a `files` trigger has seen.
 */
import type { Kysely } from "kysely";
import type { JsonValue } from "../../domain/json-value.js";
import type { Database } from "../../store/schema.js";
import type { SeenFile } from "./decide.js";

export interface TriggerState {
  readonly lastFiredAt: number | null;
  readonly lastStartedAt: number | null;
  readonly lastRunId: string | null;
  readonly evaluatedAt: number | null;
  /** What the kind keeps: `{ breached }` for a KPI. */
  readonly state: Readonly<Record<string, JsonValue>>;
}

export interface TriggerRef {
  readonly pipeline: string;
  /** The trigger's canonical spec (triggerKey). */
  readonly trigger: string;
  readonly kind: string;
}

const EMPTY: TriggerState = {
  lastFiredAt: null,
  lastStartedAt: null,
  lastRunId: null,
  evaluatedAt: null,
  state: {},
};

export class TriggerStore {
  constructor(private readonly db: Kysely<Database>) {}

  async get(ref: TriggerRef): Promise<TriggerState | null> {
    const row = await this.db
      .selectFrom("pipeline_trigger_states")
      .selectAll()
      .where("pipeline", "=", ref.pipeline)
      .where("trigger", "=", ref.trigger)
      .executeTakeFirst();
    if (row === undefined) return null;
    return {
      lastFiredAt: numberOrNull(row.last_fired_at),
      lastStartedAt: numberOrNull(row.last_started_at),
      lastRunId: row.last_run_id,
      evaluatedAt: numberOrNull(row.evaluated_at),
      state: JSON.parse(row.state) as Record<string, JsonValue>,
    };
  }

  /** Merges `change` into the trigger's state (created on first use). */
  async update(ref: TriggerRef, change: Partial<TriggerState>): Promise<TriggerState> {
    const next = { ...((await this.get(ref)) ?? EMPTY), ...change };
    const values = {
      pipeline: ref.pipeline,
      trigger: ref.trigger,
      kind: ref.kind,
      last_fired_at: next.lastFiredAt,
      last_started_at: next.lastStartedAt,
      last_run_id: next.lastRunId,
      evaluated_at: next.evaluatedAt,
      state: JSON.stringify(next.state),
    };
    await this.db
      .insertInto("pipeline_trigger_states")
      .values(values)
      .onConflict((oc) =>
        oc.columns(["pipeline", "trigger"]).doUpdateSet({
          last_fired_at: values.last_fired_at,
          last_started_at: values.last_started_at,
          last_run_id: values.last_run_id,
          evaluated_at: values.evaluated_at,
          state: values.state,
        }),
      )
      .execute();
    return next;
  }

  /** When any trigger of the pipeline last started a run (null: none has). */
  async lastStarted(pipeline: string): Promise<number | null> {
    const row = await this.db
      .selectFrom("pipeline_trigger_states")
      .select((eb) => eb.fn.max("last_started_at").as("at"))
      .where("pipeline", "=", pipeline)
      .executeTakeFirst();
    return numberOrNull(row?.at ?? null);
  }

  async seenFiles(ref: TriggerRef): Promise<SeenFile[]> {
    const rows = await this.db
      .selectFrom("pipeline_trigger_files")
      .selectAll()
      .where("pipeline", "=", ref.pipeline)
      .where("trigger", "=", ref.trigger)
      .execute();
    return rows.map((r) => ({ name: r.name, size: Number(r.size), mtimeMs: Number(r.mtime_ms) }));
  }

  /**
   * Replaces the files seen with this poll's listing: files gone from the folder are forgotten
   * (the table stays as large as the folder), and one that comes back is new again.
   */
  async replaceSeenFiles(ref: TriggerRef, files: readonly SeenFile[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .deleteFrom("pipeline_trigger_files")
        .where("pipeline", "=", ref.pipeline)
        .where("trigger", "=", ref.trigger)
        .execute();
      // In slices: one statement's parameters stay under both dialects' limits.
      for (let i = 0; i < files.length; i += 500) {
        await tx
          .insertInto("pipeline_trigger_files")
          .values(
            files.slice(i, i + 500).map((f) => ({
              pipeline: ref.pipeline,
              trigger: ref.trigger,
              name: f.name,
              size: f.size,
              mtime_ms: Math.round(f.mtimeMs),
            })),
          )
          .execute();
      }
    });
  }
}

function numberOrNull(value: number | string | bigint | null): number | null {
  return value === null ? null : Number(value);
}
