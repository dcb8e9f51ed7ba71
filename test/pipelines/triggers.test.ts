/**
 * Pipeline triggers: the typed parse (errors name the field), the pure start-or-coalesce
 * decision, and the service on a manual clock with a fake RunStarter: schedules from croner's
 * next run, file arrivals remembered across a restart, KPIs that fire on entering a breach, the
 * cooldown, and a firing drift alert published through a real AlertService.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlertService } from "../../src/alerts/alerting.js";
import { alertRule } from "../../src/alerts/lifecycle.js";
import { EventLog } from "../../src/events/event-log.js";
import { openStore, type Store } from "../../src/store/db.js";
import type { RunStarter } from "../../src/pipelines/run-starter.js";
import { alertFiring, alertMatches, decide, scheduleDue } from "../../src/pipelines/triggers/decide.js";
import { readingOf, type KpiAnswer, type KpiSource } from "../../src/pipelines/triggers/kpi-source.js";
import {
  parseTriggers,
  type AlertTrigger,
  type KpiTrigger,
} from "../../src/pipelines/triggers/trigger-spec.js";
import { TriggerService, type PipelineTriggers } from "../../src/pipelines/triggers/trigger-service.js";
import { TriggerStore } from "../../src/pipelines/triggers/trigger-store.js";
import { pipelineTriggersFrom } from "../../src/application/pipeline-triggers.js";
import { ManualClock } from "../helpers/app.js";
import { describeStores } from "../helpers/stores.js";

const HOUR = 3_600_000;

describe("trigger spec", () => {
  test("each kind parses into its typed form", () => {
    const triggers = parseTriggers(
      [
        { alert: { monitor: "fraud-drift", severity: "critical", deployment: "fraud" } },
        { alert: { router: "vol", alertname: "RegimeChanged" } },
        { kpi: { deployment: "recsys", metric: "ctr", below: 0.05, window: "1h", minLabels: 200 } },
        { schedule: { cron: "0 3 * * *", timezone: "Europe/Paris" } },
        { files: { path: "incoming/*.csv" } },
        "manual",
      ],
      "triggers",
    );
    assert.deepEqual(triggers, [
      { kind: "alert", monitor: "fraud-drift", severity: "critical", deployment: "fraud" },
      { kind: "alert", router: "vol", alertname: "RegimeChanged" },
      {
        kind: "kpi",
        deployment: "recsys",
        metric: "event_rate",
        event: "click",
        bound: { below: 0.05 },
        windowMs: HOUR,
        minLabels: 200,
      },
      { kind: "schedule", cron: "0 3 * * *", timezone: "Europe/Paris" },
      { kind: "files", path: "incoming/*.csv" },
      { kind: "manual" },
    ]);
  });

  const refused: Array<[string, unknown, string]> = [
    ["bad cron", [{ schedule: { cron: "0 99 * * *" } }], "triggers[0].schedule.cron"],
    [
      "bad zone",
      [{ schedule: { cron: "0 3 * * *", timezone: "Mars/Olympus" } }],
      "triggers[0].schedule.timezone",
    ],
    ["escape", ["manual", { files: { path: "../etc/*.csv" } }], "triggers[1].files.path"],
    ["absolute", [{ files: { path: "/etc/passwd" } }], "triggers[0].files.path"],
    [
      "both bounds",
      [{ kpi: { deployment: "d", metric: "f1", below: 1, above: 2, window: "1h" } }],
      "triggers[0].kpi",
    ],
    [
      "unknown metric",
      [{ kpi: { deployment: "d", metric: "vibes", below: 1, window: "1h" } }],
      "triggers[0].kpi.metric",
    ],
    ["unknown field", [{ alert: { monitr: "x" } }], "triggers[0].alert.monitr"],
    ["a monitor and a router", [{ alert: { monitor: "m", router: "vol" } }], "triggers[0].alert"],
    [
      "a router's alert with a deployment",
      [{ alert: { router: "vol", deployment: "d" } }],
      "triggers[0].alert.deployment",
    ],
    [
      "an alertname without a router",
      [{ alert: { alertname: "RegimeChanged" } }],
      "triggers[0].alert.alertname",
    ],
    [
      "an alertname no router publishes",
      [{ alert: { router: "vol", alertname: "RegimeChange" } }],
      "triggers[0].alert.alertname",
    ],
    ["unknown kind", [{ webhook: {} }], "triggers[0].webhook"],
    ["two kinds", [{ alert: {}, manual: {} }], "triggers[0]"],
  ];
  for (const [what, raw, field] of refused) {
    test(`refuses ${what}, naming ${field}`, () => {
      assert.throws(
        () => parseTriggers(raw, "triggers"),
        (e: Error & { details?: { field?: string } }) => e.details?.field === field,
      );
    });
  }
});

describe("start or coalesce", () => {
  const firing = { kind: "alert" as const, reason: "alert x firing", details: {} };
  test("a run going on takes the trigger in", () => {
    const d = decide(firing, { cooldownMs: 0, lastRunStart: null, runActive: true, now: 0 });
    assert.equal(d.action, "coalesce");
    assert.match(d.reason, /a run is already active; alert x firing/);
  });
  test("within the cooldown: coalesced, and says how long ago", () => {
    const d = decide(firing, { cooldownMs: HOUR, lastRunStart: 0, runActive: false, now: 20 * 60_000 });
    assert.equal(d.action, "coalesce");
    assert.match(d.reason, /started 20m ago, within the cooldown of 1h/);
  });
  test("past the cooldown, or by hand: started", () => {
    assert.equal(
      decide(firing, { cooldownMs: HOUR, lastRunStart: 0, runActive: false, now: HOUR }).action,
      "start",
    );
    const manual = { kind: "manual" as const, reason: "by hand", details: {} };
    assert.equal(
      decide(manual, { cooldownMs: HOUR, lastRunStart: 0, runActive: false, now: 1 }).action,
      "start",
    );
  });
  test("a schedule's occurrences between two evaluations", () => {
    // Every 15 minutes from 00:00: (00:00, 01:00] holds 00:15, 00:30, 00:45 and 01:00.
    const next = (from: number) => (Math.floor(from / 900_000) + 1) * 900_000;
    assert.deepEqual(scheduleDue(next, 0, HOUR), { due: 4, first: 900_000, last: HOUR });
  });
  test("a KPI over its window is the label-weighted mean of the buckets in it", () => {
    // Buckets [0,1h) 0.1 on 100 labels and [1h,2h) 0.04 on 300; at 2h with a 1h window only the
    // second counts; with 2h both: (0.1*100 + 0.04*300) / 400 = 0.055.
    const buckets = [
      { start: 0, end: HOUR, labelled: 100, value: 0.1 },
      { start: HOUR, end: 2 * HOUR, labelled: 300, value: 0.04 },
    ];
    assert.deepEqual(readingOf("m", [{ buckets }], HOUR, 2 * HOUR), {
      monitor: "m",
      value: 0.04,
      labelled: 300,
      buckets: 1,
    });
    const both = readingOf("m", [{ buckets }], 2 * HOUR, 2 * HOUR);
    assert.ok(Math.abs((both.value as number) - 0.055) < 1e-12);
  });
});

class FakeStarter implements RunStarter {
  readonly starts: Array<{
    pipeline: string;
    params?: Record<string, string>;
    trigger: { kind: string; reason: string };
  }> = [];
  refuse: string | null = null;
  async start(
    pipeline: string,
    request: { params?: Record<string, string>; trigger: { kind: string; reason: string } },
  ): Promise<{ started: true; runId: string } | { started: false; reason: string }> {
    if (this.refuse !== null) return { started: false, reason: this.refuse };
    this.starts.push({ pipeline, ...request });
    return { started: true, runId: `run-${this.starts.length}` };
  }
}

describe("trigger service", () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-triggers-"));
    store = await openStore({ dataDir: join(dir, "data") });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function service(
    pipelines: PipelineTriggers[],
    extra: {
      clock: ManualClock;
      starter: FakeStarter;
      kpis?: KpiSource;
      alerts?: AlertService;
      root?: string;
    },
  ) {
    return new TriggerService({
      starter: extra.starter,
      pipelines: async () => pipelines,
      alerts: extra.alerts ?? new AlertService(),
      kpis: extra.kpis ?? { read: () => ({ problem: "none" }) },
      store: new TriggerStore(store.db),
      events: new EventLog(store.db, extra.clock),
      clock: extra.clock,
      filesRoot: extra.root ?? dir,
    });
  }

  test("a schedule fires at its occurrences on the injected clock, once after a gap, never again after a restart", async () => {
    const clock = new ManualClock(Date.parse("2026-11-25T12:00:00Z"));
    const starter = new FakeStarter();
    const p = {
      pipeline: "nightly",
      cooldownMs: 0,
      triggers: parseTriggers([{ schedule: { cron: "0 3 * * *" } }], "t"),
    };
    const s = service([p], { clock, starter });
    await s.start();
    await s.tick(); // first sight: counts from now
    clock.t = Date.parse("2026-11-26T02:59:59Z");
    await s.tick();
    assert.equal(starter.starts.length, 0);
    clock.t = Date.parse("2026-11-26T03:00:00Z");
    await s.tick();
    assert.equal(starter.starts.length, 1);
    assert.equal(
      starter.starts[0]?.trigger.reason,
      'schedule "0 3 * * *" (UTC) due at 2026-11-26T03:00:00.000Z',
    );
    await s.tick();
    assert.equal(starter.starts.length, 1);
    // Down for three nights: one run on return, naming the missed ones.
    clock.t = Date.parse("2026-11-29T04:00:00Z");
    const restarted = service([p], { clock, starter });
    await restarted.start();
    await restarted.tick();
    assert.equal(starter.starts.length, 2);
    assert.match(
      starter.starts[1]?.trigger.reason ?? "",
      /due at 2026-11-29T03:00:00.000Z \(2 earlier occurrences missed/,
    );
    await restarted.tick();
    assert.equal(starter.starts.length, 2);
    await s.close();
    await restarted.close();
  });

  test("files: what is there at first is no arrival; a new or changed file is, once; a link out of the root is not", async () => {
    const root = join(dir, "files-root");
    await mkdir(join(root, "incoming"), { recursive: true });
    await writeFile(join(root, "incoming", "old.csv"), "a\n1\n");
    const clock = new ManualClock();
    const starter = new FakeStarter();
    const p = {
      pipeline: "arrivals",
      cooldownMs: 0,
      triggers: parseTriggers([{ files: { path: "incoming/*.csv" } }], "t"),
    };
    const s = service([p], { clock, starter, root });
    await s.start();
    await s.tick();
    assert.equal(starter.starts.length, 0);
    await writeFile(join(root, "incoming", "new.csv"), "a\n1\n2\n");
    await writeFile(join(root, "incoming", "notes.txt"), "x");
    await writeFile(join(dir, "outside.csv"), "secret");
    await symlink(join(dir, "outside.csv"), join(root, "incoming", "escape.csv"));
    await s.tick();
    assert.equal(starter.starts.length, 1);
    assert.equal(
      starter.starts[0]?.trigger.reason,
      "1 new file matching incoming/*.csv: incoming/new.csv (6 bytes)",
    );
    await s.tick();
    assert.equal(starter.starts.length, 1);
    // A restart remembers what was seen.
    const restarted = service([p], { clock, starter, root });
    await restarted.tick();
    assert.equal(starter.starts.length, 1);
    await writeFile(join(root, "incoming", "old.csv"), "a\n1\n2\n3\n");
    await restarted.tick();
    assert.equal(starter.starts.length, 2);
    assert.match(starter.starts[1]?.trigger.reason ?? "", /incoming\/old\.csv/);
    await s.close();
    await restarted.close();
  });

  test("a KPI fires when it enters the breach, not while it stays, again after it recovered; too few labels hold", async () => {
    const clock = new ManualClock();
    const starter = new FakeStarter();
    let answer: KpiAnswer = { monitor: "ctr", value: 0.08, labelled: 500, buckets: 1 };
    const kpis: KpiSource = { read: () => answer };
    const p = {
      pipeline: "recsys-retrain",
      cooldownMs: 0,
      triggers: parseTriggers(
        [{ kpi: { deployment: "recsys", metric: "ctr", below: 0.05, window: "1h", minLabels: 100 } }],
        "t",
      ),
    };
    const trigger = p.triggers[0] as KpiTrigger;
    assert.equal(trigger.event, "click");
    const s = service([p], { clock, starter, kpis });
    await s.start();
    await s.tick();
    answer = { monitor: "ctr", value: 0.031, labelled: 480, buckets: 1 };
    await s.tick();
    await s.tick();
    assert.equal(starter.starts.length, 1);
    assert.equal(
      starter.starts[0]?.trigger.reason,
      "KPI event_rate of click on deployment recsys is 0.031, below 0.05 over the last 1h (480 labelled rows, monitor ctr)",
    );
    answer = { monitor: "ctr", value: 0.09, labelled: 20, buckets: 1 }; // too few labels: still breached
    await s.tick();
    answer = { monitor: "ctr", value: 0.03, labelled: 400, buckets: 1 };
    await s.tick();
    assert.equal(starter.starts.length, 1);
    answer = { monitor: "ctr", value: 0.07, labelled: 400, buckets: 1 };
    await s.tick();
    answer = { monitor: "ctr", value: 0.02, labelled: 400, buckets: 1 };
    await s.tick();
    assert.equal(starter.starts.length, 2);
    await s.close();
  });

  test("a KPI without a monitor to read says so once in the event log", async () => {
    const clock = new ManualClock();
    const starter = new FakeStarter();
    const p = {
      pipeline: "no-monitor",
      cooldownMs: 0,
      triggers: parseTriggers([{ kpi: { deployment: "d", metric: "f1", below: 0.5, window: "1h" } }], "t"),
    };
    const s = service([p], {
      clock,
      starter,
      kpis: { read: () => ({ problem: "no performance monitor of deployment d measures f1" }) },
    });
    await s.tick();
    await s.tick();
    const events = await new EventLog(store.db, clock).list({ name: "no-monitor" });
    assert.deepEqual(
      events.map((e) => [e.reason, e.type, e.message]),
      [
        [
          "TriggerFailed",
          "Warning",
          "kpi trigger cannot be evaluated: no performance monitor of deployment d measures f1",
        ],
      ],
    );
  });

  test("a firing drift alert through the real alerting service starts a run with why; the cooldown coalesces the next", async () => {
    const clock = new ManualClock();
    const starter = new FakeStarter();
    const alerts = new AlertService();
    const p = {
      pipeline: "fraud-retrain",
      cooldownMs: HOUR,
      triggers: parseTriggers(
        [{ alert: { monitor: "fraud-drift", severity: "critical", deployment: "fraud" } }],
        "t",
      ),
    };
    const s = service([p], { clock, starter, alerts });
    await s.start();
    const publish = (monitor: string, severity: string, identity: string, breached: boolean) =>
      alerts.publish({
        source: { kind: "drift", name: monitor },
        severity,
        labels: { alertname: "BallastDatasetDrift", deployment: "fraud", monitor, id: identity },
        annotations: { summary: "share of drifted features 0.42" },
        at: clock.now(),
        condition: {
          breached,
          value: 0.42,
          threshold: 0.3,
          rule: alertRule({ forMs: 0, clearAfter: 1, cooldownMs: 0 }),
        },
        notifiers: [],
      });
    publish("other-monitor", "critical", "a", true);
    publish("fraud-drift", "warning", "b", true);
    await s.settled();
    assert.equal(starter.starts.length, 0);
    publish("fraud-drift", "critical", "c", true);
    publish("fraud-drift", "critical", "c", true); // still firing: not a new firing
    await s.settled();
    assert.equal(starter.starts.length, 1);
    assert.equal(starter.starts[0]?.trigger.kind, "alert");
    assert.equal(
      starter.starts[0]?.trigger.reason,
      "alert fraud-drift firing (critical) on deployment fraud: share of drifted features 0.42 (score 0.42, threshold 0.3)",
    );
    // Resolved and firing again 20 minutes later: within the 1h cooldown.
    publish("fraud-drift", "critical", "c", false);
    clock.advance(20 * 60_000);
    publish("fraud-drift", "critical", "c", true);
    await s.settled();
    assert.equal(starter.starts.length, 1);
    const events = await new EventLog(store.db, clock).list({ name: "fraud-retrain" });
    assert.deepEqual(
      events.map((e) => e.reason),
      ["TriggerFired", "TriggerCoalesced"],
    );
    assert.equal(events[0]?.message, `run run-1 started: ${starter.starts[0]?.trigger.reason}`);
    assert.match(
      events[1]?.message ?? "",
      /^coalesced: the last run started 20m ago, within the cooldown of 1h; alert fraud-drift/,
    );
    // A refusal by the orchestrator is recorded as coalesced with its reason.
    clock.advance(2 * HOUR);
    starter.refuse = "a run of fraud-retrain is already running";
    const manual = await s.manual("fraud-retrain", { params: { window: "3d" }, by: "ana" });
    assert.deepEqual(manual, {
      action: "coalesced",
      reason: "coalesced: a run of fraud-retrain is already running; started by hand by ana with window=3d",
    });
    starter.refuse = null;
    const again = await s.manual("fraud-retrain", { params: { window: "3d" } });
    assert.equal(again.action, "started");
    assert.deepEqual(starter.starts[1]?.params, { window: "3d" });
    await s.close();
    alerts.close();
  });
});

describe("pipelines' triggers from the declared resources", () => {
  test("each Pipeline's triggers and cooldown; other kinds and Pipelines without triggers left out", async () => {
    const resource = (kind: string, name: string, spec: Record<string, unknown>) => ({
      manifest: { apiVersion: "ballast/v1", kind, metadata: { name }, spec },
      generation: 1,
      source: { via: "cli" as const },
      appliedAt: 0,
    });
    const read = pipelineTriggersFrom({
      list: async () =>
        [
          resource("Notifier", "hook", { kind: "webhook", url: "http://127.0.0.1:9" }),
          resource("Pipeline", "fraud-retrain", {
            cooldown: "1h",
            steps: [],
            triggers: [{ alert: { monitor: "fraud-drift" } }, "manual"],
          }),
          resource("Pipeline", "by-hand-only", { steps: [] }),
        ] as never,
    });
    assert.deepEqual(await read(), [
      {
        pipeline: "fraud-retrain",
        cooldownMs: HOUR,
        triggers: [{ kind: "alert", monitor: "fraud-drift" }, { kind: "manual" }],
      },
    ]);
  });
});

describeStores("trigger memory", (c) => {
  test("states merge, the last start is the newest of a pipeline's triggers, seen files are replaced", async () => {
    const opened = await c.open();
    try {
      const store = new TriggerStore(opened.store.db);
      const a = { pipeline: "p", trigger: '{"kind":"manual"}', kind: "manual" };
      const b = {
        pipeline: "p",
        trigger: '{"cron":"0 3 * * *","kind":"schedule","timezone":"UTC"}',
        kind: "schedule",
      };
      assert.equal(await store.get(a), null);
      assert.equal(await store.lastStarted("p"), null);
      await store.update(a, { lastFiredAt: 5, lastStartedAt: 5, lastRunId: "r1" });
      await store.update(b, { evaluatedAt: 9, state: { breached: true } });
      await store.update(b, { lastStartedAt: 7 });
      assert.deepEqual(await store.get(b), {
        lastFiredAt: null,
        lastStartedAt: 7,
        lastRunId: null,
        evaluatedAt: 9,
        state: { breached: true },
      });
      assert.equal(await store.lastStarted("p"), 7);
      const files = Array.from({ length: 1201 }, (_, i) => ({
        name: `in/${i}.csv`,
        size: i,
        mtimeMs: 1_700_000_000_000 + i,
      }));
      await store.replaceSeenFiles(b, files);
      assert.equal((await store.seenFiles(b)).length, 1201);
      await store.replaceSeenFiles(b, files.slice(0, 2));
      assert.deepEqual(
        (await store.seenFiles(b)).sort((x, y) => x.size - y.size),
        files.slice(0, 2),
      );
    } finally {
      await opened.cleanup();
    }
  });
});

describe("alert triggers naming a router", () => {
  const transition = (
    source: { kind: "router" | "drift"; name: string },
    alertname: string,
    type: "fired" | "repeated" = "fired",
  ) => ({
    type,
    source,
    identity: "i",
    notification: {
      status: "firing" as const,
      identity: "i",
      labels: { alertname, router: source.name, severity: "info" },
      annotations: { summary: "spx turned turbulent (from calm)" },
      startsAt: 1,
    },
  });
  const [regimeChanged, anyOfVol, monitors] = parseTriggers(
    [{ alert: { router: "vol", alertname: "RegimeChanged" } }, { alert: { router: "vol" } }, { alert: {} }],
    "t",
  ) as AlertTrigger[];

  test("hear that router's alerts only, of the kind named; monitor triggers do not hear routers", () => {
    const changed = transition({ kind: "router", name: "vol" }, "RegimeChanged");
    const champion = transition({ kind: "router", name: "vol" }, "RegimeChampionChanged");
    const otherRouter = transition({ kind: "router", name: "rates" }, "RegimeChanged");
    const drift = transition({ kind: "drift", name: "vol" }, "RegimeChanged");
    assert.deepEqual(
      [changed, champion, otherRouter, drift].map((t) => alertMatches(regimeChanged!, t)),
      [true, false, false, false],
    );
    assert.deepEqual(
      [changed, champion, otherRouter, drift].map((t) => alertMatches(anyOfVol!, t)),
      [true, true, false, false],
    );
    assert.deepEqual(
      [changed, drift].map((t) => alertMatches(monitors!, t)),
      [false, true],
    );
  });

  test("the reason names the alert and the router", () => {
    assert.equal(
      alertFiring(transition({ kind: "router", name: "vol" }, "RegimeChanged")).reason,
      "alert RegimeChanged of router vol firing (info): spx turned turbulent (from calm)",
    );
  });
});
