import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { LeaseKeeper, type LeaseKeeperOptions } from "../../src/store/leases.js";
import { describeStores, storeCases, type OpenedStore } from "../helpers/stores.js";

class ManualClock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
}

describeStores("LeaseKeeper", (c) => {
  let opened: OpenedStore;
  let n = 0;
  const keepers: LeaseKeeper[] = [];
  const keeper = (clock: ManualClock, options: Partial<LeaseKeeperOptions> = {}): LeaseKeeper => {
    const k = new LeaseKeeper(opened.store, { holder: `replica-${n++}`, clock, ...options });
    keepers.push(k);
    return k;
  };

  before(async () => {
    opened = await c.open();
  });
  after(async () => {
    for (const k of keepers) await k.close();
    await opened.cleanup();
  });

  test("one keeper holds a name; renewing keeps it, the other keeps trying in vain", async () => {
    const clock = new ManualClock();
    const a = keeper(clock);
    const b = keeper(clock);
    assert.equal(await a.contend("rollouts"), true);
    assert.equal(await b.contend("rollouts"), false);
    for (let i = 0; i < 5; i++) {
      clock.t += 3_000;
      await a.renew();
      await b.renew();
      assert.equal(a.holds("rollouts"), true);
      assert.equal(b.holds("rollouts"), false);
    }
  });

  test("when the holder stops renewing, the other takes over once the lease expires", async () => {
    const clock = new ManualClock();
    const a = keeper(clock);
    const b = keeper(clock);
    const changes: string[] = [];
    a.onChange((name, held) => changes.push(`a ${name} ${held}`));
    b.onChange((name, held) => changes.push(`b ${name} ${held}`));
    assert.equal(await a.contend("source-sync"), true);
    await b.contend("source-sync");
    // a dies: from here on only b renews, every 3 s.
    let waited = 0;
    while (!b.holds("source-sync")) {
      clock.t += 3_000;
      waited += 3_000;
      await b.renew();
    }
    assert.ok(waited > 10_000 - 3_000 && waited <= 15_000, `taken over after ${waited} ms`);
    assert.equal(a.holds("source-sync"), false, "the dead holder's own deadline passed too");
    assert.deepEqual(changes, ["a source-sync true", "b source-sync true", "a source-sync false"]);
    // a comes back: it does not get the lease back while b renews.
    await a.renew();
    assert.equal(a.holds("source-sync"), false);
  });

  test("run does the work only on the holder", async () => {
    const clock = new ManualClock();
    const a = keeper(clock);
    const b = keeper(clock);
    const ran: string[] = [];
    assert.deepEqual(await a.run("retention", async () => ran.push("a")), { ran: true, value: 1 });
    assert.deepEqual(await b.run("retention", async () => ran.push("b")), { ran: false });
    assert.deepEqual(ran, ["a"]);
  });

  test("a clean close releases at once; names are independent", async () => {
    const clock = new ManualClock();
    const a = keeper(clock);
    const b = keeper(clock);
    assert.equal(await a.contend("monitors"), true);
    assert.equal(await b.contend("pipelines"), true);
    assert.equal(await b.contend("monitors"), false);
    await a.close();
    assert.equal(a.holds("monitors"), false);
    await b.renew();
    assert.equal(b.holds("monitors"), true);
    assert.equal(b.holds("pipelines"), true);
  });

  test("a lease taken while closing is released too", async () => {
    const clock = new ManualClock();
    const a = keeper(clock);
    const b = keeper(clock);
    const taking = a.contend("sweeper");
    await a.close();
    await taking;
    assert.equal(await b.contend("sweeper"), true);
  });
});

const postgres = storeCases().find((s) => s.name === "postgres")!;

test(
  "on PostgreSQL the database's clock decides: a holder gone silent is replaced",
  { skip: postgres.skip },
  async () => {
    const opened = await postgres.open();
    const options = { ttlMs: 400, renewMs: 100 };
    // a takes the lease once and never renews (it died); b renews on its timer.
    const a = new LeaseKeeper(opened.store, { holder: "a", ...options });
    const b = new LeaseKeeper(opened.store, { holder: "b", ...options });
    try {
      assert.equal(await a.contend("rollouts"), true);
      const taken = new Promise<void>((resolve) =>
        b.onChange((name, held) => {
          if (name === "rollouts" && held) resolve();
        }),
      );
      assert.equal(await b.contend("rollouts"), false);
      b.start();
      await withTimeout(taken, 10_000, "b never took the lease over");
      assert.equal(a.holds("rollouts"), false);
      const row = await opened.store.db.selectFrom("leases").selectAll().executeTakeFirstOrThrow();
      assert.equal(row.holder, "b");
      assert.ok(row.expires_at - row.acquired_at >= 400);
    } finally {
      await a.close();
      await b.close();
      await opened.cleanup();
    }
  },
);

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
