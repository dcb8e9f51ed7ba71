/**
 * Drift monitors across replicas: three in-process Ballast instances on one PostgreSQL database
 * (each its own data dir and replica id, one manual clock). A monitor created through one runs
 * on the others at once (the "monitors" change-feed topic); traffic split across the three is
 * judged once, by the monitors lease holder, on the merged window: drift is found although no
 * replica alone has minSamples rows, and the statistic is the one one process computes from the
 * same rows. Deleting through another replica stops it everywhere.
 *
 * Run: BALLAST_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
 *        npx tsx --test test/server/replica-monitors.test.ts
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock, startTestServer, type TestServer } from "../helpers/app.js";
import { storeCases } from "../helpers/stores.js";
import { waitFor } from "../helpers/replicas.js";
import { fraudRows } from "../helpers/traffic.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { WindowSketch } from "../../src/monitoring/sketches/feature-window.js";
import { evaluateDrift } from "../../src/monitoring/drift.js";
import { validateProfile } from "../../src/monitoring/profile/reference-profile.js";
import { LEASE } from "../../src/application/reconcilers.js";
import { ArtifactStore } from "../../src/registry/artifacts.js";
import { openBallast } from "../../src/ballast.js";
import type { MonitorStatus } from "../../src/monitoring/monitors.js";

const postgres = storeCases().find((s) => s.name === "postgres")!;
const HOUR = 3_600_000;
/** Feed deliveries (NOTIFY, or the 1 s poll) are awaited at most this long. */
const FEED_TIMEOUT_MS = 10_000;
const MONITOR = "merged-drift";
const SPEC = {
  deployment: "fraud",
  features: ["amount", "hour"],
  test: "psi",
  window: { kind: "tumbling", by: "time", durationMs: HOUR },
  // Each replica gets 250 rows: too few alone; the 750 of the merged window are enough.
  minSamples: 600,
  severity: "critical",
};

const predict = async (s: TestServer, rows: ReturnType<typeof fraudRows>) => {
  for (let i = 0; i < rows.length; i += 50) {
    const r = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      payload: { instances: rows.slice(i, i + 50) },
    });
    assert.equal(r.statusCode, 200, r.body);
  }
};

