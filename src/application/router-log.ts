/**
 * The routers' answer log and learned state in the store. Answers are appended to a bounded
 * queue on the request path and written in batches off it (a full queue drops the newest and
 * counts it); the outcome join reads the answers made at a bar back from the store, so it can
 * run on whichever replica holds the routers lease and survives restarts.
 */
import type { Kysely, Selectable } from "kysely";
import type { Database } from "../store/schema.js";

export const ROUTER_LOG_CAPACITY = 10_000;
const BATCH = 500;
const FLUSH_AFTER_MS = 200;

export interface RouterAnswerRow {
  readonly router: string;
  readonly requestId: string;
  readonly at: number;
  readonly origin: number | null;
  readonly regime: number;
  readonly probabilities: readonly number[];
  readonly weights: Readonly<Record<string, number>>;
  /** h = 1 variance per specialist that answered, and the router's under "router". */
  readonly forecasts: Readonly<Record<string, number>>;
}

export interface RouterLogStats {
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
}

export class RouterLog {
  #queue: RouterAnswerRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #written = 0;
  #dropped = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly capacity = ROUTER_LOG_CAPACITY,
  ) {}

  stats(): RouterLogStats {
    return { queued: this.#queue.length, written: this.#written, dropped: this.#dropped };
  }

  /** On the request path: O(1), never waits on the store. */
  append(row: RouterAnswerRow): void {
    if (this.#queue.length >= this.capacity) {
      this.#dropped++;
      return;
    }
    this.#queue.push(row);
    if (this.#queue.length >= BATCH) void this.flush().catch(() => undefined);
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush().catch(() => undefined), FLUSH_AFTER_MS);
      this.#timer.unref();
    }
  }

  /** Writes what is queued (one writer at a time). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing = this.#flushing.then(async () => {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, BATCH);
        await this.db
          .insertInto("router_answers")
          .values(
            batch.map((r) => ({
              router: r.router,
              request_id: r.requestId,
              at: r.at,
              origin: r.origin,
              regime: r.regime,
              probabilities: JSON.stringify(r.probabilities),
              weights: JSON.stringify(r.weights),
              forecasts: JSON.stringify(r.forecasts),
            })),
          )
          .onConflict((oc) => oc.columns(["router", "request_id"]).doNothing())
          .execute();
        this.#written += batch.length;
      }
    });
    return this.#flushing;
  }

  /** The answers a router made at `origin` (the bar before the one that brings their outcome). */
  async madeAt(router: string, origin: number): Promise<RouterAnswerRow[]> {
    const rows = await this.db
      .selectFrom("router_answers")
      .selectAll()
      .where("router", "=", router)
      .where("origin", "=", origin)
      .execute();
    return rows.map(answerOf);
  }

  /** The router's newest answers, oldest first: at most `limit` (the dashboard's timelines). */
  async recent(router: string, limit: number): Promise<RouterAnswerRow[]> {
    const rows = await this.db
      .selectFrom("router_answers")
      .selectAll()
      .where("router", "=", router)
      .orderBy("at", "desc")
      .orderBy("origin", "desc")
      .limit(limit)
      .execute();
    return rows.reverse().map(answerOf);
  }

  async loadState(router: string): Promise<unknown> {
    const row = await this.db
      .selectFrom("router_states")
      .select("state")
      .where("router", "=", router)
      .executeTakeFirst();
    return row === undefined ? undefined : (JSON.parse(row.state) as unknown);
  }

  async saveState(router: string, state: unknown, now: number): Promise<void> {
    const text = JSON.stringify(state);
    await this.db
      .insertInto("router_states")
      .values({ router, state: text, updated_at: now })
      .onConflict((oc) => oc.column("router").doUpdateSet({ state: text, updated_at: now }))
      .execute();
  }

  async forget(router: string): Promise<void> {
    await this.db.deleteFrom("router_states").where("router", "=", router).execute();
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

function answerOf(r: Selectable<Database["router_answers"]>): RouterAnswerRow {
  return {
    router: r.router,
    requestId: r.request_id,
    at: Number(r.at),
    origin: r.origin === null ? null : Number(r.origin),
    regime: Number(r.regime),
    probabilities: JSON.parse(r.probabilities) as number[],
    weights: JSON.parse(r.weights) as Record<string, number>,
    forecasts: JSON.parse(r.forecasts) as Record<string, number>,
  };
}
