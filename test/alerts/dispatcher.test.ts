import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Dispatcher, type DispatcherOptions } from "../../src/alerts/dispatcher.js";
import type { AlertNotification, Notifier } from "../../src/alerts/notifier.js";
import { BallastError } from "../../src/domain/errors.js";
import { FakeScheduler, settle } from "./fake-scheduler.js";

type Outcome = "ok" | "fail" | "reject" | "hang" | "throw";

/** A notifier that answers each call as scripted (the last entry repeats). */
class ScriptedNotifier implements Notifier {
  readonly kind = "scripted";
  readonly calls: AlertNotification[] = [];
  readonly signals: AbortSignal[] = [];
  readonly delivered: AlertNotification[] = [];

  constructor(
    readonly name: string,
    private readonly script: Outcome[],
  ) {}

  send(notification: AlertNotification, signal: AbortSignal): Promise<void> {
    const outcome = this.script[Math.min(this.calls.length, this.script.length - 1)] ?? "ok";
    this.calls.push(notification);
    this.signals.push(signal);
    switch (outcome) {
      case "ok":
        this.delivered.push(notification);
        return Promise.resolve();
      case "fail":
        return Promise.reject(new BallastError("upstream", `${this.name}: 503 Service Unavailable`));
      case "reject":
        return Promise.reject(
          new BallastError("upstream", `${this.name}: 400 Bad Request`, { status: 400, retryable: false }),
        );
      case "throw":
        throw new Error(`${this.name}: broke before sending`);
      case "hang":
        // Ignores its signal on purpose: the dispatcher must end the attempt by itself.
        return new Promise(() => {});
    }
  }
}

function alert(identity: string, status: "firing" | "resolved" = "firing"): AlertNotification {
  return {
    status,
    identity,
    labels: { alertname: "FeatureDrift", feature: identity },
    annotations: {},
    startsAt: 1000,
    ...(status === "resolved" ? { endsAt: 2000 } : {}),
  };
}

function setup(notifiers: Notifier[], options: Partial<DispatcherOptions> = {}) {
  const scheduler = new FakeScheduler();
  const dispatcher = new Dispatcher({
    notifiers,
    scheduler,
    random: () => 0.5,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    attemptTimeoutMs: 5000,
    ...options,
  });
  return { scheduler, dispatcher };
}

