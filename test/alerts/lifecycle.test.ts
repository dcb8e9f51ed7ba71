import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  alertRule,
  evaluate,
  type AlertAction,
  type AlertRule,
  type AlertState,
} from "../../src/alerts/lifecycle.js";
import { AlertBook, alertIdentity } from "../../src/alerts/alert-book.js";
import { notificationFor } from "../../src/alerts/notification.js";
import { BallastError } from "../../src/domain/errors.js";

const minute = 60_000;

/**
 * A rule without the default guards (resolve on the first clear, no cooldown, re-send every
 * minute), so each test below turns on only the guard it is about.
 */
const unguarded = (rule: Partial<AlertRule> = {}): AlertRule =>
  alertRule({ forMs: 0, clearAfter: 1, cooldownMs: 0, repeatIntervalMs: minute, ...rule });
const t0 = Date.UTC(2026, 0, 5, 10, 0, 0);

interface Step {
  at: number;
  breached: boolean;
}

interface Trace {
  state: AlertState;
  phases: string[];
  actions: Array<AlertAction & { at: number }>;
}

/** Feeds observations in order; value 0.3 when breached, 0.1 when not, against 0.2. */
function run(rule: AlertRule, steps: Step[], start?: AlertState): Trace {
  let state = start;
  const phases: string[] = [];
  const actions: Array<AlertAction & { at: number }> = [];
  for (const { at, breached } of steps) {
    const result = evaluate(state, { at, breached, value: breached ? 0.3 : 0.1, threshold: 0.2 }, rule);
    state = result.state;
    phases.push(state.phase);
    actions.push(...result.actions.map((action) => ({ ...action, at })));
  }
  assert.ok(state, "at least one step");
  return { state, phases, actions };
}

/** One observation per minute from t0: "B" breached, "." clear. */
function minutes(pattern: string): Step[] {
  return [...pattern].map((char, index) => ({ at: t0 + index * minute, breached: char === "B" }));
}

const types = (trace: Trace) => trace.actions.map((action) => `${action.type}@${(action.at - t0) / minute}`);

