/**
 * Bars across replicas: two in-process Ballast instances on one PostgreSQL database. Bars POSTed
 * to the replica that does not hold the routers lease still have their outcomes joined (the
 * holder hears the "bars" topic and reads them from the store), and every replica's live regime
 * moves with the bars, whichever took them. Without the catch-up the holder never saw them.
 *
 * Run: BALLAST_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
 *        npx tsx --test test/markets/router-replicas.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, startTestServer, type TestServer } from "../helpers/app.js";
import { storeCases } from "../helpers/stores.js";
import { waitFor } from "../helpers/replicas.js";
import { LEASE } from "../../src/application/reconcilers.js";
import {
  BASE,
  MARKET_BARS,
  W,
  CALM,
  apply,
  deploySpecialists,
  infer,
  postBars,
  registerClassifier,
  router,
} from "../helpers/router-fixtures.js";

const postgres = storeCases().find((s) => s.name === "postgres")!;
/** Feed deliveries (NOTIFY, or the 1 s poll) are awaited at most this long. */
const FEED_TIMEOUT_MS = 10_000;

test(
  "bars POSTed to either replica reach the routers of both: outcomes joined once, live regimes alike",
  { skip: postgres.skip },
  async () => {
    const database = await postgres.open();
    await database.store.close();
    const url = database.url as string;
    const clock = new ManualClock(Date.parse("2026-12-06T12:00:00Z"));
    const servers: TestServer[] = [];
    try {
      servers.push(await startTestServer({ ballast: { storeUrl: url, clock }, deploy: false }));
      servers.push(await startTestServer({ ballast: { storeUrl: url, clock }, deploy: false }));
      const [a, b] = servers as [TestServer, TestServer];
      await deploySpecialists(a);
      await registerClassifier(a);
      const applied = await apply(a, router("vol", { ...BASE, instrument: "cac", scale: 1 }));
      assert.equal(applied.statusCode, 200, applied.body);

      // The first bars through a: a takes the routers lease to observe them.
      const first = await postBars(a, "cac", MARKET_BARS.slice(0, W + 1));
      assert.equal(first.statusCode, 200, first.body);
      assert.ok(a.ballast.replica.leases.holds(LEASE.routers), "a holds the routers lease");
      assert.ok(!b.ballast.replica.leases.holds(LEASE.routers));
      const answer = await infer(a, "vol", [CALM]);
      assert.equal(answer.statusCode, 200, answer.body);

      // The next bar through b, which does not hold the lease: a joins the answer's outcome.
      const next = await postBars(b, "cac", MARKET_BARS.slice(W + 1, W + 2));
      assert.equal(next.statusCode, 200, next.body);
      const outcomes = async () => {
        const perf = (await a.app.inject({ url: "/api/v1/routers/vol/performance?by=regime" })).json();
        return (perf.regimes.all ?? []).find((m: { model: string }) => m.model === "router")?.n ?? 0;
      };
      await waitFor("a joins the outcome of the bar b took", async () => (await outcomes()) === 1, {
        timeoutMs: FEED_TIMEOUT_MS,
      });

      // Every replica's live regime has seen every bar, whichever took it.
      const lastBar = Date.parse(MARKET_BARS[W + 1]!.time);
      for (const s of [a, b]) {
        const view = (await s.app.inject({ url: "/api/v1/routers/vol" })).json();
        assert.equal(view.live.lastBar, lastBar, `replica ${s === a ? "a" : "b"}'s live regime`);
      }
      // A third bar through a reaches b's live regime too; the outcome is joined once, not twice.
      const third = await postBars(a, "cac", MARKET_BARS.slice(W + 2, W + 3));
      assert.equal(third.statusCode, 200, third.body);
      const thirdBar = Date.parse(MARKET_BARS[W + 2]!.time);
      await waitFor(
        "b's live regime moves with a's bar",
        async () => (await b.app.inject({ url: "/api/v1/routers/vol" })).json().live.lastBar === thirdBar,
        { timeoutMs: FEED_TIMEOUT_MS },
      );
      assert.equal(await outcomes(), 1, "one answer, one outcome");

      // A Router applied through a is served by b as applied (topic "routers"), and deleted alike.
      const soft = await apply(a, router("vol", { ...BASE, instrument: "cac", scale: 1, mode: "soft" }));
      assert.equal(soft.statusCode, 200, soft.body);
      await waitFor(
        "b serves the spec applied through a",
        async () => (await b.app.inject({ url: "/api/v1/routers/vol" })).json().spec?.mode === "soft",
        { timeoutMs: FEED_TIMEOUT_MS },
      );
      const gone = await a.app.inject({
        method: "DELETE",
        url: "/api/v1/resources/Router/vol",
      });
      assert.equal(gone.statusCode, 200, gone.body);
      await waitFor(
        "b no longer answers for the deleted router",
        async () => (await b.app.inject({ url: "/api/v1/routers/vol" })).statusCode === 404,
        { timeoutMs: FEED_TIMEOUT_MS },
      );
    } finally {
      for (const s of servers) await s.close();
      await database.cleanup();
    }
  },
);

test("replicas are told of a Router change only once the store holds it (else they reread the old one)", async () => {
  const s = await startTestServer({ deploy: false });
  try {
    await deploySpecialists(s);
    await registerClassifier(s);
    const seen: Array<string | null> = [];
    const routers = s.ballast.routers;
    const changed = routers.changed.bind(routers);
    // What a replica told at this moment would read: the declaration in the store.
    routers.changed = async (name: string) => {
      const stored = await s.app.inject({ url: `/api/v1/resources/Router/${name}` });
      seen.push(stored.statusCode === 200 ? (stored.json().manifest?.spec?.mode ?? "hard") : null);
      return changed(name);
    };
    assert.equal((await apply(s, router("vol", { ...BASE, mode: "soft" }))).statusCode, 200);
    const gone = await s.app.inject({ method: "DELETE", url: "/api/v1/resources/Router/vol" });
    assert.equal(gone.statusCode, 200, gone.body);
    assert.deepEqual(seen, ["soft", null]);
  } finally {
    await s.close();
  }
});
