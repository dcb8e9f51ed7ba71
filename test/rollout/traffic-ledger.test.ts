/**
 * Traffic counts across replicas: two meters ("replicas") on one database, each seeing part of a
 * canary's traffic, write their counts; reading on either gives every replica's requests and
 * errors and the merged latency quantiles. On SQLite and PostgreSQL (the same queries).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { describeStores, tempDir, type OpenedStore } from "../helpers/stores.js";
import { openStore, type Store } from "../../src/store/db.js";
import { TrafficCountStore } from "../../src/store/traffic-counts.js";
import { TrafficLedger, trafficLedgerFor } from "../../src/rollout/traffic-ledger.js";
import { TrafficMeter } from "../../src/rollout/traffic-meter.js";
import type { InferenceOutcome } from "../../src/serving/inference.js";
import { Rollouts } from "../../src/rollout/rollouts.js";
import type { RolloutController, RolloutTargets } from "../../src/rollout/controller.js";
import type { DeploymentStore } from "../../src/registry/deployments.js";
import type { Registry } from "../../src/registry/registry.js";
import type { PerformanceLog } from "../../src/monitoring/log-performance.js";
import type { RolloutStrategy } from "../../src/rollout/strategy.js";
import type { EventRecorder } from "../../src/events/event-log.js";

const DAY = 86_400_000;

function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** An outcome of `variant` taking `ms` milliseconds; `error` makes it a failure. */
function outcome(deployment: string, variant: string, ms: number, error = false): InferenceOutcome {
  return { deployment, model: "m", version: 1, variant, code: error ? "internal" : "ok", seconds: ms / 1000 };
}

/** The latency the meter records for `ms` (seconds back to milliseconds, as it computes it). */
const recorded = (ms: number) => (ms / 1000) * 1000;

/** Feeds latencies `from..to` ms; every `errorEvery`-th one (counting from `from`) fails. */
function feed(
  meter: TrafficMeter,
  deployment: string,
  variant: string,
  from: number,
  to: number,
  errorEvery = 0,
) {
  for (let ms = from; ms <= to; ms++)
    meter.observe(outcome(deployment, variant, ms, errorEvery > 0 && (ms - from) % errorEvery === 0));
}

