// The Router resource (kind: Router) end to end, in-process: specialists are builtin volatility
// models deployed on their own; the router answers at /v2/models/{router}/infer through them.
// Expected numbers come from the specialists' own answers and a 2-state Hamilton filter written
// here independently of regime-classifier.ts.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { ballastAsync } from "../helpers/cli.js";
import {
  apply,
  BASE,
  CALM,
  CLASSIFIER,
  deploy,
  deploySpecialists,
  FAILING_SPECIALIST,
  infer,
  MIXED,
  registerClassifier,
  router,
  SPECIALISTS,
  TURBULENT,
  W,
} from "../helpers/router-fixtures.js";

/** P(regime | window) by Hamilton's filter from the stationary distribution. */
function filtered(returns: number[]): number[] {
  const [[p00, p01], [p10, p11]] = CLASSIFIER.regimes.transition as [[number, number], [number, number]];
  // stationary: pi0 = p10 / (p01 + p10)
  let f = [p10 / (p01 + p10), p01 / (p01 + p10)];
  for (const r of returns) {
    const y = r * 100;
    const dens = CLASSIFIER.regimes.variances.map(
      (v) => Math.exp((-0.5 * y * y) / v) / Math.sqrt(2 * Math.PI * v),
    );
    const pred = [f[0]! * p00 + f[1]! * p10, f[0]! * p01 + f[1]! * p11];
    const joint = [pred[0]! * dens[0]!, pred[1]! * dens[1]!];
    const t = joint[0]! + joint[1]!;
    f = [joint[0]! / t, joint[1]! / t];
  }
  return f;
}

async function own(s: TestServer, deployment: string, rows: number[][]): Promise<number[]> {
  const res = await infer(s, deployment, rows);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().outputs[0].data as number[];
}

/**
 * Rounds of router `name` with its forecast origins given by the client: round t asks it at
 * origin t with `rows`, then bar t + 1 of `instrument` brings the return `outcome(t)` (bar 0, with
 * no return, comes before the first outcome). Rounds `first` (0 unless given) to `first + count`.
 * `each(t, answer)`: after round t's outcome.
 */
async function feedRounds(
  s: TestServer,
  rounds: {
    router: string;
    instrument: string;
    rows: number[][];
    first?: number;
    count: number;
    outcome: (t: number) => number;
  },
  each: (t: number, answer: { parameters: Record<string, unknown> }) => Promise<void> | void = () => {},
): Promise<void> {
  const { router: name, instrument, rows, first = 0, count, outcome } = rounds;
  for (let t = first; t < first + count; t++) {
    const res = await infer(s, name, rows, { origin: t });
    assert.equal(res.statusCode, 200, res.body);
    if (t === 0) await s.ballast.routers.observeBars(instrument, [{ time: 0, return: null }]);
    await s.ballast.routers.observeBars(instrument, [{ time: t + 1, return: outcome(t) }]);
    await each(t, res.json());
  }
}

