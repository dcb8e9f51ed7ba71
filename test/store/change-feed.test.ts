import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import pg from "pg";
import {
  ChangeFeed,
  bumpRevision,
  type Change,
  type ChangeFeedOptions,
} from "../../src/store/change-feed.js";
import { describeStores, storeCases, type OpenedStore } from "../helpers/stores.js";

/** Waits are bounded generously: they fail a test that hangs, they never measure speed. */
const PATIENCE_MS = 10_000;

/** A listener that keeps what it hears, and waits for a change matching a predicate. */
function recorder() {
  const heard: Change[] = [];
  const waiters: Array<{ match: (c: Change) => boolean; resolve: (c: Change) => void }> = [];
  const listener = (change: Change): void => {
    heard.push(change);
    for (const w of [...waiters]) {
      if (w.match(change)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(change);
      }
    }
  };
  const next = (match: (c: Change) => boolean, what: string): Promise<Change> => {
    const found = heard.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return withTimeout(new Promise<Change>((resolve) => waiters.push({ match, resolve })), what);
  };
  return { heard, listener, next };
}

describeStores("ChangeFeed", (c) => {
  let opened: OpenedStore;
  const feeds: ChangeFeed[] = [];
  const feed = async (options: ChangeFeedOptions = {}): Promise<ChangeFeed> => {
    const f = new ChangeFeed(opened.store, options);
    feeds.push(f);
    await f.start();
    return f;
  };
  // On PostgreSQL the poll is turned off where the test is about NOTIFY, so only LISTEN can
  // deliver; on SQLite (one node, other processes) the poll is how another feed hears.
  const notifyOnly: ChangeFeedOptions = c.name === "postgres" ? { pollMs: 0 } : { pollMs: 20 };

  before(async () => {
    opened = await c.open();
  });
  after(async () => {
    for (const f of feeds) await f.close();
    await opened.cleanup();
  });

  test("a change published through one feed reaches the other's subscribers", async () => {
    const a = await feed(notifyOnly);
    const b = await feed(notifyOnly);
    const inA = recorder();
    const inB = recorder();
    await a.subscribe("deployments", inA.listener);
    await b.subscribe("deployments", inB.listener);
    const revision = await a.publish("deployments");
    assert.equal(revision, 1);
    // Heard by the time publish returns: in-process, unless its own NOTIFY came back first.
    assert.deepEqual(
      inA.heard.map((ch) => ch.revision),
      [1],
    );
    const heard = await inB.next((ch) => ch.revision === 1, "b never heard revision 1");
    assert.equal(heard.cause, c.name === "postgres" ? "notified" : "polled");
    assert.equal(await b.publish("deployments"), 2);
    await inA.next((ch) => ch.revision === 2, "a never heard revision 2");
    // Each revision is heard once per subscriber, whichever way it came first.
    assert.deepEqual(
      inA.heard.map((ch) => ch.revision),
      [1, 2],
    );
  });

  test("a subscriber hears only changes after it subscribed, and only its topic", async () => {
    const a = await feed(notifyOnly);
    await a.publish("aliases");
    await a.publish("aliases");
    const heard = recorder();
    const unsubscribe = await a.subscribe("aliases", heard.listener);
    await a.publish("monitors");
    await a.publish("aliases");
    assert.deepEqual(
      heard.heard.map((ch) => `${ch.topic} ${ch.revision}`),
      ["aliases 3"],
    );
    unsubscribe();
    await a.publish("aliases");
    assert.equal(heard.heard.length, 1);
    assert.equal(await a.revision("aliases"), 4);
    assert.equal(await a.revision("never-published"), 0);
  });

  test("the poll catches a revision bumped without a notification", async () => {
    const b = await feed({ pollMs: 20 });
    const heard = recorder();
    await b.subscribe("resources", heard.listener);
    await sql`insert into revisions (topic, revision, changed_at) values ('resources', 7, 0)`.execute(
      opened.store.db,
    );
    const change = await heard.next((ch) => ch.revision === 7, "the poll never saw revision 7");
    assert.equal(change.cause, "polled");
  });

  test("a revision bumped inside the caller's transaction is announced at commit", async () => {
    const b = await feed({ pollMs: 20 });
    const heard = recorder();
    await b.subscribe("rollouts", heard.listener);
    await opened.store.db
      .transaction()
      .execute((trx) => bumpRevision(trx, opened.store.dialect, "rollouts", Date.now()));
    await heard.next((ch) => ch.revision === 1, "the bump was never heard");
  });

  test("a listener still busy is called once more, with the latest revision", async () => {
    const a = await feed(notifyOnly);
    const calls: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await a.subscribe("slow", async (change) => {
      calls.push(change.revision);
      if (change.revision === 1) await gate;
      if (change.revision === 3) done();
    });
    await a.publish("slow");
    await a.publish("slow");
    await a.publish("slow");
    release();
    await withTimeout(finished, "the folded call never came");
    assert.deepEqual(calls, [1, 3]);
  });

  test("topics are short lowercase names", async () => {
    const a = await feed(notifyOnly);
    await assert.rejects(a.publish("Deployments"), /not a change topic/);
    await assert.rejects(
      a.subscribe("x".repeat(100), () => {}),
      /not a change topic/,
    );
  });
});

const postgres = storeCases().find((s) => s.name === "postgres")!;

test(
  "on PostgreSQL a lost LISTEN connection comes back, and its listeners resync",
  { skip: postgres.skip },
  async () => {
    const opened = await postgres.open();
    const a = new ChangeFeed(opened.store, { pollMs: 0 });
    const b = new ChangeFeed(opened.store, {
      pollMs: 0,
      applicationName: "ballast change feed b",
      reconnectMs: { first: 20, max: 200 },
    });
    try {
      await a.start();
      await b.start();
      assert.equal(b.listening(), true);
      const heard = recorder();
      await b.subscribe("deployments", heard.listener);
      const killed = await withAdmin(opened.url!, (client) =>
        client.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where application_name = 'ballast change feed b' and datname = current_database()`,
        ),
      );
      assert.equal(killed.rowCount, 1);
      await a.publish("deployments"); // b may well miss this one while it reconnects
      const resync = await heard.next((ch) => ch.cause === "resync", "b never resynced");
      assert.equal(resync.topic, "deployments");
      assert.equal(b.listening(), true);
      // Listening again: the next change arrives by NOTIFY.
      const revision = await a.publish("deployments");
      await heard.next((ch) => ch.revision === revision && ch.cause === "notified", "no notification after");
    } finally {
      await a.close();
      await b.close();
      await opened.cleanup();
    }
  },
);

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function withTimeout<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), PATIENCE_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
