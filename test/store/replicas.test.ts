import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ReplicaHeartbeat, replicaId } from "../../src/store/replicas.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";

test("a replica id names the host and process, and differs per start", () => {
  const a = replicaId("node-1", 42);
  const b = replicaId("node-1", 42);
  assert.match(a, /^node-1-42-[0-9a-f]{6}$/);
  assert.notEqual(a, b);
});

describeStores("ReplicaHeartbeat", (c) => {
  let opened: OpenedStore;

  before(async () => {
    opened = await c.open();
  });
  after(() => opened.cleanup());

  test("replicas report what they serve; a silent one shows as not alive; a clean close leaves", async () => {
    const clock = { t: 1_000_000, now: () => clock.t };
    const a = new ReplicaHeartbeat(opened.store.db, { id: "a", clock, staleMs: 30_000 });
    const b = new ReplicaHeartbeat(opened.store.db, { id: "b", clock, staleMs: 30_000 });
    await a.beat(3);
    await b.beat();
    clock.t += 20_000;
    await a.beat(4);
    clock.t += 20_000;
    assert.deepEqual(await a.list(), [
      { id: "a", startedAt: 1_000_000, lastSeen: 1_020_000, servedRevision: 4, alive: true },
      { id: "b", startedAt: 1_000_000, lastSeen: 1_000_000, servedRevision: null, alive: false },
    ]);
    await a.close();
    assert.deepEqual(
      (await b.list()).map((r) => r.id),
      ["b"],
    );
    clock.t += 24 * 60 * 60 * 1000;
    const fresh = new ReplicaHeartbeat(opened.store.db, { id: "c", clock });
    await fresh.beat(1);
    assert.deepEqual(
      (await fresh.list()).map((r) => r.id),
      ["c"],
      "a replica silent for a day is forgotten",
    );
  });
});