test(
  "replicas: a monitor made on one runs on all; split traffic is judged once, on the merged window",
  { skip: postgres.skip },
  async () => {
    const database = await postgres.open();
    await database.store.close();
    const url = database.url as string;
    // One clock for all: the hour boundary is the same moment on every replica.
    const clock = new ManualClock(Date.parse("2026-11-25T12:00:00Z"));
    const servers: TestServer[] = [];
    try {
      servers.push(await startTestServer({ ballast: { storeUrl: url, clock } }));
      const reference = new ProfileBuilder({ clock });
      reference.add(fraudRows(1, 5000, 1));
      const profile = reference.finish();
      await servers[0]!.ballast.registry.attachReference("fraud", 1, profile);
      for (let i = 0; i < 2; i++)
        servers.push(await startTestServer({ ballast: { storeUrl: url, clock }, deploy: false }));
      const [a, b, c] = servers as [TestServer, TestServer, TestServer];
      const ids = new Set(servers.map((s) => s.ballast.replica.id));
      assert.equal(ids.size, 3, "distinct replica ids");

      // Created through a; b and c run it without a restart.
      const put = await a.app.inject({ method: "PUT", url: `/api/v1/monitors/${MONITOR}`, payload: SPEC });
      assert.equal(put.statusCode, 200, put.body);
      for (const s of [b, c]) {
        await waitFor(
          `${s.ballast.replica.id} to run the monitor`,
          () => s.ballast.monitors.specs().length === 1,
          {
            timeoutMs: FEED_TIMEOUT_MS,
          },
        );
        await s.ballast.monitors.settled();
        const status = (await s.app.inject(`/api/v1/monitors/${MONITOR}`)).json() as MonitorStatus;
        assert.equal(status.spec.minSamples, 600);
        assert.deepEqual(
          status.variants.map((v) => [v.variant, v.problem]),
          [["stable", null]],
        );
      }

      // One monitors lease holder and one performance lease holder among the three.
      const holders = (lease: string) => servers.filter((s) => s.ballast.replica.leases.holds(lease));
      assert.equal(holders(LEASE.monitors).length, 1);
      assert.equal(holders(LEASE.performance).length, 1);
      const evaluator = holders(LEASE.monitors)[0] as TestServer;

      // Shifted traffic (amounts ×3) split over the three within 12:00–13:00.
      const rows = fraudRows(5, 750, 3);
      for (const [i, s] of servers.entries()) {
        clock.advance(60_000);
        await predict(s, rows.slice(i * 250, (i + 1) * 250));
        const open = s.ballast.monitors.status(MONITOR).variants[0]!;
        assert.equal(open.openWindowRows, 250);
        assert.ok(open.openWindowRows < SPEC.minSamples, "no replica alone has enough rows");
      }
      // Shares saved inside the window: whoever evaluates sees every row, even if a replica's
      // heartbeat looks old once the clock jumps.
      for (const s of servers) await s.ballast.sharedWindows!.save();
      assert.equal((await a.ballast.monitorStore.shares(MONITOR)).length, 3);
      // One replica (not the evaluator) stops before the hour is over: no heartbeat any more, its
      // share stays as last saved and is merged as such.
      const gone = servers.filter((s) => s !== evaluator).pop() as TestServer;
      servers.splice(servers.indexOf(gone), 1);
      await gone.close();
      const live = new Set((await a.ballast.replica.heartbeat.list()).map((r) => r.id));
      assert.equal(live.has(gone.ballast.replica.id), false);

      clock.t = Date.parse("2026-11-25T13:00:05Z");
      for (const s of servers) {
        await s.ballast.replica.heartbeat.beat();
        s.ballast.monitors.tick(clock.now());
        await s.ballast.sharedWindows!.save();
      }
      const ran = await Promise.all(servers.map((s) => s.ballast.sharedWindows!.evaluate()));
      assert.deepEqual(
        ran,
        servers.map((s) => s === evaluator),
        "only the lease holder evaluates",
      );
      await evaluator.ballast.sharedWindows!.evaluate(); // again: nothing more to do
      // The dead replica's share is deleted once its windows are evaluated; the live ones stay.
      assert.deepEqual(
        (await a.ballast.monitorStore.shares(MONITOR)).map((s) => s.replica).sort(),
        servers.map((s) => s.ballast.replica.id).sort(),
      );
      for (const s of servers) await s.ballast.monitors.settled();

      const windows = await waitFor(
        "the merged window's record",
        async () => {
          const w = await a.ballast.monitorStore.windows(MONITOR, 10);
          return w.length > 0 ? w : undefined;
        },
        { timeoutMs: FEED_TIMEOUT_MS },
      );
      assert.equal(windows.value.length, 1, "one evaluation of the window");
      const [window] = windows.value;
      assert.equal(window!.rows, 750);
      assert.equal(window!.start, Date.parse("2026-11-25T12:00:00Z"));
      assert.equal(window!.end, Date.parse("2026-11-25T13:00:00Z"));
      assert.ok(window!.drift !== null, "judged: the merged window has minSamples rows");
      assert.equal(window!.drift.features.find((f) => f.feature === "amount")?.drifted, true);

      // The statistic one process computes from the same rows.
      const whole = new WindowSketch(validateProfile(profile), { role: "input" });
      for (const row of rows) whole.updateRow(row);
      const one = evaluateDrift(validateProfile(profile), whole, {
        features: ["amount", "hour"],
        tests: { amount: "psi", hour: "psi" },
      });
      assert.deepEqual(
        window!.drift.features.map((f) => [f.feature, f.score]),
        one.features.map((f) => [f.feature, f.score]),
      );

      // The alert fired on the evaluator only.
      for (const s of servers) {
        const alerts = s.ballast.monitors.status(MONITOR).alerts;
        if (s === evaluator)
          assert.ok(
            alerts.some((x) => x.phase === "firing"),
            JSON.stringify(alerts),
          );
        else assert.deepEqual(alerts, []);
      }
      const stats = evaluator.ballast.sharedWindows!.evaluator.stats();
      assert.deepEqual([stats.evaluated, stats.lateShares, stats.errors], [1, 0, 0]);

      // A performance monitor reads the shared log: it is evaluated by the lease holder only.
      const perf = await a.app.inject({
        method: "PUT",
        url: "/api/v1/monitors/accuracy",
        payload: {
          type: "performance",
          deployment: "fraud",
          metric: "accuracy",
          condition: { below: 0.8 },
          window: { bucket: "1h", buckets: 2 },
          evaluateEvery: "1m",
        },
      });
      assert.equal(perf.statusCode, 200, perf.body);
      for (const s of servers)
        await waitFor(
          `${s.ballast.replica.id} to run the performance monitor`,
          () => s.ballast.monitors.specs().length === 2,
          {
            timeoutMs: FEED_TIMEOUT_MS,
          },
        );
      clock.advance(60_000);
      for (const s of servers) {
        s.ballast.monitors.tick(clock.now());
        await s.ballast.monitors.settled();
      }
      const performanceHolder = holders(LEASE.performance)[0] as TestServer;
      assert.deepEqual(
        servers.map((s) => (s.ballast.monitors.statusOf("accuracy") as { evaluations: number }).evaluations),
        servers.map((s) => (s === performanceHolder ? 1 : 0)),
      );

      // Deleted through one replica: gone from the other too.
      const [first, second] = servers as [TestServer, TestServer];
      const deleted = await second.app.inject({ method: "DELETE", url: `/api/v1/monitors/${MONITOR}` });
      assert.equal(deleted.statusCode, 200, deleted.body);
      for (const s of [first]) {
        await waitFor(
          `${s.ballast.replica.id} to stop the monitor`,
          () => s.ballast.monitors.specs().every((x) => x.name !== MONITOR),
          {
            timeoutMs: FEED_TIMEOUT_MS,
          },
        );
      }
    } finally {
      for (const s of servers.reverse()) await s.close();
      await database.cleanup();
    }
  },
);

test(
  "at start on PostgreSQL, artifacts only this data dir had are copied into the database",
  { skip: postgres.skip },
  async () => {
    const database = await postgres.open();
    await database.store.close();
    const url = database.url as string;
    const dirs = await mkdtemp(join(tmpdir(), "ballast-share-local-"));
    try {
      // Stored before the database kept copies: in the data dir only.
      const old = await new ArtifactStore(join(dirs, "a")).putBytes(new TextEncoder().encode("an old model"));
      const a = await openBallast({
        dataDir: join(dirs, "a"),
        storeUrl: url,
        defaultMetrics: false,
        rolloutTicker: false,
      });
      await a.close();
      // Another replica, with a data dir of its own, gets the bytes from the database.
      const b = await openBallast({
        dataDir: join(dirs, "b"),
        storeUrl: url,
        defaultMetrics: false,
        rolloutTicker: false,
      });
      try {
        assert.equal(await b.artifacts.exists(old.sha256, "local"), false);
        const path = await b.artifacts.ensureLocal(old.sha256);
        assert.equal(await (await import("node:fs/promises")).readFile(path, "utf8"), "an old model");
      } finally {
        await b.close();
      }
    } finally {
      await rm(dirs, { recursive: true, force: true });
      await database.cleanup();
    }
  },
);