describeStores("traffic counts across replicas", (c) => {
  let opened: OpenedStore & { url?: string };
  let second: Store;
  const clock = manualClock();
  /** A replica: its meter on its own connection to the one database. */
  const replica = (store: Store, name: string, options: { maxAgeMs?: number; refreshMs?: number } = {}) =>
    new TrafficMeter({
      ledger: new TrafficLedger(new TrafficCountStore(store.db), name, clock),
      clock,
      ...options,
    });
  const rows = (deployment: string) =>
    opened.store.db.selectFrom("traffic_counts").selectAll().where("deployment", "=", deployment).execute();

  before(async () => {
    opened = await c.open();
    second = await openStore({
      dataDir: opened.dataDir,
      ...(opened.url === undefined ? {} : { url: opened.url }),
    });
  });
  after(async () => {
    await second.close();
    await opened.cleanup();
  });

  test("two replicas' counts sum, their latency sketches merge; each reads its own fresh counts", async () => {
    const a = replica(opened.store, "a");
    const b = replica(second, "b");
    a.watch("fraud", "r1");
    b.watch("fraud", "r1");
    // Canary: 1..60 ms on a (every 20th fails: 3), 61..100 ms on b (every 8th fails: 5).
    feed(a, "fraud", "canary", 1, 60, 20);
    feed(b, "fraud", "canary", 61, 100, 8);
    // Stable: 200..299 ms, all on a.
    feed(a, "fraud", "stable", 200, 299);
    await a.flush();
    await b.flush();
    assert.equal((await rows("fraud")).length, 3); // a: canary + stable, b: canary
    for (const meter of [a, b]) {
      assert.deepEqual(await meter.read("fraud", "canary", "r1"), {
        requests: 100,
        errors: 8,
        p50: recorded(50),
        p99: recorded(99),
      });
      assert.deepEqual(await meter.read("fraud", "stable", "r1"), {
        requests: 100,
        errors: 0,
        p50: recorded(249),
        p99: recorded(298),
      });
    }
    // a serves more: a reads it at once (memory), b once a has flushed.
    feed(a, "fraud", "canary", 101, 110, 1);
    assert.deepEqual(await a.read("fraud", "canary", "r1"), {
      requests: 110,
      errors: 18,
      p50: recorded(55),
      p99: recorded(109),
    });
    assert.equal((await b.read("fraud", "canary", "r1")).requests, 100);
    await a.flush();
    assert.deepEqual(await b.read("fraud", "canary", "r1"), {
      requests: 110,
      errors: 18,
      p50: recorded(55),
      p99: recorded(109),
    });
    // A flush with nothing new writes nothing (and changes nothing).
    const before = await rows("fraud");
    clock.advance(1000);
    await a.flush();
    assert.deepEqual(await rows("fraud"), before);
  });

  test("epochs do not mix: a new rollout counts from zero, the old one's rows stay apart", async () => {
    const a = replica(opened.store, "a");
    const b = replica(second, "b");
    for (const m of [a, b]) m.watch("credit", "r1");
    feed(a, "credit", "canary", 1, 10, 2);
    feed(b, "credit", "canary", 11, 20);
    await Promise.all([a.flush(), b.flush()]);
    for (const m of [a, b]) m.watch("credit", "r1"); // again: counts kept
    assert.equal((await a.read("credit", "canary", "r1")).requests, 20);
    for (const m of [a, b]) m.watch("credit", "r2");
    assert.deepEqual(await a.read("credit", "canary", "r2"), {
      requests: 0,
      errors: 0,
      p50: null,
      p99: null,
    });
    feed(b, "credit", "canary", 500, 503, 4);
    await b.flush();
    assert.deepEqual(await a.read("credit", "canary", "r2"), {
      requests: 4,
      errors: 1,
      p50: recorded(501),
      p99: recorded(503),
    });
    assert.deepEqual(await a.read("credit", "canary", "r1"), {
      requests: 20,
      errors: 5,
      p50: recorded(10),
      p99: recorded(20),
    });
    // Another deployment's counts are its own.
    assert.equal((await a.read("fraud-2", "canary", "r2")).requests, 0);
  });

  test("a replica that stopped still counts; one restarted under the same name adds to its row", async () => {
    const a = replica(opened.store, "a");
    const b = replica(second, "b");
    a.watch("churn", "r1");
    b.watch("churn", "r1");
    feed(a, "churn", "canary", 1, 30, 10);
    feed(b, "churn", "canary", 31, 50, 10);
    await a.flush();
    await b.close(); // b stops: its last counts are written, its row stays
    assert.deepEqual(await a.read("churn", "canary", "r1"), {
      requests: 50,
      errors: 5,
      p50: recorded(25),
      p99: recorded(50),
    });
    // a restarts as "a" again: what its predecessor wrote counts, before and after its first flush.
    const a2 = replica(second, "a");
    a2.watch("churn", "r1");
    feed(a2, "churn", "canary", 51, 60, 10);
    const expected = { requests: 60, errors: 6, p50: recorded(30), p99: recorded(60) };
    assert.deepEqual(await a2.read("churn", "canary", "r1"), expected);
    await a2.flush();
    assert.deepEqual(await a2.read("churn", "canary", "r1"), expected);
    const aRow = (await rows("churn")).find((r) => r.replica === "a");
    assert.equal(aRow?.requests, 40);
  });

  test("forget deletes every replica's rows of the epoch and stops counting it", async () => {
    const a = replica(opened.store, "a");
    const b = replica(second, "b");
    for (const m of [a, b]) m.watch("ads", "r1");
    feed(a, "ads", "canary", 1, 5);
    feed(b, "ads", "canary", 6, 10);
    await Promise.all([a.flush(), b.flush()]);
    a.watch("ads-other", "r9");
    feed(a, "ads-other", "canary", 1, 3);
    await a.flush();
    await a.forget("ads", "r1");
    assert.equal((await rows("ads")).length, 0);
    assert.equal(a.epochOf("ads"), undefined);
    feed(a, "ads", "canary", 1, 5); // not watched any more: not counted
    assert.deepEqual(await a.read("ads", "canary", "r1"), { requests: 0, errors: 0, p50: null, p99: null });
    assert.equal((await rows("ads-other")).length, 1); // other epochs untouched
  });

  test("rows nobody writes for the maximum age are swept; watched ones are refreshed first", async () => {
    const a = replica(opened.store, "a", { maxAgeMs: 7 * DAY, refreshMs: 3_600_000 });
    const gone = replica(second, "gone");
    a.watch("old", "r1");
    gone.watch("old", "r1");
    feed(a, "old", "canary", 1, 5);
    feed(gone, "old", "canary", 6, 10);
    await Promise.all([a.flush(), gone.flush()]);
    for (let day = 0; day < 8; day++) {
      clock.advance(DAY);
      await a.flush(); // no traffic: a's row is rewritten since an hour has passed, and a sweeps
    }
    const left = await rows("old");
    assert.deepEqual(
      left.map((r) => r.replica),
      ["a"],
    );
    assert.equal((await a.read("old", "canary", "r1")).requests, 5);
  });

  test("the flusher writes on its timer and once more on close", async () => {
    const fast = new TrafficMeter({
      ledger: new TrafficLedger(new TrafficCountStore(opened.store.db), "fast", clock),
      clock,
      flushMs: 10,
    });
    fast.watch("timed", "r1");
    fast.start();
    feed(fast, "timed", "canary", 1, 3);
    for (let i = 0; i < 200 && (await rows("timed")).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await rows("timed"))[0]?.requests, 3);
    feed(fast, "timed", "canary", 4, 4);
    await fast.close();
    assert.equal((await rows("timed"))[0]?.requests, 4);
  });
});