describe("alert lifecycle", () => {
  test("a first clear observation leaves the alert inactive and asks for nothing", () => {
    const trace = run(unguarded(), minutes("."));
    assert.equal(trace.state.phase, "inactive");
    assert.deepEqual(trace.actions, []);
  });

  test("with for = 0 a breach fires at once, starting at the observation", () => {
    const trace = run(unguarded({ forMs: 0 }), minutes("B"));
    assert.equal(trace.state.phase, "firing");
    assert.deepEqual(trace.actions, [
      { type: "notify-firing", startsAt: t0, renewBy: t0 + minute, value: 0.3, threshold: 0.2, at: t0 },
    ]);
  });

  test("a breach stays pending until it has lasted `for`, then fires once", () => {
    const rule = unguarded({ forMs: 5 * minute, repeatIntervalMs: 60 * minute });
    const trace = run(rule, [
      { at: t0, breached: true },
      { at: t0 + 5 * minute - 1, breached: true },
      { at: t0 + 5 * minute, breached: true },
      { at: t0 + 6 * minute, breached: true },
    ]);
    assert.deepEqual(trace.phases, ["pending", "pending", "firing", "firing"]);
    assert.deepEqual(types(trace), ["notify-firing@5"]);
    assert.equal(trace.actions[0]?.startsAt, t0 + 5 * minute);
    assert.equal(trace.state.activeAt, t0);
  });

  test("a clear observation while pending drops the alert without a notification and restarts `for`", () => {
    const rule = unguarded({ forMs: 3 * minute, repeatIntervalMs: 60 * minute });
    const trace = run(rule, minutes("BB.BBBB"));
    assert.deepEqual(trace.phases, [
      "pending",
      "pending",
      "inactive",
      "pending",
      "pending",
      "pending",
      "firing",
    ]);
    assert.deepEqual(types(trace), ["notify-firing@6"]);
  });

  test("hysteresis: a firing alert resolves only after clearAfter clear observations in a row", () => {
    const rule = unguarded({ clearAfter: 3, repeatIntervalMs: 60 * minute });
    const trace = run(rule, minutes("B..B...B"));
    assert.deepEqual(trace.phases, [
      "firing",
      "firing",
      "firing",
      "firing",
      "firing",
      "firing",
      "resolved",
      "firing",
    ]);
    assert.deepEqual(types(trace), ["notify-firing@0", "notify-resolved@6", "notify-firing@7"]);
    const resolved = trace.actions[1];
    assert.equal(resolved?.startsAt, t0, "the resolve names when the alert began firing");
    assert.equal(resolved?.endsAt, t0 + 6 * minute);
    assert.equal(resolved?.value, 0.1);
  });

  test("while firing it is re-sent every repeatIntervalMs, also while it is clearing", () => {
    const rule = unguarded({ clearAfter: 2, repeatIntervalMs: 3 * minute });
    const trace = run(rule, minutes("BBBBBBB.BB.."));
    assert.deepEqual(types(trace), [
      "notify-firing@0",
      "renotify@3",
      "renotify@6",
      "renotify@9",
      "notify-resolved@11",
    ]);
    for (const action of trace.actions) assert.equal(action.startsAt, t0);
  });

  test("cooldown: a breach right after a resolve is pending until the cooldown ends", () => {
    const rule = unguarded({ cooldownMs: 10 * minute, repeatIntervalMs: 60 * minute });
    // fires at 0, resolves at 1, breaches again from 2; cooldown ends at 1 + 10 = 11.
    const trace = run(rule, minutes("B.BBBBBBBBBBB"));
    assert.deepEqual(types(trace), ["notify-firing@0", "notify-resolved@1", "notify-firing@11"]);
    assert.deepEqual(trace.phases.slice(2, 11), Array(9).fill("pending"));
    assert.equal(trace.state.activeAt, t0 + 2 * minute, "the breach is dated from when it began");
  });

  test("cooldown and `for` both hold: firing waits for the later of the two", () => {
    const rule = unguarded({ cooldownMs: 2 * minute, forMs: 4 * minute, repeatIntervalMs: 60 * minute });
    // first fire needs 4 minutes of breach (at 4); resolve at 5; new breach from 6 needs until 10.
    const trace = run(rule, minutes("BBBBB.BBBBB"));
    assert.deepEqual(types(trace), ["notify-firing@4", "notify-resolved@5", "notify-firing@10"]);
  });

  test("a pending breach that clears during a cooldown rests as resolved and keeps the cooldown", () => {
    const rule = unguarded({ cooldownMs: 10 * minute, repeatIntervalMs: 60 * minute });
    const trace = run(rule, minutes("B.B.B"));
    assert.deepEqual(trace.phases, ["firing", "resolved", "pending", "resolved", "pending"]);
    assert.equal(trace.state.resolvedAt, t0 + minute);
    assert.deepEqual(types(trace), ["notify-firing@0", "notify-resolved@1"]);
  });

  test("flapping every minute with clearAfter 2 fires once and never resolves", () => {
    const rule = unguarded({ clearAfter: 2, repeatIntervalMs: 30 * minute });
    const trace = run(rule, minutes("B.".repeat(30)));
    assert.deepEqual(types(trace), ["notify-firing@0", "renotify@30"]);
    assert.equal(trace.state.phase, "firing");
  });

  test("the default rule bounds flapping: a window per second flipping for 2.5 minutes sends one firing", () => {
    // Issue 8 item 13: a 500-row window with the old defaults sent 1,471 webhooks in 2.5 minutes.
    const steps = Array.from({ length: 150 }, (_, i) => ({ at: t0 + i * 1000, breached: i % 2 === 0 }));
    const flapping = run(alertRule(), steps);
    assert.deepEqual(
      flapping.actions.map((a) => a.type),
      ["notify-firing"],
      "alternating windows never give 3 clear ones in a row: it stays firing, sent once",
    );
    // Steady breach for 4 hours, a window a second: one firing, one re-send after 4 hours.
    const day = Array.from({ length: 4 * 3600 + 2 }, (_, i) => ({ at: t0 + i * 1000, breached: true }));
    assert.deepEqual(
      run(alertRule(), day).actions.map((a) => a.type),
      ["notify-firing", "renotify"],
    );
    // Bursts of 3 clear windows: resolved, then no new firing for 10 minutes.
    const bursts = Array.from({ length: 1800 }, (_, i) => ({ at: t0 + i * 1000, breached: i % 6 < 3 }));
    const sent = run(alertRule(), bursts).actions;
    assert.ok(sent.length <= 2 * 3 + 2, `${sent.length} notifications in 30 minutes`);
  });

  test("without guards the same flapping notifies on every change", () => {
    const trace = run(unguarded({ repeatIntervalMs: 30 * minute }), minutes("B.".repeat(5)));
    assert.equal(trace.actions.length, 10);
  });

  test("flapping with a cooldown fires at most once per cooldown", () => {
    // Two breaches, two clears, repeating: each burst resolves, and the cooldown of 10 minutes
    // lets a new firing through only at 0, 13, 25, 37 (the first breach at or after resolve + 10).
    const rule = unguarded({ clearAfter: 2, cooldownMs: 10 * minute, repeatIntervalMs: 60 * minute });
    const trace = run(rule, minutes("BB..".repeat(12)));
    const fired = trace.actions
      .filter((action) => action.type === "notify-firing")
      .map((a) => (a.at - t0) / minute);
    const resolved = trace.actions
      .filter((action) => action.type === "notify-resolved")
      .map((a) => (a.at - t0) / minute);
    assert.deepEqual(fired, [0, 13, 25, 37]);
    assert.deepEqual(resolved, [3, 15, 27, 39]);
  });

  test("an observation older than the last one changes nothing", () => {
    const rule = unguarded();
    const first = run(rule, minutes("B"));
    const stale = evaluate(first.state, { at: t0 - 1, breached: false, value: 0, threshold: 0.2 }, rule);
    assert.equal(stale.state, first.state);
    assert.deepEqual(stale.actions, []);
  });

  test("rules are validated and the error names the field", () => {
    const cases: Array<[Partial<AlertRule>, string]> = [
      [{ forMs: -1 }, "forMs"],
      [{ cooldownMs: Number.NaN }, "cooldownMs"],
      [{ repeatIntervalMs: 0 }, "repeatIntervalMs"],
      [{ clearAfter: 0 }, "clearAfter"],
      [{ clearAfter: 1.5 }, "clearAfter"],
    ];
    for (const [input, field] of cases) {
      assert.throws(
        () => alertRule(input),
        (error: unknown) =>
          error instanceof BallastError &&
          error.code === "invalid_argument" &&
          error.details?.field === field &&
          error.message.startsWith(`${field}:`),
      );
    }
  });

  test("invariants hold on any sequence (property)", () => {
    const ruleArb = fc.record({
      forMs: fc.integer({ min: 0, max: 5 }).map((m) => m * minute),
      clearAfter: fc.integer({ min: 1, max: 3 }),
      cooldownMs: fc.integer({ min: 0, max: 8 }).map((m) => m * minute),
      repeatIntervalMs: fc.integer({ min: 1, max: 10 }).map((m) => m * minute),
    });
    const stepsArb = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.boolean()), { minLength: 1, maxLength: 80 })
      .map((gapsAndBreaches) => {
        let at = t0;
        return gapsAndBreaches.map(([gap, breached]) => ({ at: (at += gap * minute), breached }));
      });
    fc.assert(
      fc.property(ruleArb, stepsArb, (input, steps) => {
        const rule = alertRule(input);
        const trace = run(rule, steps);
        let firing = false;
        let lastResolve = -Infinity;
        let lastSend = -Infinity;
        for (const action of trace.actions) {
          const index = steps.findIndex((step) => step.at === action.at);
          const step = steps[index];
          assert.ok(step);
          if (action.type === "notify-firing") {
            assert.equal(firing, false, "fires only when not already firing");
            assert.ok(step.breached);
            assert.ok(action.at >= lastResolve + rule.cooldownMs, "no firing inside a cooldown");
            // The breach has held, uninterrupted, for at least forMs.
            let begin = index;
            while (begin > 0 && steps[begin - 1]?.breached) begin -= 1;
            assert.ok(action.at - (steps[begin]?.at ?? Infinity) >= rule.forMs, "fires only after `for`");
            firing = true;
            lastSend = action.at;
          } else if (action.type === "renotify") {
            assert.ok(firing);
            assert.ok(action.at - lastSend >= rule.repeatIntervalMs);
            lastSend = action.at;
          } else {
            assert.ok(firing, "resolves only what fired");
            for (let back = 0; back < rule.clearAfter; back += 1) {
              assert.equal(steps[index - back]?.breached, false, "resolves after clearAfter clears in a row");
            }
            firing = false;
            lastResolve = action.at;
          }
        }
        assert.equal(trace.state.phase === "firing", firing);
      }),
      { numRuns: 300 },
    );
  });
});

