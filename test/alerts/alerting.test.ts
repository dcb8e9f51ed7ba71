/**
 * The one alerting service: states per (source, identity), subscribers beside the notifiers, a
 * throwing subscriber that stops nothing, and states that come back after a restart, including
 * rows saved by monitors before the service existed.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import {
  AlertService,
  type AlertPublication,
  type AlertSource,
  type AlertTransition,
} from "../../src/alerts/alerting.js";
import { alertRule } from "../../src/alerts/lifecycle.js";
import type { NotifierConfig } from "../../src/alerts/notifiers/index.js";
import { monitorAlertStates, savedMonitorAlerts } from "../../src/monitoring/monitor-store.js";
import { parseAnyMonitorSpec } from "../../src/monitoring/monitor-spec.js";

const T0 = Date.UTC(2026, 11, 4, 12);
const MINUTE = 60_000;
const rule = alertRule({ clearAfter: 1, cooldownMs: 0 });
const drift: AlertSource = { kind: "drift", name: "m" };
const performance: AlertSource = { kind: "performance", name: "m" };

function observation(
  source: AlertSource,
  breached: boolean,
  at: number,
  notifiers: readonly NotifierConfig[] = [],
): AlertPublication {
  return {
    source,
    severity: "warning",
    // The same labels from both sources: the same identity string.
    labels: { alertname: "BallastTest", deployment: "fraud", variant: "stable" },
    annotations: { summary: `${source.kind} ${breached ? "breached" : "clear"}` },
    at,
    condition: { breached, value: breached ? 0.4 : 0.1, threshold: 0.2, rule },
    notifiers,
  };
}

/** A real HTTP receiver on a free port that records the JSON bodies it accepts. */
async function receiver() {
  const bodies: Array<{ status: string; labels: Record<string, string> }> = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk));
    request.on("end", () => {
      bodies.push(JSON.parse(body) as { status: string; labels: Record<string, string> });
      response.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    bodies,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("alerting service", () => {
  test("two sources publishing the same identity keep separate alerts", () => {
    const alerts = new AlertService();
    const heard: AlertTransition[] = [];
    alerts.subscribe((t) => void heard.push(t));
    const a = alerts.publish(observation(drift, true, T0));
    const b = alerts.publish(observation(performance, false, T0));
    assert.equal(a.identity, b.identity, "the identity string is the same");
    assert.deepEqual([a.phase, b.phase], ["firing", "inactive"]);
    assert.deepEqual(
      alerts.alerts(drift).map((x) => x.phase),
      ["firing"],
    );
    assert.deepEqual(
      alerts.alerts(performance).map((x) => x.phase),
      ["inactive"],
    );
    // A clear from the other source does not resolve this one.
    alerts.publish(observation(performance, false, T0 + MINUTE));
    assert.deepEqual(
      heard.map((t) => [t.type, t.source.kind]),
      [["fired", "drift"]],
    );
    assert.deepEqual(
      alerts.open().map((x) => x.source),
      [drift],
    );
    assert.equal(alerts.states().length, 2);
    // Forgetting one source leaves the other's alert alone.
    alerts.forget(performance);
    assert.deepEqual(alerts.alerts(performance), []);
    assert.deepEqual(
      alerts.alerts(drift).map((x) => x.phase),
      ["firing"],
    );
  });

  test("a subscriber hears firing and resolve, with the notification the notifiers get, and events", () => {
    const alerts = new AlertService();
    const heard: AlertTransition[] = [];
    const unsubscribe = alerts.subscribe((t) => void heard.push(t));
    assert.deepEqual(alerts.publish(observation(drift, true, T0)), {
      identity: alerts.alerts(drift)[0]?.identity,
      phase: "firing",
      changed: true,
    });
    alerts.publish(observation(drift, true, T0 + MINUTE)); // still firing: nothing new
    alerts.publish(observation(drift, false, T0 + 2 * MINUTE));
    assert.deepEqual(
      heard.map((t) => [t.type, t.notification.status, t.notification.labels.severity]),
      [
        ["fired", "firing", "warning"],
        ["resolved", "resolved", "warning"],
      ],
    );
    assert.equal(heard[0]?.notification.annotations.score, "0.4");
    assert.equal(heard[1]?.notification.endsAt, T0 + 2 * MINUTE);
    // An event (a rollback) is heard once as fired and keeps no state.
    const event = alerts.publish({
      source: { kind: "rollout", name: "fraud" },
      severity: "critical",
      labels: { alertname: "BallastRolloutRolledBack", deployment: "fraud" },
      annotations: { summary: "rolled back" },
      at: T0 + 3 * MINUTE,
      notifiers: [],
    });
    assert.deepEqual([event.phase, event.changed], [null, false]);
    assert.deepEqual(
      heard.slice(2).map((t) => [t.type, t.source.kind, t.notification.annotations]),
      [["fired", "rollout", { summary: "rolled back" }]],
    );
    assert.deepEqual(alerts.alerts({ kind: "rollout", name: "fraud" }), []);
    unsubscribe();
    alerts.publish(observation(drift, true, T0 + 4 * MINUTE));
    assert.equal(heard.length, 3, "an unsubscribed listener hears nothing more");
  });

  test("a throwing subscriber stops neither the others nor a webhook delivery", async () => {
    const hook = await receiver();
    const alerts = new AlertService();
    const heard: string[] = [];
    alerts.subscribe(() => {
      throw new Error("trigger broke");
    });
    alerts.subscribe(async () => {
      await Promise.resolve();
      throw new Error("async trigger broke");
    });
    alerts.subscribe((t) => void heard.push(t.type));
    try {
      const notifiers: NotifierConfig[] = [{ kind: "webhook", name: "hook", url: hook.url }];
      assert.doesNotThrow(() => alerts.publish(observation(drift, true, T0, notifiers)));
      alerts.publish(observation(drift, false, T0 + MINUTE, notifiers));
      await alerts.idle();
      assert.deepEqual(
        hook.bodies.map((b) => [b.status, b.labels.alertname]),
        [
          ["firing", "BallastTest"],
          ["resolved", "BallastTest"],
        ],
      );
      assert.deepEqual(heard, ["fired", "resolved"]);
      const stats = alerts.stats();
      assert.equal(stats.subscriberErrors, 4);
      assert.match(stats.lastSubscriberError ?? "", /trigger broke/);
      assert.deepEqual(alerts.delivery(notifiers).total, { sent: 2, failed: 0, retried: 0, dropped: 0 });
    } finally {
      alerts.close();
      await hook.close();
    }
  });

  test("a notifier that cannot be built is counted, and the others still send", async () => {
    const hook = await receiver();
    const alerts = new AlertService();
    const broken = { kind: "webhook", name: "broken", url: "not a url" } as NotifierConfig;
    const notifiers: NotifierConfig[] = [broken, { kind: "webhook", name: "hook", url: hook.url }];
    try {
      alerts.publish(observation(drift, false, T0, notifiers)); // nothing to send: nothing counted
      alerts.publish(observation(drift, true, T0 + MINUTE, notifiers));
      await alerts.idle();
      assert.deepEqual(
        hook.bodies.map((b) => b.status),
        ["firing"],
      );
      assert.equal(alerts.stats().notifierErrors, 1);
      assert.match(alerts.stats().lastNotifierError ?? "", /url/);
    } finally {
      alerts.close();
      await hook.close();
    }
  });

  test("sources naming the same receiver share one ordered queue; it closes when no one names it", async () => {
    const hook = await receiver();
    const alerts = new AlertService();
    const notifiers: NotifierConfig[] = [{ kind: "webhook", name: "hook", url: hook.url }];
    try {
      alerts.publish(observation(drift, true, T0, notifiers));
      alerts.publish(observation(performance, true, T0, notifiers));
      await alerts.idle();
      assert.equal(hook.bodies.length, 2);
      assert.equal(alerts.delivery(notifiers).notifiers.hook?.sent, 2);
      alerts.forget(drift);
      assert.equal(alerts.delivery(notifiers).notifiers.hook?.sent, 2, "still named by the other");
      alerts.forget(performance);
      assert.deepEqual(alerts.delivery(notifiers).notifiers.hook, {
        kind: "webhook",
        sent: 0,
        failed: 0,
        retried: 0,
        dropped: 0,
        queued: 0,
      });
    } finally {
      alerts.close();
      await hook.close();
    }
  });

  test("restored states do not fire again, and rows saved by monitors come back under their kind", () => {
    const before = new AlertService();
    before.publish(observation(drift, true, T0));
    before.publish(observation(performance, true, T0));
    // What the checkpoint writes: rows of (monitor, identity, state), as before the service.
    const rows = savedMonitorAlerts(before.states());
    assert.deepEqual(
      rows.map((r) => [r.monitor, r.state.phase]),
      [
        ["m", "firing"],
        ["m", "firing"],
      ],
    );
    // After a restart, monitor m is a performance monitor, and monitor gone no longer exists.
    const specs = [
      parseAnyMonitorSpec(
        { type: "performance", deployment: "fraud", metric: "accuracy", condition: { below: 0.8 } },
        "m",
      ),
    ];
    const saved = [{ ...rows[0]!, state: { ...rows[0]!.state, firedAt: T0 - MINUTE } }];
    const after = new AlertService();
    after.restore(monitorAlertStates([...saved, { ...rows[1]!, monitor: "gone" }], specs));
    assert.deepEqual(
      after.alerts(performance).map((a) => a.phase),
      ["firing"],
    );
    assert.deepEqual(after.alerts(drift), []);
    assert.deepEqual(after.alerts({ kind: "drift", name: "gone" }), []);
    const heard: AlertTransition[] = [];
    after.subscribe((t) => void heard.push(t));
    after.publish(observation(performance, true, T0 + MINUTE));
    assert.equal(heard.length, 0, "a restored firing alert is not fired again");
    after.publish(observation(performance, false, T0 + 2 * MINUTE));
    assert.deepEqual(
      heard.map((t) => [t.type, t.notification.startsAt]),
      [["resolved", T0 - MINUTE]],
    );
  });
});
