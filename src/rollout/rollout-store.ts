/**
 * Rollouts as persisted: written on every transition, read back at start to resume them. Rows
 * written before strategies had a `kind` and states had conditions are brought up to date as
 * they are read, so a rollout saved by an older Ballast resumes.
 */
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";
import { updateConditions } from "./conditions.js";
import type { RolloutState } from "./rollout-state.js";
import type { RolloutStrategy } from "./strategy.js";

export interface StoredRollout {
  readonly state: RolloutState;
  readonly strategy: RolloutStrategy;
}

export class RolloutStore {
  constructor(private readonly db: Kysely<Database>) {}

  async save(state: RolloutState, strategy: RolloutStrategy): Promise<void> {
    const values = {
      id: state.id,
      deployment: state.deployment,
      kind: strategy.kind,
      active: state.phase === "Succeeded" || state.phase === "Aborted" ? 0 : 1,
      state: JSON.stringify(state),
      strategy: JSON.stringify(strategy),
      started_at: state.startedAt,
      updated_at: state.updatedAt,
    };
    await this.db
      .insertInto("rollouts")
      .values(values)
      .onConflict((oc) =>
        oc
          .column("id")
          .doUpdateSet({ active: values.active, state: values.state, updated_at: values.updated_at }),
      )
      .execute();
  }

  async active(): Promise<StoredRollout[]> {
    const rows = await this.db
      .selectFrom("rollouts")
      .selectAll()
      .where("active", "=", 1)
      .orderBy("started_at")
      .execute();
    return rows.map(fromRow);
  }

  /** The deployment's rollouts, newest first. */
  async history(deployment: string, limit = 20): Promise<StoredRollout[]> {
    const rows = await this.db
      .selectFrom("rollouts")
      .selectAll()
      .where("deployment", "=", deployment)
      .orderBy("started_at", "desc")
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }
}

function fromRow(row: Database["rollouts"]): StoredRollout {
  const state = JSON.parse(row.state) as RolloutState;
  return {
    state:
      state.conditions === undefined
        ? { ...state, conditions: updateConditions([], state, state.updatedAt) }
        : state,
    strategy: storedStrategy(JSON.parse(row.strategy) as Record<string, unknown>),
  };
}

/** A strategy as saved: before kinds, an A/B test had an `event`, blue-green a preview header. */
export function storedStrategy(saved: Record<string, unknown>): RolloutStrategy {
  if (typeof saved.kind === "string") return saved as unknown as RolloutStrategy;
  const kind = "event" in saved ? "abTest" : saved.previewHeader !== undefined ? "blueGreen" : "canary";
  return { ...saved, kind } as unknown as RolloutStrategy;
}