describe("alert book", () => {
  const rule = unguarded({ repeatIntervalMs: 60 * minute });
  const labels = { alertname: "FeatureDrift", deployment: "fraud", feature: "amount", test: "psi" };

  test("identity does not depend on label order, and distinct labels never collide", () => {
    const reordered = { test: "psi", feature: "amount", deployment: "fraud", alertname: "FeatureDrift" };
    assert.equal(alertIdentity(labels), alertIdentity(reordered));
    assert.notEqual(alertIdentity({ a: "b,c=d" }), alertIdentity({ a: "b", c: "d" }));
    assert.throws(() => alertIdentity({}), /at least one label/);
  });

  test("deduplicates by identity: a repeated breach does not fire twice; identities are independent", () => {
    const book = new AlertBook();
    const amount = alertIdentity(labels);
    const country = alertIdentity({ ...labels, feature: "country" });
    const breach = { breached: true, value: 0.4, threshold: 0.2, at: t0 };
    assert.deepEqual(
      book.observe(amount, breach, rule).map((a) => a.type),
      ["notify-firing"],
    );
    assert.deepEqual(book.observe(amount, { ...breach, at: t0 + minute }, rule), []);
    assert.deepEqual(book.observe(amount, breach, rule), [], "a replayed observation is stale");
    const other = book.observe(country, breach, rule);
    assert.deepEqual(
      other.map((a) => [a.type, a.identity]),
      [["notify-firing", country]],
    );
    assert.equal(book.size, 2);
    assert.equal(book.get(amount)?.phase, "firing");
  });

  test("restored state is honoured, so a restart does not fire again", () => {
    const first = new AlertBook();
    const identity = alertIdentity(labels);
    first.observe(identity, { breached: true, value: 0.4, threshold: 0.2, at: t0 }, rule);
    const saved = first.get(identity);
    assert.ok(saved);
    const second = new AlertBook();
    second.restore(identity, saved);
    assert.deepEqual(
      second.observe(identity, { breached: true, value: 0.4, threshold: 0.2, at: t0 + minute }, rule),
      [],
    );
  });

  test("prune forgets identities at rest, keeps firing ones and running cooldowns", () => {
    const cooling = unguarded({ cooldownMs: 10 * minute, repeatIntervalMs: 60 * minute });
    const book = new AlertBook();
    book.observe("quiet", { breached: false, value: 0, threshold: 1, at: t0 }, cooling);
    book.observe("firing", { breached: true, value: 2, threshold: 1, at: t0 }, cooling);
    book.observe("cooling", { breached: true, value: 2, threshold: 1, at: t0 }, cooling);
    book.observe("cooling", { breached: false, value: 0, threshold: 1, at: t0 + minute }, cooling);
    assert.equal(book.prune(t0 + 5 * minute, cooling), 1);
    assert.deepEqual([...book.entries()].map(([identity]) => identity).sort(), ["cooling", "firing"]);
    assert.equal(book.prune(t0 + 11 * minute, cooling), 1);
    assert.deepEqual(
      [...book.entries()].map(([identity]) => identity),
      ["firing"],
    );
  });

  test("notificationFor carries labels, adds score and threshold, and sets endsAt on resolve", () => {
    const book = new AlertBook();
    const identity = alertIdentity(labels);
    const [firing] = book.observe(identity, { breached: true, value: 0.4, threshold: 0.2, at: t0 }, rule);
    const [resolved] = book.observe(
      identity,
      { breached: false, value: 0.05, threshold: 0.2, at: t0 + minute },
      rule,
    );
    assert.ok(firing && resolved);
    const description = {
      labels,
      annotations: { summary: "amount drifted" },
      generatorUrl: "http://ballast/m",
    };
    assert.deepEqual(notificationFor(firing, description), {
      status: "firing",
      identity,
      labels,
      annotations: { score: "0.4", threshold: "0.2", summary: "amount drifted" },
      startsAt: t0,
      renewBy: t0 + 60 * minute,
      generatorUrl: "http://ballast/m",
    });
    assert.deepEqual(notificationFor(resolved, description), {
      status: "resolved",
      identity,
      labels,
      annotations: { score: "0.05", threshold: "0.2", summary: "amount drifted" },
      startsAt: t0,
      endsAt: t0 + minute,
      generatorUrl: "http://ballast/m",
    });
  });
});
