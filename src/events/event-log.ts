/**
 * The event log: every change Ballast makes to what it serves (a resource applied, a rollout
 * step, a rollback, a manual action) is written here with its reason and the numbers behind it,
 * so "why is it like this?" has an answer. Read through `GET /api/v1/events` and `ballast events`.
 */
import type { Kysely } from "kysely";
import type { Clock } from "../domain/clock.js";
import { requestIdGenerator } from "../domain/ids.js";
import type { Database } from "../store/schema.js";
import { redactSecrets, redactUserInfo } from "../domain/redact.js";

export type EventType = "Normal" | "Warning";

export interface BallastEvent {
  readonly id: string;
  readonly at: number;
  /** The resource the event is about: its kind and name (`Deployment`/`fraud`). */
  readonly kind: string;
  readonly name: string;
  readonly type: EventType;
  /** One CamelCase word a script can match on (`Applied`, `Pruned`, `OutOfSync`, `RolledBack`). */
  readonly reason: string;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

export type NewEvent = Omit<BallastEvent, "id" | "at" | "type" | "details"> & {
  readonly type?: EventType;
  readonly details?: Record<string, unknown>;
};

export interface EventQuery {
  readonly kind?: string;
  readonly name?: string;
  readonly since?: number;
  readonly limit?: number;
}

export interface EventRecorder {
  record(event: NewEvent): Promise<BallastEvent>;
}

export const MAX_EVENTS_PER_READ = 10_000;

export class EventLog implements EventRecorder {
  private readonly nextId: () => string;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {
    this.nextId = requestIdGenerator(() => clock.now());
  }

  async record(event: NewEvent): Promise<BallastEvent> {
    const stored: BallastEvent = {
      id: this.nextId(),
      at: this.clock.now(),
      kind: event.kind,
      name: redactUserInfo(event.name),
      type: event.type ?? "Normal",
      reason: event.reason,
      message: redactUserInfo(event.message),
      // Events are read by every viewer: no credential is ever written to them.
      details: redactSecrets(event.details ?? {}),
    };
    await this.db
      .insertInto("events")
      .values({ ...stored, details: JSON.stringify(stored.details) })
      .execute();
    return stored;
  }

  /** Oldest first, so a listing reads as a story; `limit` keeps the newest ones. */
  async list(query: EventQuery = {}): Promise<BallastEvent[]> {
    let q = this.db.selectFrom("events").selectAll();
    if (query.kind !== undefined) q = q.where("kind", "=", query.kind);
    if (query.name !== undefined) q = q.where("name", "=", query.name);
    if (query.since !== undefined) q = q.where("at", ">=", query.since);
    const rows = await q
      .orderBy("at", "desc")
      .orderBy("id", "desc")
      .limit(Math.min(query.limit ?? 100, MAX_EVENTS_PER_READ))
      .execute();
    return rows.reverse().map((r) => ({
      id: r.id,
      at: Number(r.at),
      kind: r.kind,
      name: r.name,
      type: r.type as EventType,
      reason: r.reason,
      message: r.message,
      details: JSON.parse(r.details) as Record<string, unknown>,
    }));
  }
}