describe("Router: a regime router answering over OIP v2 through its specialists' deployments", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ deploy: false });
    await deploySpecialists(s);
    await deploy(s, "broken", FAILING_SPECIALIST);
    await registerClassifier(s);
    const res = await apply(
      s,
      router("vol", { ...BASE, mode: "hard" }),
      router("soft", { ...BASE, mode: "soft" }),
      // Specialists in percent: the request carries 100 x the raw returns the classifier reads.
      router("percent", { ...BASE, mode: "hard", scale: 100 }),
      router("fragile", {
        ...BASE,
        specialists: [...SPECIALISTS, { name: "broken", deployment: "broken" }],
        weights: { calm: { weights: { ewma: 0.5, broken: 0.5 } }, turbulent: { route: "broken" } },
      }),
    );
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => s.close());

  test("hard routing answers with the calm regime's route and the turbulent regime's weights, exactly", async () => {
    const rows = [CALM, TURBULENT];
    const ewma = await own(s, "ewma", rows);
    const last = await own(s, "last", rows);
    const res = await infer(s, "vol", rows);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    const [variance, regime, probability] = body.outputs;
    assert.deepEqual(regime.data, [0, 1]);
    assert.equal(regime.datatype, "INT64");
    assert.ok(Math.abs(probability.data[0] - filtered(CALM)[0]!) < 1e-12);
    assert.ok(Math.abs(probability.data[1] - filtered(TURBULENT)[1]!) < 1e-12);
    assert.equal(variance.data[0], ewma[0]);
    assert.ok(Math.abs(variance.data[1] - (0.25 * ewma[1]! + 0.75 * last[1]!)) < 1e-15 * last[1]!);
    assert.deepEqual(body.parameters.regime, ["calm", "turbulent"]);
    assert.deepEqual(body.parameters.weights, [{ ewma: 1 }, { ewma: 0.25, last: 0.75 }]);
    assert.deepEqual(body.parameters.answered, ["ewma", "last"]);
    assert.deepEqual(body.parameters.dropped, {});
  });

  test("with scale 100 the request's percent returns are read by the classifier as raw returns, not scaled twice", async () => {
    const percent = (w: number[]) => w.map((r) => 100 * r);
    const res = await infer(s, "percent", [percent(CALM), percent(TURBULENT)]);
    assert.equal(res.statusCode, 200, res.body);
    const [, regime, probability] = res.json().outputs;
    assert.deepEqual(regime.data, [0, 1]);
    assert.ok(Math.abs(probability.data[0] - filtered(CALM)[0]!) < 1e-12);
    assert.ok(Math.abs(probability.data[1] - filtered(TURBULENT)[1]!) < 1e-12);
  });

  test("soft routing mixes the regimes' weights by the filtered probabilities", async () => {
    const rows = [MIXED];
    const ewma = (await own(s, "ewma", rows))[0]!;
    const last = (await own(s, "last", rows))[0]!;
    const [pCalm, pTurb] = filtered(MIXED) as [number, number];
    assert.ok(pCalm > 0.01 && pTurb > 0.01, `the window should be uncertain: ${pCalm}`);
    const wEwma = pCalm * 1 + pTurb * 0.25;
    const wLast = pTurb * 0.75;
    const res = await infer(s, "soft", rows);
    assert.equal(res.statusCode, 200, res.body);
    const got = res.json().outputs[0].data[0] as number;
    assert.ok(Math.abs(got - (wEwma * ewma + wLast * last)) < 1e-12 * got, `${got}`);
    const w = res.json().parameters.weights[0];
    assert.ok(Math.abs(w.ewma - wEwma) < 1e-12 && Math.abs(w.last - wLast) < 1e-12);
  });

  test("a failing specialist is renormalised away and the answer says so; all failing is a 503", async () => {
    const ewma = (await own(s, "ewma", [CALM]))[0]!;
    const res = await infer(s, "fragile", [CALM]);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.outputs[0].data[0], ewma);
    assert.deepEqual(body.parameters.weights, [{ ewma: 1 }]);
    assert.match(body.parameters.dropped.broken, /^error: /);
    assert.deepEqual(body.parameters.answered, ["ewma", "last"]);

    const down = await infer(s, "fragile", [TURBULENT]);
    assert.equal(down.statusCode, 503, down.body);
    assert.match(down.json().error, /no specialist with weight answered.*broken/);
    const shown = (await s.app.inject({ url: "/api/v1/routers/fragile" })).json();
    assert.equal(shown.specialists[2].failures.error, 2);
    const metrics = (await s.app.inject({ url: "/metrics" })).body;
    assert.match(
      metrics,
      /ballast_router_specialist_failures_total\{router="fragile",specialist="broken",reason="error"\} 2/,
    );
    assert.match(metrics, /ballast_router_weight\{router="vol",regime="turbulent",specialist="last"\} 0.75/);
  });

  test("a specialist slower than the deadline is dropped", async () => {
    const res0 = await apply(
      s,
      router("quick", { ...BASE, deadlineMs: 20, weights: { calm: { weights: { ewma: 1, last: 3 } } } }),
    );
    assert.equal(res0.statusCode, 200, res0.body);
    // The `last` deployment never answers (its call is held open for this test).
    const inference = s.ballast.inference as unknown as { infer: (...a: unknown[]) => Promise<unknown> };
    const real = inference.infer.bind(inference);
    inference.infer = (name: unknown, ...rest: unknown[]) =>
      name === "last" ? new Promise(() => undefined) : real(name, ...rest);
    try {
      const ewma = (await own(s, "ewma", [CALM]))[0]!;
      const res = await infer(s, "quick", [CALM]);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().outputs[0].data[0], ewma);
      assert.match(res.json().parameters.dropped.last, /^deadline: no answer within 20 ms/);
    } finally {
      inference.infer = real;
    }
  });

  test("a negative variance gets weight 0, a Warning event and an alert", async () => {
    const inference = s.ballast.inference as unknown as { infer: (...a: unknown[]) => Promise<unknown> };
    const real = inference.infer.bind(inference);
    // A remote `last` that answers nonsense (builtin specialists refuse to).
    inference.infer = (name: unknown, ...rest: unknown[]) =>
      name === "last"
        ? Promise.resolve({
            model_name: "last",
            id: "x",
            outputs: [{ name: "variance", datatype: "FP64", shape: [1, 1], data: [-0.5] }],
          })
        : real(name, ...rest);
    const heard: string[] = [];
    const unsubscribe = s.ballast.alerts.subscribe((t) => {
      heard.push(
        `${t.source.name}:${String(t.notification.labels.alertname)}:${String(t.notification.labels.specialist)}`,
      );
    });
    try {
      const ewma = (await own(s, "ewma", [TURBULENT]))[0]!;
      const res = await infer(s, "vol", [TURBULENT]);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().outputs[0].data[0], ewma);
      assert.deepEqual(res.json().parameters.weights, [{ ewma: 1 }]);
      assert.match(res.json().parameters.dropped.last, /^nonsense: variance -0.5 at row 1/);
      await s.ballast.alerts.idle();
      assert.ok(heard.includes("vol:RouterSpecialistNonsense:last"), JSON.stringify(heard));
      const events = await s.ballast.events.list({ kind: "Router", name: "vol" });
      assert.ok(events.some((e) => e.reason === "SpecialistNonsense" && e.type === "Warning"));
    } finally {
      inference.infer = real;
      unsubscribe();
    }
  });

  test("metadata and readiness of a router at /v2/models/{router}", async () => {
    const meta = await s.app.inject({ url: "/v2/models/vol" });
    assert.equal(meta.statusCode, 200, meta.body);
    assert.equal(meta.json().platform, "ballast_router");
    const ready = await s.app.inject({ url: "/v2/models/vol/ready" });
    assert.equal(ready.json().ready, true);
  });

  test("outcomes from bars move Hedge weights towards the lower loss, per regime", async () => {
    const res0 = await apply(
      s,
      router("learner", {
        ...BASE,
        weights: {},
        instrument: "sp500",
        scale: 1,
        learning: { algorithm: "hedge", rate: 0.5, loss: "qlike" },
      }),
    );
    assert.equal(res0.statusCode, 200, res0.body);
    await s.ballast.routers.observeBars("sp500", [{ time: 1, return: null }]);
    const rows = [CALM];
    const ewma = (await own(s, "ewma", rows))[0]!;
    const last = (await own(s, "last", rows))[0]!;
    const answer = await infer(s, "learner", rows);
    assert.equal(answer.statusCode, 200, answer.body);
    const regime = answer.json().parameters.regime[0] as string;
    // The next bar's return: realized variance exactly the ewma's forecast, so ewma's QLIKE is 0.
    const r = Math.sqrt(ewma);
    await s.ballast.routers.observeBars("sp500", [{ time: 2, return: r }]);
    const view = (await s.app.inject({ url: "/api/v1/routers/learner" })).json();
    const w = view.weights.live[regime];
    const q = (f: number) => ewma / f - Math.log(ewma / f) - 1;
    const lE = q(ewma);
    const lL = q(last);
    const eE = 0.5 * Math.exp(-0.5 * lE);
    const eL = 0.5 * Math.exp(-0.5 * lL);
    assert.ok(Math.abs(w.ewma - eE / (eE + eL)) < 1e-12, JSON.stringify(w));
    assert.ok(w.ewma > 0.5);
    assert.equal(view.weights.declared[regime].ewma, 0.5);
    // The learned weights are in the store: a reload (as after a restart) finds them.
    await s.ballast.routers.changed("learner");
    const again = (await s.app.inject({ url: "/api/v1/routers/learner" })).json();
    assert.deepEqual(again.weights.live[regime], w);
    const perf = (await s.app.inject({ url: "/api/v1/routers/learner/performance?by=regime" })).json();
    const rows2 = perf.regimes[regime] as Array<{ model: string; n: number; qlike: number }>;
    assert.equal(rows2.find((x) => x.model === "ewma")?.n, 1);
    assert.ok(Math.abs(rows2.find((x) => x.model === "last")!.qlike - lL) < 1e-12);
  });

  /**
   * Router `name` over `instrument` routing both regimes to `last`, with a challenger rule that
   * routes (30 rounds); and its rounds, asked at CALM. Origins are given by the client (no bars
   * seen yet): each forecast's outcome is the next bar, whose realized variance is near ewma's
   * forecast, so ewma beats `last` in calm.
   */
  async function calmContest(name: string, instrument: string) {
    const res = await apply(
      s,
      router(name, {
        ...BASE,
        weights: { calm: { route: "last" }, turbulent: { route: "last" } },
        instrument,
        scale: 1,
        challenger: { alpha: 0.05, minSamples: 30, action: "route" },
      }),
    );
    assert.equal(res.statusCode, 200, res.body);
    const ewma = (await own(s, "ewma", [CALM]))[0]!;
    return {
      router: name,
      instrument,
      rows: [CALM],
      outcome: (t: number) => Math.sqrt(ewma * (1 + 0.05 * Math.sin(t))) * 0.01,
    };
  }

  test("a challenger significantly better in one regime takes that regime only, with an event", async () => {
    const rounds = { ...(await calmContest("contest", "dax")), count: 40 };
    await feedRounds(s, rounds, (_, answer) => assert.deepEqual(answer.parameters.regime, ["calm"]));
    const view = (await s.app.inject({ url: "/api/v1/routers/contest" })).json();
    assert.deepEqual(view.weights.live.calm, { ewma: 1, last: 0 });
    assert.deepEqual(view.weights.live.turbulent, { ewma: 0, last: 1 });
    const events = await s.ballast.events.list({ kind: "Router", name: "contest" });
    const taken = events.find((e) => e.reason === "RegimeChampionChanged");
    assert.ok(taken !== undefined);
    assert.equal(taken.details.regime, "calm");
    assert.equal(taken.details.old, "last");
    assert.equal(taken.details.new, "ewma");
    assert.ok((taken.details.pValue as number) < 0.05);
  });

  test("a champion is designated: learning that lifts the old champion's weight back does not make it champion again", async () => {
    const res0 = await apply(
      s,
      router("flap", {
        ...BASE,
        weights: { calm: { route: "last" }, turbulent: { route: "last" } },
        instrument: "smi-flap",
        scale: 1,
        learning: { algorithm: "fixed-share", rate: 50, share: 0.01, loss: "qlike" },
        challenger: { alpha: 0.05, minSamples: 10, action: "weight" },
      }),
    );
    assert.equal(res0.statusCode, 200, res0.body);
    const ewma = (await own(s, "ewma", [MIXED]))[0]!;
    const last = (await own(s, "last", [MIXED]))[0]!;
    assert.ok(Math.abs(Math.log(ewma / last)) > 0.2, `the two must disagree: ${ewma} vs ${last}`);
    // ewma is right two rounds in three, last the third: ewma is better on the whole, while the
    // learned weights (a fast learning rate) hand last the lead after each of its rounds.
    const takeovers: number[] = [];
    let seen = 0;
    const rounds = {
      router: "flap",
      instrument: "smi-flap",
      rows: [MIXED],
      count: 60,
      outcome: (t: number) => Math.sqrt(t % 3 === 2 ? last : ewma),
    };
    await feedRounds(s, rounds, async (t) => {
      const events = (await s.ballast.events.list({ kind: "Router", name: "flap" })).filter(
        (e) => e.reason === "RegimeChampionChanged",
      );
      for (; seen < events.length; seen++) takeovers.push(t + 1);
    });
    // Read off the live weights, the champion would change hands every three rounds (it did).
    assert.equal(takeovers.length, 1, `takeovers at rounds ${takeovers.join(", ")}`);
    const [taken] = (await s.ballast.events.list({ kind: "Router", name: "flap" })).filter(
      (e) => e.reason === "RegimeChampionChanged",
    );
    assert.deepEqual([taken?.details.old, taken?.details.new], ["last", "ewma"]);
    const regime = taken?.details.regime as string;
    const view = (await s.app.inject({ url: "/api/v1/routers/flap" })).json();
    assert.ok(
      view.weights.live[regime].last > view.weights.live[regime].ewma,
      `the last round was last's, so learning gave it the lead: ${JSON.stringify(view.weights.live[regime])}`,
    );
    assert.equal(view.champions[regime], "ewma");
    const performance = (await s.app.inject({ url: "/api/v1/routers/flap/performance?by=regime" })).json();
    const row = (model: string) =>
      performance.regimes[regime].find((m: { model: string }) => m.model === model);
    assert.equal(row("ewma").dmVsChampion, null, "the champion is not compared with itself");
    assert.notEqual(row("last").dmVsChampion, null);
  });

  test("a corrupt saved takenAt or champions is not trusted: counted afresh or declared, with a Warning event", async () => {
    // As in the contest above: ewma takes calm from `last` once 30 rounds are in.
    const rounds = await calmContest("saved", "cac-saved");
    await feedRounds(s, { ...rounds, count: 20 });
    const db = s.ballast.store.db;
    const stored = async () => {
      const row = await db
        .selectFrom("router_states")
        .select("state")
        .where("router", "=", "saved")
        .executeTakeFirstOrThrow();
      return JSON.parse(row.state) as Record<string, unknown>;
    };
    const clean = await stored();
    assert.deepEqual(
      [clean.takenAt, clean.champions],
      [
        [0, 0],
        [1, 1],
      ],
    );
    const resets = async () =>
      (await s.ballast.events.list({ kind: "Router", name: "saved" })).filter(
        (e) => e.reason === "SavedStateReset",
      );
    /** Stores `change` over the clean state and loads the router again, as after a restart. */
    const reload = async (change: Record<string, unknown>) => {
      await db
        .updateTable("router_states")
        .set({ state: JSON.stringify({ ...clean, ...change }) })
        .where("router", "=", "saved")
        .execute();
      await s.ballast.routers.changed("saved");
      const view = await s.app.inject({ url: "/api/v1/routers/saved" });
      assert.equal(view.statusCode, 200, view.body);
      return view.json();
    };
    // Sound values are trusted: calm's champion as saved (ewma), not as declared, and no warning.
    assert.equal((await reload({ champions: [0, 1] })).champions.calm, "ewma");
    assert.equal((await resets()).length, 0);

    const takeovers = "takeovers are counted afresh from 0";
    const declared = "the declared champions stand";
    const cases: Array<[string, unknown, RegExp, string]> = [
      [
        "takenAt",
        ["later", 0],
        /takenAt\[0\] must be a whole number of rounds from 0 to 20, got "later"/,
        takeovers,
      ],
      [
        "takenAt",
        [0, null],
        /takenAt\[1\] must be a whole number of rounds from 0 to 0, got null/,
        takeovers,
      ],
      ["takenAt", [0, -1], /takenAt\[1\] must be a whole number/, takeovers],
      ["takenAt", [2.5, 0], /takenAt\[0\] must be a whole number/, takeovers],
      ["takenAt", [0], /takenAt must hold a whole number of rounds per regime \(2\), got \[0\]/, takeovers],
      ["takenAt", { calm: 0 }, /takenAt must hold a whole number of rounds per regime/, takeovers],
      ["champions", [0, 7], /champions\[1\] must be a specialist's index from 0 to 1, got 7/, declared],
      [
        "champions",
        ["ewma", 1],
        /champions\[0\] must be a specialist's index from 0 to 1, got "ewma"/,
        declared,
      ],
      ["champions", [0], /champions must hold a specialist's index per regime \(2\), got \[0\]/, declared],
      [
        "weights",
        [[1, 0]],
        /weights must hold a row per regime \(2\), got \[\[1,0\]\]/,
        "the declared weights stand",
      ],
      [
        "weights",
        [
          [0, 0],
          [1, 0],
        ],
        /weights\[0\] weighs nothing/,
        "the declared weights stand",
      ],
      [
        "weights",
        [
          [1, -1],
          [1, 0],
        ],
        /weights\[0\] must be finite weights not below 0/,
        "the declared weights stand",
      ],
      [
        "evaluation",
        { ...(clean.evaluation as object), models: ["x"] },
        /evaluation\.models must be \["router","ewma","last"\]/,
        "outcomes are counted afresh",
      ],
      ["evaluation", "gone", /evaluation must be a mapping, got "gone"/, "outcomes are counted afresh"],
      [
        "live",
        { lastBar: "yesterday", state: {} },
        /live\.lastBar must be a bar's time, got "yesterday"/,
        "the live regime starts again from the next bar",
      ],
      // A whole number, but beyond the 20 rounds seen: trusted, it would silence the challenger.
      [
        "takenAt",
        [1e9, 0],
        /takenAt\[0\] must be a whole number of rounds from 0 to 20, got 1000000000/,
        takeovers,
      ],
    ];
    for (const [field, value, message, reset] of cases) {
      const before = (await resets()).length;
      const view = await reload({ [field]: value });
      const after = await resets();
      assert.equal(after.length, before + 1, `one warning for ${field} ${JSON.stringify(value)}`);
      const warning = after.at(-1)!;
      assert.equal(warning.type, "Warning");
      assert.match(warning.message, /^saved state of router saved: /);
      assert.match(warning.message, message);
      assert.ok(warning.message.endsWith(`; ${reset}`), warning.message);
      assert.equal(warning.details.field, field);
      // [0, 7] trusted in part would make ewma calm's champion: the declared `last` stands.
      assert.deepEqual(view.champions, { calm: "last", turbulent: "last" });
    }
    // Read back again (a replica without the lease does at every bar): said once, not again.
    const said = (await resets()).length;
    await reload({ takenAt: [1e9, 0] });
    assert.equal((await resets()).length, said);
    // The rest of the saved state is kept: the 20 calm rounds are still counted.
    const perf = (await s.app.inject({ url: "/api/v1/routers/saved/performance?by=regime" })).json();
    assert.equal(perf.regimes.calm.find((x: { model: string }) => x.model === "ewma")?.n, 20);
    // Counted afresh, the challenger is judged at 30 rounds and takes calm (with 1e9 trusted, never).
    await feedRounds(s, { ...rounds, first: 20, count: 20 });
    const view = (await s.app.inject({ url: "/api/v1/routers/saved" })).json();
    assert.deepEqual(view.weights.live.calm, { ewma: 1, last: 0 });
    const taken = (await s.ballast.events.list({ kind: "Router", name: "saved" })).filter(
      (e) => e.reason === "RegimeChampionChanged",
    );
    assert.equal(taken.length, 1);
    const saved = await stored();
    const takenAt = saved.takenAt as number[];
    assert.ok(takenAt[0]! >= 30 && takenAt[0]! <= 40 && takenAt[1] === 0, JSON.stringify(takenAt));
    assert.deepEqual(saved.champions, [0, 1]);
  });

  test("the live regime follows the instrument's bars; a change is an event and an alert", async () => {
    const res0 = await apply(s, router("watch", { ...BASE, instrument: "ftse", scale: 100 }));
    assert.equal(res0.statusCode, 200, res0.body);
    const heard: Array<{ source: string; labels: Record<string, string> }> = [];
    const unsubscribe = s.ballast.alerts.subscribe((t) => {
      heard.push({
        source: `${t.source.kind}/${t.source.name}`,
        labels: t.notification.labels as Record<string, string>,
      });
    });
    try {
      const bars = [...CALM, ...TURBULENT].map((r, i) => ({ time: 1000 + i, return: i === 0 ? null : r }));
      await s.ballast.routers.observeBars("ftse", bars);
      // The live reading is the filter over the bars' returns: the test's own filter agrees.
      const view = (await s.app.inject({ url: "/api/v1/routers/watch" })).json();
      const expected = filtered(bars.slice(1).map((b) => b.return as number));
      assert.equal(view.live.regime, "turbulent");
      assert.ok(Math.abs(view.live.probabilities.turbulent - expected[1]!) < 1e-12);
      // Answers now use the instrument's regime, whatever the request's window says.
      const answer = await infer(s, "watch", [CALM]);
      assert.deepEqual(answer.json().parameters.regime, ["turbulent"]);
      const events = await s.ballast.events.list({ kind: "Router", name: "watch" });
      const changes = events.filter((e) => e.reason === "RegimeChanged");
      assert.ok(changes.length >= 1);
      assert.equal(changes.at(-1)?.details.to, "turbulent");
      await s.ballast.alerts.idle();
      assert.ok(
        heard.some(
          (h) =>
            h.source === "router/watch" &&
            h.labels.alertname === "RegimeChanged" &&
            h.labels.to === "turbulent",
        ),
        JSON.stringify(heard),
      );
    } finally {
      unsubscribe();
    }
  });

  test("regimeChange: a wavering filter is announced only when the new regime is sure (minProbability) for minBars bars", async () => {
    const res0 = await apply(
      s,
      router("sure", { ...BASE, instrument: "smi", scale: 100, regimeChange: { minProbability: 0.99 } }),
      router("eager", { ...BASE, instrument: "smi", scale: 100 }),
      router("steady", {
        ...BASE,
        instrument: "smi",
        scale: 100,
        regimeChange: { minProbability: 0.9, minBars: 4 },
      }),
    );
    assert.equal(res0.statusCode, 200, res0.body);
    // A three-day spike in a calm stretch: the filter turns on it and back.
    const SPIKE = [0.04, -0.045, 0.05];
    const returns = [
      ...CALM,
      ...MIXED,
      ...CALM,
      ...SPIKE,
      ...CALM,
      ...MIXED,
      ...TURBULENT,
      ...MIXED,
      ...CALM,
      ...CALM,
    ];
    const bars = returns.map((r, i) => ({ time: 5000 + i, return: i === 0 ? null : r }));
    await s.ballast.routers.observeBars("smi", bars);
    // The expected announcements, from the test's own filter: argmax flips for the default 0.5,
    // and for 0.99 only a regime other than the last announced one reached with p >= 0.99.
    const path = bars.slice(1).map((_, i) => filtered(returns.slice(1, i + 2)));
    // With minBars k, only after k bars in a row that each would have been announced.
    const announced = (min: number, k = 1) => {
      let last = path[0]![1]! > path[0]![0]! ? 1 : 0;
      let held = 0;
      const to: number[] = [];
      for (const p of path.slice(1)) {
        const now = p[1]! > p[0]! ? 1 : 0;
        held = now !== last && p[now]! >= min ? held + 1 : 0;
        if (held >= k) {
          to.push((last = now));
          held = 0;
        }
      }
      return to;
    };
    const changes = async (name: string) =>
      (await s.ballast.events.list({ kind: "Router", name }))
        .filter((e) => e.reason === "RegimeChanged")
        .map((e) => (e.details.to === "turbulent" ? 1 : 0));
    const eager = announced(0.5);
    const sure = announced(0.99);
    assert.ok(sure.length >= 1 && sure.length < eager.length, `${sure.length} vs ${eager.length}`);
    assert.deepEqual(await changes("eager"), eager);
    assert.deepEqual(await changes("sure"), sure);
    const steady = announced(0.9, 4);
    assert.ok(steady.length >= 1 && steady.length < announced(0.9).length, `${steady} vs ${announced(0.9)}`);
    assert.deepEqual(await changes("steady"), steady);
    const bad = await apply(s, router("bad", { ...BASE, regimeChange: { minProbability: 0.3 } }));
    assert.equal(bad.statusCode, 400, bad.body);
    assert.match(bad.json().error, /regimeChange\.minProbability: expected a probability in \[0\.5, 1\)/);
    const worse = await apply(s, router("bad", { ...BASE, regimeChange: { minBars: 2.5 } }));
    assert.equal(worse.statusCode, 400, worse.body);
    assert.match(worse.json().error, /regimeChange\.minBars: expected a whole number of bars from 1 to 1000/);
  });

  test("bars posted to the instrument's API reach its router: live regime and joined outcomes", async () => {
    const res0 = await apply(s, router("wired", { ...BASE, instrument: "cac", scale: 100 }));
    assert.equal(res0.statusCode, 200, res0.body);
    const returns = [...CALM, ...TURBULENT];
    let close = 100;
    const bars = [{ time: 1, close }];
    returns.forEach((r, i) => {
      close *= Math.exp(r);
      bars.push({ time: i + 2, close });
    });
    // One answer made at the last bar but one: the last bar brings its outcome.
    const head = await s.app.inject({
      method: "POST",
      url: "/api/v1/instruments/cac/bars",
      payload: { bars: bars.slice(0, -1) },
    });
    assert.equal(head.statusCode, 200, head.body);
    assert.equal((await infer(s, "wired", [CALM])).statusCode, 200);
    const tail = await s.app.inject({
      method: "POST",
      url: "/api/v1/instruments/cac/bars",
      payload: { bars: bars.slice(-1) },
    });
    assert.equal(tail.statusCode, 200, tail.body);
    const view = (await s.app.inject({ url: "/api/v1/routers/wired" })).json();
    const expected = filtered(
      bars.slice(1).map((b, i) => Math.log(b.close / (bars[i] as { close: number }).close)),
    );
    assert.equal(view.live.regime, "turbulent");
    assert.ok(Math.abs(view.live.probabilities.turbulent - expected[1]!) < 1e-9);
    const performance = (await s.app.inject({ url: "/api/v1/routers/wired/performance?by=regime" })).json();
    const all = performance.regimes.all as Array<{ model: string; n: number }>;
    assert.ok(
      all.some((row) => row.n === 1),
      JSON.stringify(all),
    );
  });

  test("ballast routers list|show|performance print tables from the server", async () => {
    const url = await s.app.listen({ port: 0, host: "127.0.0.1" });
    const run = async (...args: string[]) => {
      const r = await ballastAsync(["routers", ...args, "--server", url]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const [list, show, perf] = await Promise.all([
      run("list"),
      run("show", "vol"),
      run("performance", "learner", "--by", "regime"),
    ]);
    assert.match(list, /^NAME\s+MODE\s+INSTRUMENT\s+REGIME/m);
    assert.match(list, /^learner\s+hard\s+sp500\s+\S+\s+ewma,last\s+\d+$/m);
    assert.match(show, /^turbulent\s+last\s+0\.75\s+0\.75\s+champion$/m);
    assert.match(perf, /^REGIME\s+MODEL\s+N\s+QLIKE/m);
    assert.match(perf, /\s+ewma\s+1\s+0\s/);
    const bad = await ballastAsync(["routers", "performance", "learner", "--by", "model", "--server", url]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--by: only 'regime'/);
  });

  test("a specialist that reads fewer returns gets the last ones of each row (an LSTM of 20 beside a window of 22)", async () => {
    await deploy(s, "last20", { format: "ballast.builtin/v1", kind: "last-value", window: W - 2 });
    const res0 = await apply(
      s,
      router("trim", {
        ...BASE,
        specialists: [
          { name: "ewma", deployment: "ewma" },
          { name: "last20", deployment: "last20" },
        ],
        weights: { calm: { route: "last20" }, turbulent: { route: "last20" } },
      }),
    );
    assert.equal(res0.statusCode, 200, res0.body);
    const rows = [CALM, TURBULENT];
    const answer = await infer(s, "trim", rows);
    assert.equal(answer.statusCode, 200, answer.body);
    const body = answer.json();
    assert.deepEqual(body.parameters.dropped, {});
    // What last20 answers itself for the rows' last W - 2 returns.
    const direct = await s.app.inject({
      method: "POST",
      url: "/v2/models/last20/infer",
      payload: {
        inputs: [
          { name: "returns", datatype: "FP64", shape: [2, W - 2], data: rows.flatMap((r) => r.slice(2)) },
        ],
      },
    });
    assert.equal(direct.statusCode, 200, direct.body);
    const own20 = direct.json().outputs[0];
    const variance = body.outputs.find((o: { name: string }) => o.name === "variance");
    const horizon = variance.shape[1] as number;
    assert.deepEqual(
      variance.data,
      [0, 1].flatMap((r) => own20.data.slice(r * own20.shape[1], r * own20.shape[1] + horizon)),
    );
  });

  test("manifest errors name the field; a Router may not take a Deployment's name", async () => {
    const cases: Array<[object, RegExp]> = [
      [
        router("x", { ...BASE, specialists: [{ name: "g", deployment: "nope" }], weights: {} }),
        /specialists\[0\]\.deployment/,
      ],
      [
        router("x", { ...BASE, regimes: ["a", "b", "c"], weights: {} }),
        /regimes: the classifier has 2 regimes/,
      ],
      [router("x", { ...BASE, learning: { algorithm: "hedge", rate: -1 } }), /learning\.rate/],
      [router("x", { ...BASE, weights: { calm: { route: "zzz" } } }), /weights\.calm\.route/],
      [router("ewma", BASE), /metadata\.name.*Deployment/],
    ];
    const deployment = {
      apiVersion: "ballast/v1",
      kind: "Deployment",
      metadata: { name: "vol" },
      spec: { variants: [{ name: "stable", model: "ewma", version: 1, weight: 100 }] },
    };
    cases.push([deployment, /metadata\.name.*'vol' is a Router/]);
    for (const [manifest, expected] of cases) {
      const res = await apply(s, manifest);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
      assert.match(res.body, expected);
    }
  });
});
