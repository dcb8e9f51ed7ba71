/**
 * Tells every replica that something changed, so each re-reads it from the store. A topic
 * ("deployments", "aliases", …) has a revision in `revisions`; publishing bumps it and, on
 * PostgreSQL, sends a NOTIFY in the same transaction. Subscribers hear about it three ways:
 * at once in the publishing process ("local"), by LISTEN on a connection of the feed's own
 * ("notified"), and by a poll of the revisions (every second) that catches whatever the other
 * two missed ("polled"). When the LISTEN connection comes back after a loss, every listener is
 * called once with "resync": notifications may have been missed, so re-read everything.
 *
 * A change carries only its topic and revision (a NOTIFY payload is capped at 8000 bytes, and
 * a poll or a resync cannot say what changed anyway): the listener reads the state itself.
 *
 * Invariant: a listener is called again only after its previous call has settled; changes
 * arriving meanwhile are folded into one call with the latest revision.
 */
import pg from "pg";
import { sql, type Kysely } from "kysely";
import { invalid } from "../domain/errors.js";
import { systemClock, type Clock } from "../domain/clock.js";
import type { Store, StoreDialect } from "./db.js";
import type { Database } from "./schema.js";

export const CHANGE_CHANNEL = "ballast_changes";
export const DEFAULT_POLL_MS = 1000;
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;
const CONNECT_TIMEOUT_MS = 10_000;
const TOPIC = /^[a-z][a-z0-9_.-]{0,62}$/;

export type ChangeCause = "local" | "notified" | "polled" | "resync";

export interface Change {
  readonly topic: string;
  readonly revision: number;
  readonly cause: ChangeCause;
}

export type ChangeListener = (change: Change) => void | Promise<void>;

export interface ChangeFeedOptions {
  /** How often the revisions are read, whatever LISTEN delivers (0 turns the poll off). */
  readonly pollMs?: number;
  /** Backoff between attempts to reconnect the LISTEN connection: first and largest delay. */
  readonly reconnectMs?: { readonly first: number; readonly max: number };
  /** Names the LISTEN connection in pg_stat_activity. */
  readonly applicationName?: string;
  readonly clock?: Clock;
  /** A failed poll, connection or listener; the feed carries on. */
  readonly onError?: (error: unknown) => void;
}

interface Subscription {
  readonly topic: string;
  readonly listener: ChangeListener;
  seen: number;
  running: boolean;
  pending: Change | undefined;
}

export class ChangeFeed {
  private readonly db: Kysely<Database>;
  private readonly dialect: StoreDialect;
  private readonly url: string | undefined;
  private readonly pollMs: number;
  private readonly reconnectMs: { readonly first: number; readonly max: number };
  private readonly applicationName: string;
  private readonly clock: Clock;
  private readonly onError: (error: unknown) => void;
  private readonly subscriptions = new Set<Subscription>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private client: pg.Client | undefined;
  private listenLoop: Promise<void> | undefined;
  /** Wakes the listen loop: the connection was lost, a backoff is cut short, or the feed closes. */
  private wake: () => void = () => {};
  private closed = false;

  constructor(store: Pick<Store, "db" | "dialect" | "url">, options: ChangeFeedOptions = {}) {
    this.db = store.db;
    this.dialect = store.dialect;
    this.url = store.dialect === "postgres" ? store.url : undefined;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.reconnectMs = options.reconnectMs ?? { first: RECONNECT_FIRST_MS, max: RECONNECT_MAX_MS };
    this.applicationName = options.applicationName ?? "ballast change feed";
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError ?? (() => {});
  }