describe("dispatcher", () => {
  test("dispatch returns at once and delivers to every notifier", async () => {
    const a = new ScriptedNotifier("a", ["ok"]);
    const b = new ScriptedNotifier("b", ["ok"]);
    const { dispatcher } = setup([a, b]);
    dispatcher.dispatch(alert("amount"));
    await dispatcher.idle();
    assert.deepEqual(
      a.delivered.map((n) => n.identity),
      ["amount"],
    );
    assert.deepEqual(
      b.delivered.map((n) => n.identity),
      ["amount"],
    );
    assert.deepEqual(dispatcher.stats().total, { sent: 2, failed: 0, retried: 0, dropped: 0 });
  });

  test("`to` limits delivery to the named notifiers; an unknown name is a clear error", async () => {
    const a = new ScriptedNotifier("a", ["ok"]);
    const b = new ScriptedNotifier("b", ["ok"]);
    const { dispatcher } = setup([a, b]);
    dispatcher.dispatch(alert("amount"), ["b"]);
    await dispatcher.idle();
    assert.equal(a.calls.length, 0);
    assert.equal(b.calls.length, 1);
    assert.throws(() => dispatcher.dispatch(alert("amount"), ["c"]), /no notifier is named "c"; known: a, b/);
    assert.throws(
      () => new Dispatcher({ notifiers: [a, new ScriptedNotifier("a", ["ok"])] }),
      /two notifiers are named "a"/,
    );
  });

  test("retries with exponential backoff and jitter until the receiver accepts", async () => {
    const flaky = new ScriptedNotifier("flaky", ["fail", "fail", "ok"]);
    const { scheduler, dispatcher } = setup([flaky]);
    dispatcher.dispatch(alert("amount"));
    await settle();
    assert.equal(flaky.calls.length, 1);
    // Equal jitter with random 0.5: wait = nominal * 0.75; nominal 1000 then 2000.
    await scheduler.advance(749);
    assert.equal(flaky.calls.length, 1, "not before the backoff");
    await scheduler.advance(1);
    assert.equal(flaky.calls.length, 2);
    await scheduler.advance(1499);
    assert.equal(flaky.calls.length, 2);
    await scheduler.advance(1);
    assert.equal(flaky.calls.length, 3);
    await dispatcher.idle();
    assert.deepEqual(dispatcher.stats().notifiers.flaky, {
      kind: "scripted",
      sent: 1,
      failed: 0,
      retried: 2,
      dropped: 0,
      queued: 0,
    });
    assert.deepEqual(dispatcher.failures(), []);
  });

  test("backoff doubles up to the cap, jitter spans half to all of it", () => {
    const values = [0, 0.999];
    let call = 0;
    const dispatcher = new Dispatcher({
      notifiers: [],
      random: () => values[call++ % 2] ?? 0,
      baseDelayMs: 1000,
      maxDelayMs: 5000,
    });
    const waits = [1, 1, 2, 2, 3, 3, 4, 4].map((attempt) => dispatcher.backoffMs(attempt));
    // nominal 1000, 2000, 4000, 5000 (capped); each seen with random 0 (half) and 0.999.
    assert.deepEqual(waits, [500, 999.5, 1000, 1999, 2000, 3998, 2500, 4997.5]);
  });

  test("out of attempts: recorded with reason, attempts, notifier and identity, and counted", async () => {
    const down = new ScriptedNotifier("down", ["fail"]);
    const { scheduler, dispatcher } = setup([down], { maxAttempts: 3 });
    dispatcher.dispatch(alert("amount"));
    await scheduler.advance(60_000);
    assert.equal(down.calls.length, 3);
    assert.deepEqual(dispatcher.failures(), [
      {
        notifier: "down",
        kind: "scripted",
        identity: "amount",
        status: "firing",
        attempts: 3,
        reason: "down: 503 Service Unavailable",
        at: 750 + 1500,
      },
    ]);
    assert.deepEqual(dispatcher.stats().total, { sent: 0, failed: 1, retried: 2, dropped: 0 });
  });

  test("a payload the receiver rejects is not retried", async () => {
    const strict = new ScriptedNotifier("strict", ["reject"]);
    const { scheduler, dispatcher } = setup([strict]);
    dispatcher.dispatch(alert("amount"));
    await scheduler.advance(60_000);
    assert.equal(strict.calls.length, 1);
    assert.equal(dispatcher.failures()[0]?.attempts, 1);
    assert.deepEqual(dispatcher.stats().total, { sent: 0, failed: 1, retried: 0, dropped: 0 });
  });

  test("a notifier that throws synchronously is a failed attempt, not a crash", async () => {
    const broken = new ScriptedNotifier("broken", ["throw", "ok"]);
    const { scheduler, dispatcher } = setup([broken]);
    assert.doesNotThrow(() => dispatcher.dispatch(alert("amount")));
    await scheduler.advance(750);
    await dispatcher.idle();
    assert.deepEqual(dispatcher.stats().total, { sent: 1, failed: 0, retried: 1, dropped: 0 });
  });

  test("an attempt that never answers is aborted at its deadline and retried", async () => {
    const slow = new ScriptedNotifier("slow", ["hang", "ok"]);
    const { scheduler, dispatcher } = setup([slow], { attemptTimeoutMs: 5000 });
    dispatcher.dispatch(alert("amount"));
    await scheduler.advance(4999);
    assert.equal(slow.signals[0]?.aborted, false);
    await scheduler.advance(1);
    assert.equal(slow.signals[0]?.aborted, true);
    assert.match(String((slow.signals[0]?.reason as Error).message), /no answer within 5000 ms/);
    await scheduler.advance(750);
    assert.equal(slow.calls.length, 2);
    await dispatcher.idle();
    assert.deepEqual(dispatcher.stats().total, { sent: 1, failed: 0, retried: 1, dropped: 0 });
  });

  test("a hanging receiver delays nobody else", async () => {
    const stuck = new ScriptedNotifier("stuck", ["hang"]);
    const healthy = new ScriptedNotifier("healthy", ["ok"]);
    const { scheduler, dispatcher } = setup([stuck, healthy], { maxAttempts: 2 });
    for (const feature of ["a", "b", "c"]) dispatcher.dispatch(alert(feature));
    await settle();
    assert.deepEqual(
      healthy.delivered.map((n) => n.identity),
      ["a", "b", "c"],
    );
    assert.equal(stuck.calls.length, 1);
    assert.equal(dispatcher.stats().notifiers.stuck?.queued, 3);
    // The stuck lane works through its own queue by deadlines: 5000 + 750 + 5000 per alert.
    await scheduler.advance(3 * 10_750);
    await dispatcher.idle();
    assert.equal(dispatcher.stats().notifiers.stuck?.failed, 3);
    assert.equal(dispatcher.stats().notifiers.healthy?.sent, 3);
  });

  test("a full queue drops the newest and counts it, per notifier", async () => {
    const stuck = new ScriptedNotifier("stuck", ["hang"]);
    const healthy = new ScriptedNotifier("healthy", ["ok"]);
    const { dispatcher } = setup([stuck, healthy], { queueCapacity: 2 });
    // Spread over event-loop turns, as monitors evaluate: the healthy lane drains between them.
    for (const feature of ["a", "b", "c", "d", "e"]) {
      dispatcher.dispatch(alert(feature));
      await settle();
    }
    const stats = dispatcher.stats();
    // One in delivery, two waiting, two dropped.
    assert.equal(stats.notifiers.stuck?.queued, 3);
    assert.equal(stats.notifiers.stuck?.dropped, 2);
    assert.equal(stats.notifiers.healthy?.dropped, 0);
    assert.equal(stats.notifiers.healthy?.sent, 5);
    assert.equal(stats.total.dropped, 2);
  });

  test("a resolve never overtakes the firing it ends, even when the firing needs retries", async () => {
    const flaky = new ScriptedNotifier("flaky", ["fail", "ok"]);
    const { scheduler, dispatcher } = setup([flaky]);
    dispatcher.dispatch(alert("amount", "firing"));
    dispatcher.dispatch(alert("amount", "resolved"));
    await scheduler.advance(750);
    await dispatcher.idle();
    assert.deepEqual(
      flaky.calls.map((n) => n.status),
      ["firing", "firing", "resolved"],
    );
  });

  test("failure history keeps only the most recent failures", async () => {
    const strict = new ScriptedNotifier("strict", ["reject"]);
    const { dispatcher } = setup([strict], { failureHistory: 2 });
    for (const feature of ["a", "b", "c"]) dispatcher.dispatch(alert(feature));
    await dispatcher.idle();
    assert.deepEqual(
      dispatcher.failures().map((f) => f.identity),
      ["b", "c"],
    );
    assert.equal(dispatcher.stats().total.failed, 3);
  });

  test("close aborts what is in flight, cancels retries and counts what it dropped", async () => {
    const stuck = new ScriptedNotifier("stuck", ["hang"]);
    const flaky = new ScriptedNotifier("flaky", ["fail"]);
    const { scheduler, dispatcher } = setup([stuck, flaky]);
    dispatcher.dispatch(alert("a"));
    dispatcher.dispatch(alert("b"));
    await settle();
    const idle = dispatcher.idle();
    dispatcher.close();
    await idle;
    assert.equal(stuck.signals[0]?.aborted, true);
    dispatcher.dispatch(alert("c"));
    await scheduler.advance(60_000);
    assert.equal(flaky.calls.length, 1, "no retry after close");
    const stats = dispatcher.stats();
    assert.equal(stats.notifiers.stuck?.dropped, 3);
    assert.equal(stats.notifiers.flaky?.dropped, 3);
    assert.equal(stats.total.sent, 0);
    assert.equal(scheduler.pending, 0);
  });

  test("options are validated and the error names the field", () => {
    assert.throws(
      () => new Dispatcher({ notifiers: [], queueCapacity: 0 }),
      /queueCapacity: must be a number ≥ 1/,
    );
    assert.throws(() => new Dispatcher({ notifiers: [], maxAttempts: 0 }), /maxAttempts/);
  });
});