describe("traffic meter without a ledger (SQLite: one process)", () => {
  test("reads its own counts for the epoch it watches, nothing for another", async () => {
    const meter = new TrafficMeter();
    meter.watch("fraud", "r1");
    feed(meter, "fraud", "canary", 1, 100, 50);
    meter.observe({ ...outcome("fraud", "canary", 1), code: "invalid_argument" }); // the client's fault
    assert.deepEqual(await meter.read("fraud", "canary", "r1"), {
      requests: 100,
      errors: 2,
      p50: recorded(50),
      p99: recorded(99),
    });
    assert.equal((await meter.read("fraud", "canary", "r0")).requests, 0);
    await meter.flush(); // nothing to write to
    await meter.close();
  });

  test("trafficLedgerFor gives PostgreSQL a ledger and SQLite none", async () => {
    const sqlite = { dialect: "sqlite" } as unknown as Store;
    const postgres = { dialect: "postgres", db: {} } as unknown as Store;
    assert.equal(trafficLedgerFor(sqlite, "r"), undefined);
    assert.ok(trafficLedgerFor(postgres, "r") instanceof TrafficLedger);
  });
});

describe("rollouts keep the meter on the running rollout's epoch", () => {
  test("start watches the rollout's id; an ended rollout's rows are deleted, an unknown epoch's kept", async () => {
    const dir = await tempDir();
    const store = await openStore({ dataDir: dir.path });
    try {
      const clock = manualClock();
      const meter = new TrafficMeter({
        ledger: new TrafficLedger(new TrafficCountStore(store.db), "holder", clock),
        clock,
      });
      // Just what Rollouts asks of the controller.
      const states = new Map<string, { id: string; rolling: boolean }>();
      const controller = {
        isRolling: (d: string) => states.get(d)?.rolling === true,
        status: async (d: string) => {
          const s = states.get(d);
          return s === undefined ? null : { state: { id: s.id } };
        },
        start: async (d: string) => {
          states.set(d, { id: `${d}-1`, rolling: true });
          return { id: `${d}-1` };
        },
        act: async (d: string) => {
          states.set(d, { id: `${d}-1`, rolling: false });
          return { id: `${d}-1` };
        },
        tick: async () => {},
      };
      const rollouts = new Rollouts(
        controller as unknown as RolloutController,
        { list: async () => [] } as unknown as DeploymentStore,
        {} as Registry,
        {} as RolloutTargets,
        meter,
        {} as EventRecorder,
        {} as PerformanceLog & { flush(): Promise<void> },
        clock,
      );
      const pin = (version: number) => ({ model: "m", version });
      await rollouts.begin("fraud", pin(1), pin(2), {} as RolloutStrategy);
      assert.equal(meter.epochOf("fraud"), "fraud-1");
      meter.watch("other", "not-loaded-yet"); // learnt from the store before the controller loaded it
      feed(meter, "fraud", "canary", 1, 3);
      feed(meter, "other", "canary", 1, 3);
      await meter.flush();
      await rollouts.tick();
      assert.equal((await store.db.selectFrom("traffic_counts").selectAll().execute()).length, 2);
      await rollouts.act("fraud", "abort");
      assert.equal(meter.epochOf("fraud"), undefined);
      const left = await store.db.selectFrom("traffic_counts").select(["deployment", "epoch"]).execute();
      assert.deepEqual(left, [{ deployment: "other", epoch: "not-loaded-yet" }]);
      assert.equal(meter.epochOf("other"), "not-loaded-yet");
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