  /**
   * Starts polling and (on PostgreSQL) listening; resolves once the first LISTEN attempt is
   * over, whether or not it succeeded (a failed one is retried in the background).
   */
  async start(): Promise<void> {
    if (this.closed || this.pollTimer !== undefined || this.listenLoop !== undefined) return;
    if (this.pollMs > 0) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollMs);
      this.pollTimer.unref();
    }
    if (this.url === undefined) return;
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    this.listenLoop = this.listen(this.url, firstAttempt);
    await attempted;
  }

  /** True while the LISTEN connection is up (always false on SQLite). */
  listening(): boolean {
    return this.client !== undefined;
  }

  /** The topic's revision now (0 before its first change): what a replica serving it is up to. */
  async revision(topic: string): Promise<number> {
    checkTopic(topic);
    return (await this.revisions([topic])).get(topic) ?? 0;
  }

  /** Bumps the topic's revision, tells the other replicas and calls this process's listeners. */
  async publish(topic: string): Promise<number> {
    const revision = await this.db
      .transaction()
      .execute((trx) => bumpRevision(trx, this.dialect, topic, this.clock.now()));
    this.deliver(topic, revision, "local");
    return revision;
  }

  /**
   * Calls `listener` for every change of `topic` after the revision current now; resolves to
   * the unsubscribe. Subscribe before reading the state the topic guards, so nothing falls
   * between the read and the first call.
   */
  async subscribe(topic: string, listener: ChangeListener): Promise<() => void> {
    checkTopic(topic);
    const revisions = await this.revisions([topic]);
    const subscription: Subscription = {
      topic,
      listener,
      seen: revisions.get(topic) ?? 0,
      running: false,
      pending: undefined,
    };
    this.subscriptions.add(subscription);
    return () => void this.subscriptions.delete(subscription);
  }

  /** One poll: listeners of topics whose revision moved unnoticed are called. Polls never overlap. */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const revisions = await this.revisions(this.topics());
        for (const [topic, revision] of revisions) this.deliver(topic, revision, "polled");
      } catch (error) {
        this.onError(error);
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pollTimer);
    this.wake();
    await this.listenLoop;
    await this.polling;
    this.subscriptions.clear();
  }

  private topics(): string[] {
    return [...new Set([...this.subscriptions].map((s) => s.topic))];
  }

  private async revisions(topics: readonly string[]): Promise<Map<string, number>> {
    if (topics.length === 0) return new Map();
    const rows = await this.db
      .selectFrom("revisions")
      .select(["topic", "revision"])
      .where("topic", "in", topics)
      .execute();
    return new Map(rows.map((r) => [r.topic, Number(r.revision)]));
  }

  private async listen(url: string, firstAttempt: () => void): Promise<void> {
    let delay = this.reconnectMs.first;
    for (let attempt = 0; !this.closed; attempt++) {
      let signal!: () => void;
      const lost = new Promise<void>((resolve) => (signal = resolve));
      this.wake = signal;
      const client = new pg.Client({
        connectionString: url,
        application_name: this.applicationName,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      });
      // Bound to this client: a late event of an old connection must not end the new one.
      client.on("error", signal);
      client.on("end", signal);
      client.on("notification", (message) => this.notified(message.payload));
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGE_CHANNEL}`);
      } catch (error) {
        this.onError(error);
        await client.end().catch(() => {});
        firstAttempt();
        await Promise.race([lost, sleep(delay)]);
        delay = Math.min(delay * 2, this.reconnectMs.max);
        continue;
      }
      this.client = client;
      delay = this.reconnectMs.first;
      firstAttempt();
      // Whatever was published while no connection listened is unknown: everyone re-reads.
      if (attempt > 0) await this.resync();
      await lost;
      this.client = undefined;
      await client.end().catch(() => {});
    }
  }

  private async resync(): Promise<void> {
    let revisions: Map<string, number>;
    try {
      revisions = await this.revisions(this.topics());
    } catch (error) {
      this.onError(error);
      revisions = new Map();
    }
    for (const subscription of this.subscriptions) {
      const revision = Math.max(subscription.seen, revisions.get(subscription.topic) ?? 0);
      this.call(subscription, { topic: subscription.topic, revision, cause: "resync" });
    }
  }

  private notified(payload: string | undefined): void {
    const match = /^(\d+) (.+)$/.exec(payload ?? "");
    if (match === null) return;
    this.deliver(match[2]!, Number(match[1]), "notified");
  }

  private deliver(topic: string, revision: number, cause: ChangeCause): void {
    for (const subscription of this.subscriptions) {
      if (subscription.topic !== topic || revision <= subscription.seen) continue;
      this.call(subscription, { topic, revision, cause });
    }
  }

  private call(subscription: Subscription, change: Change): void {
    subscription.seen = Math.max(subscription.seen, change.revision);
    if (subscription.running) {
      subscription.pending = change;
      return;
    }
    subscription.running = true;
    void (async () => {
      let next: Change | undefined = change;
      while (next !== undefined) {
        subscription.pending = undefined;
        try {
          await subscription.listener(next);
        } catch (error) {
          this.onError(error);
        }
        next = subscription.pending;
      }
      subscription.running = false;
    })();
  }
}

/**
 * Bumps a topic's revision inside the caller's transaction (and, on PostgreSQL, queues the
 * NOTIFY that commit sends), for a change that should be announced atomically with itself.
 * Listeners in this process hear of it by NOTIFY or the next poll.
 */
export async function bumpRevision(
  db: Kysely<Database>,
  dialect: StoreDialect,
  topic: string,
  now: number,
): Promise<number> {
  checkTopic(topic);
  const row = await db
    .insertInto("revisions")
    .values({ topic, revision: 1, changed_at: now })
    .onConflict((oc) =>
      oc.column("topic").doUpdateSet({
        revision: sql<number>`revisions.revision + 1`,
        changed_at: (eb) => eb.ref("excluded.changed_at"),
      }),
    )
    .returning("revision")
    .executeTakeFirstOrThrow();
  const revision = Number(row.revision);
  if (dialect === "postgres") {
    await sql`select pg_notify(${CHANGE_CHANNEL}, ${`${revision} ${topic}`})`.execute(db);
  }
  return revision;
}

function checkTopic(topic: string): void {
  if (!TOPIC.test(topic)) {
    throw invalid(`not a change topic: ${JSON.stringify(topic)} (lowercase, up to 63 characters)`, {
      field: "topic",
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
