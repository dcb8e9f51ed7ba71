// The routers' answer log and learned state in SQLite and PostgreSQL (BALLAST_TEST_POSTGRES_URL):
// batched writes, read back by origin, idempotent by request id, bounded with a drop count.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { storeCases } from "../helpers/stores.js";
import { RouterLog } from "../../src/application/router-log.js";

const row = (requestId: string, origin: number | null, router = "vol") => ({
  router,
  requestId,
  at: 1_764_000_000_000,
  origin,
  regime: 1,
  probabilities: [0.25, 0.75],
  weights: { garch: 0.3, lstm: 0.7 },
  forecasts: { garch: 1.5, lstm: 2.5, router: 2.2 },
});

for (const c of storeCases()) {
  describe(`router log (${c.name})`, { skip: c.skip ?? false }, () => {
    test("answers written in a batch come back by router and origin, once per request id", async () => {
      const { store, cleanup } = await c.open();
      try {
        const log = new RouterLog(store.db);
        log.append(row("a", 1_700_000_000_000));
        log.append(row("b", 1_700_000_000_000));
        log.append(row("c", 1_700_000_086_400));
        log.append(row("d", 1_700_000_000_000, "other"));
        log.append(row("e", null));
        await log.flush();
        log.append(row("a", 1_700_000_000_000)); // the same request again: kept once
        await log.flush();
        const made = await log.madeAt("vol", 1_700_000_000_000);
        assert.deepEqual(made.map((r) => r.requestId).sort(), ["a", "b"]);
        assert.deepEqual(made[0], row(made[0]!.requestId, 1_700_000_000_000));
        assert.deepEqual(log.stats(), { queued: 0, written: 6, dropped: 0 });
      } finally {
        await cleanup();
      }
    });

    test("a full queue drops and counts; state is saved, replaced and forgotten", async () => {
      const { store, cleanup } = await c.open();
      try {
        const log = new RouterLog(store.db, 2);
        log.append(row("a", 1));
        log.append(row("b", 1));
        log.append(row("c", 1));
        assert.equal(log.stats().dropped, 1);
        await log.close();
        assert.equal((await log.madeAt("vol", 1)).length, 2);
        assert.equal(await log.loadState("vol"), undefined);
        await log.saveState("vol", { weights: [[1, 0]] }, 5);
        await log.saveState("vol", { weights: [[0.5, 0.5]] }, 6);
        assert.deepEqual(await log.loadState("vol"), { weights: [[0.5, 0.5]] });
        await log.forget("vol");
        assert.equal(await log.loadState("vol"), undefined);
      } finally {
        await cleanup();
      }
    });
  });
}
