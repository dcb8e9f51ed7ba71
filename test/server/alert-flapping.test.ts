/**
 * Issue 8 item 13: a 500-row count window with default alert settings sent 1,471 webhooks in 2.5
 * minutes, and its alerts said the window ran in 1970 (row ordinals formatted as dates). On an
 * injected timeline: a stream flipping between normal and shifted windows sends a bounded number
 * of notifications, and they tell the window by its rows and the times they arrived.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { fraudRows } from "../helpers/traffic.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { AlertService } from "../../src/alerts/alerting.js";
import { Monitors } from "../../src/monitoring/monitors.js";
import { parseMonitorSpec } from "../../src/monitoring/monitor-spec.js";

test("a flapping count-window stream sends a bounded number of notifications, dated by its rows' times", async () => {
  const received: Array<{ status: string; annotations: Record<string, string> }> = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      received.push(JSON.parse(body) as { status: string; annotations: Record<string, string> });
      res.end("ok");
    });
  });
  receiver.listen(0, "127.0.0.1");
  await once(receiver, "listening");
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 5000, 1));
  const profile = builder.finish();
  const alerts = new AlertService();
  const monitors = new Monitors({ getReference: async () => profile }, alerts);
  try {
    monitors.put(
      parseMonitorSpec({
        name: "flappy",
        deployment: "fraud",
        features: ["amount"],
        test: "psi",
        window: { kind: "tumbling", by: "count", size: 500 },
        notifiers: [{ kind: "webhook", name: "hook", url }],
      }),
    );
    monitors.prepare("fraud", [{ variant: "stable", model: "fraud", version: 1 }]);
    await monitors.settled();
    // 150 windows of 500 rows, one a second for 2.5 minutes, alternately normal and shifted.
    const t0 = Date.UTC(2026, 11, 4, 12);
    for (let w = 0; w < 150; w++) {
      const rows = fraudRows(100 + w, 500, w % 2 === 0 ? 3 : 1);
      for (let i = 0; i < rows.length; i += 50) {
        monitors.observe({
          deployment: "fraud",
          variant: "stable",
          model: "fraud",
          version: 1,
          rows: rows.slice(i, i + 50),
          at: t0 + w * 1000 + i,
        });
      }
    }
    await monitors.settled();
    const status = monitors.status("flappy");
    assert.equal(status.rowsObserved, 75_000);
    // One firing for the feature and one for the dataset: alternating windows never give the 3
    // clear windows in a row that resolve it, and a firing alert is not re-sent per window.
    assert.deepEqual(
      received.map((n) => n.status),
      ["firing", "firing"],
      JSON.stringify(received.map((n) => n.annotations.summary)),
    );
    const description = received[0]?.annotations.description ?? "";
    assert.doesNotMatch(description, /1970/);
    assert.match(
      description,
      /rows 1–500 of the stream, received 2026-12-04T12:00:00\.000Z – 2026-12-04T12:00:00\.450Z/,
    );
  } finally {
    monitors.close();
    alerts.close();
    receiver.close();
  }
});
