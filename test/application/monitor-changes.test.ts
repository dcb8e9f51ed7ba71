/** What a replica does when it hears that monitors changed: start, replace or stop what differs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { monitorReload } from "../../src/application/monitor-changes.js";
import { parseAnyMonitorSpec } from "../../src/monitoring/monitor-spec.js";

const spec = (name: string, extra: Record<string, unknown> = {}) =>
  parseAnyMonitorSpec(
    { deployment: "fraud", window: { kind: "tumbling", by: "time", durationMs: 3_600_000 }, ...extra },
    name,
  );

test("new and changed specs are put, gone ones removed, unchanged ones left running", () => {
  const running = [spec("same"), spec("changed"), spec("gone")];
  const stored = [spec("same"), spec("changed", { minSamples: 7 }), spec("new")];
  const plan = monitorReload(running, stored);
  assert.deepEqual(
    plan.put.map((s) => s.name),
    ["changed", "new"],
  );
  assert.deepEqual(plan.remove, ["gone"]);
});

test("the same spec read back with its keys in another order is not a change", () => {
  const a = spec("m", { minSamples: 50, severity: "critical" });
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(a).reverse()))) as typeof a;
  assert.deepEqual(monitorReload([a], [reordered]), { put: [], remove: [] });
});
