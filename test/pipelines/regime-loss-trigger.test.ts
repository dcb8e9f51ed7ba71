/**
 * The `regimeLoss` trigger: its parse (errors name the field), the pure judgement on numbers
 * (the latest `recent` rounds against the `baseline` before them, per specialist and regime), and
 * the service on a manual clock with a real scoreboard behind the source: it fires when a pair
 * enters the breach, with the numbers in the reason, not while it stays, again after recovery.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlertService } from "../../src/alerts/alerting.js";
import { EventLog } from "../../src/events/event-log.js";
import { emptyScoreboard, recordRound } from "../../src/markets/regime-scoreboard.js";
import { qlike } from "../../src/markets/evaluation.js";
import { openStore, type Store } from "../../src/store/db.js";
import type { RunStarter } from "../../src/pipelines/run-starter.js";
import { judgeRegimeLoss } from "../../src/pipelines/triggers/decide.js";
import { regimeLossJudgements } from "../../src/pipelines/triggers/regime-loss-source.js";
import { parseTriggers, type RegimeLossTrigger } from "../../src/pipelines/triggers/trigger-spec.js";
import { TriggerService } from "../../src/pipelines/triggers/trigger-service.js";
import { TriggerStore } from "../../src/pipelines/triggers/trigger-store.js";
import { ManualClock } from "../helpers/app.js";

function trigger(spec: Record<string, unknown>): RegimeLossTrigger {
  return parseTriggers([{ regimeLoss: spec }], "triggers")[0] as RegimeLossTrigger;
}

describe("regimeLoss trigger spec", () => {
  test("defaults: qlike, ratio 1.2, recent 50, baseline 250, minSamples 30", () => {
    assert.deepEqual(trigger({ router: "vol", specialist: "garch", regime: "turbulent" }), {
      kind: "regimeLoss",
      router: "vol",
      specialist: "garch",
      regime: "turbulent",
      metric: "qlike",
      ratio: 1.2,
      recent: 50,
      baseline: 250,
      minSamples: 30,
    });
  });
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ["no router", { specialist: "garch" }, "triggers[0].regimeLoss.router"],
    ["ratio not above 1", { router: "v", ratio: 0.9 }, "triggers[0].regimeLoss.ratio"],
    ["unknown metric", { router: "v", metric: "mae" }, "triggers[0].regimeLoss.metric"],
    ["more rounds than kept", { router: "v", recent: 500, baseline: 600 }, "triggers[0].regimeLoss"],
    [
      "minSamples past a stretch",
      { router: "v", recent: 20, minSamples: 25 },
      "triggers[0].regimeLoss.minSamples",
    ],
    ["unknown field", { router: "v", window: 250 }, "triggers[0].regimeLoss.window"],
  ];
  for (const [what, raw, field] of refused) {
    test(`refuses ${what}, naming ${field}`, () => {
      assert.throws(
        () => parseTriggers([{ regimeLoss: raw }], "triggers"),
        (e: Error & { details?: { field?: string } }) => e.details?.field === field,
      );
    });
  }
});

describe("regimeLoss judgement", () => {
  const t = trigger({ router: "vol", ratio: 1.5, recent: 3, baseline: 4, minSamples: 3 });
  test("the latest `recent` rounds against the `baseline` before them; older rounds are left out", () => {
    // Oldest first: 9 (left out: beyond recent + baseline), then baseline 1,2,3,2 (mean 2),
    // then recent 3,3,4 (mean 10/3): ratio 5/3 >= 1.5.
    const j = judgeRegimeLoss(t, "garch", "calm", [9, 1, 2, 3, 2, 3, 3, 4]);
    assert.equal(j.nBaseline, 4);
    assert.equal(j.nRecent, 3);
    assert.equal(j.baselineLoss, 2);
    assert.ok(Math.abs((j.recentLoss as number) - 10 / 3) < 1e-12);
    assert.ok(Math.abs((j.ratio as number) - 5 / 3) < 1e-12);
    assert.equal(j.breached, true);
  });
  test("below the ratio: healthy; short of minSamples on either side: not judged", () => {
    assert.equal(judgeRegimeLoss(t, "g", "calm", [2, 2, 2, 2, 2.9, 2.9, 2.9]).breached, false);
    assert.equal(judgeRegimeLoss(t, "g", "calm", [1, 1, 9, 9, 9]).breached, null);
    assert.equal(judgeRegimeLoss(t, "g", "calm", [1, 1, 1, 9, 9]).breached, null);
  });
  test("names it lacks are a problem, not a silent pass", () => {
    const board = emptyScoreboard(["router", "garch"], ["calm", "turbulent"]);
    const evaluation = { regimes: ["calm", "turbulent"], specialists: ["garch"], board };
    assert.deepEqual(regimeLossJudgements(trigger({ router: "vol", specialist: "lstm" }), evaluation), {
      problem: "router vol has no specialist lstm (it has router, garch)",
    });
    assert.deepEqual(regimeLossJudgements(trigger({ router: "vol", regime: "storm" }), evaluation), {
      problem: "router vol has no regime storm (it has calm, turbulent)",
    });
  });
});

class FakeStarter implements RunStarter {
  readonly starts: Array<{ pipeline: string; trigger: { kind: string; reason: string } }> = [];
  async start(pipeline: string, request: { trigger: { kind: string; reason: string } }) {
    this.starts.push({ pipeline, trigger: request.trigger });
    return { started: true as const, runId: `run-${this.starts.length}` };
  }
}

describe("regimeLoss trigger service", () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-regime-loss-"));
    store = await openStore({ dataDir: join(dir, "data") });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("fires when garch's calm loss degrades (not turbulent's, not lstm's), once per breach, with the numbers", async () => {
    const clock = new ManualClock();
    const starter = new FakeStarter();
    const board = emptyScoreboard(["router", "garch", "lstm"], ["calm", "turbulent"]);
    // Realized 1 each round; the router and lstm forecast it exactly (QLIKE 0), garch as told.
    const round = (regime: number, garch: number) => recordRound(board, regime, 1, [1, garch, 1]);
    const p = {
      pipeline: "refit-garch",
      cooldownMs: 0,
      triggers: parseTriggers(
        [
          {
            regimeLoss: {
              router: "vol",
              specialist: "garch",
              ratio: 1.5,
              recent: 4,
              baseline: 8,
              minSamples: 4,
            },
          },
        ],
        "t",
      ),
    };
    const s = new TriggerService({
      starter,
      pipelines: async () => [p],
      alerts: new AlertService(),
      kpis: { read: () => ({ problem: "none" }) },
      regimeLosses: {
        read: async (router) =>
          router === "vol"
            ? { regimes: ["calm", "turbulent"], specialists: ["garch", "lstm"], board }
            : { problem: "no" },
      },
      store: new TriggerStore(store.db),
      events: new EventLog(store.db, clock),
      clock,
      filesRoot: dir,
    });
    // Baseline: garch a little off (forecast 0.8: QLIKE 1.25 - log 1.25 - 1) in both regimes.
    for (let i = 0; i < 8; i++) {
      round(0, 0.8);
      round(1, 0.8);
    }
    await s.tick(); // recent 4 / baseline 4: judged, healthy
    assert.equal(starter.starts.length, 0);
    // calm: garch forecasts 0.4 for the next 4 rounds; turbulent stays as it was.
    for (let i = 0; i < 4; i++) {
      round(0, 0.4);
      round(1, 0.8);
    }
    await s.tick();
    await s.tick();
    assert.equal(starter.starts.length, 1);
    const base = qlike(1, 0.8);
    const worse = qlike(1, 0.4);
    assert.equal(starter.starts[0]?.trigger.kind, "regimeLoss");
    assert.equal(
      starter.starts[0]?.trigger.reason,
      `regime loss degraded on router vol: garch in calm, QLIKE ${worse.toPrecision(4)} over the last 4 rounds is ${(worse / base).toFixed(2)}× its ${base.toPrecision(4)} over the 8 before (threshold 1.5×)`,
    );
    // Recovered (the bad rounds leave the recent stretch), then degraded again: fires again.
    for (let i = 0; i < 4; i++) round(0, 0.8);
    await s.tick();
    assert.equal(starter.starts.length, 1);
    for (let i = 0; i < 4; i++) round(0, 0.4);
    await s.tick();
    assert.equal(starter.starts.length, 2);
    const events = await new EventLog(store.db, clock).list({ name: "refit-garch" });
    assert.equal(events.filter((e) => e.reason === "TriggerFired").length, 2);
    await s.close();
  });
});
