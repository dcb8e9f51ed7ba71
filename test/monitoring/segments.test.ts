/**
 * Drift per segment in live monitors, driven directly (no server): one segment shifting fires
 * that segment's alert only; values past maxValues share __other__; missing values __missing__;
 * small segments are skipped by minSamples; a feature the reference lacks is a status problem.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AlertService } from "../../src/alerts/alerting.js";
import { Monitors, type EvaluatedWindow } from "../../src/monitoring/monitors.js";
import { parseMonitorSpec } from "../../src/monitoring/monitor-spec.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { SegmentKeys, parseSegmentSpec } from "../../src/monitoring/segments.js";
import { createRandom } from "../../src/sim/random.js";

const HOUR = 3_600_000;
const T0 = 1000 * HOUR;
const CATEGORIES = ["grocery", "fuel", "travel"];

type Row = { amount: number; category: string | null; online: number };

function rows(seed: number, n: number, scaleOf: (r: Row) => number = () => 1): Row[] {
  const random = createRandom(seed);
  return Array.from({ length: n }, () => {
    const row: Row = {
      amount: random.logNormal(3.5, 0.8),
      category: CATEGORIES[random.int(0, CATEGORIES.length - 1)] as string,
      online: random.int(0, 1),
    };
    return { ...row, amount: Math.round(row.amount * scaleOf(row) * 100) / 100 };
  });
}

function reference(): ReferenceProfile {
  const builder = new ProfileBuilder();
  builder.add(rows(1, 6000));
  return builder.finish();
}

function setUp(segment: unknown, extra: Record<string, unknown> = {}) {
  const profile = reference();
  const evaluated: EvaluatedWindow[] = [];
  const monitors = new Monitors({ getReference: async () => profile }, new AlertService(), {
    windowEvaluated: (w) => evaluated.push(w),
    alertChanged: () => {},
  });
  monitors.put(
    parseMonitorSpec({
      name: "m",
      deployment: "fraud",
      features: ["amount"],
      test: "psi",
      window: { kind: "tumbling", by: "time", durationMs: HOUR },
      minSamples: 200,
      segment,
      ...extra,
    }),
  );
  monitors.prepare("fraud", [{ variant: "stable", model: "fraud", version: 1 }]);
  const observe = (batch: readonly Record<string, unknown>[], at: number) => {
    for (let i = 0; i < batch.length; i += 20) {
      monitors.observe({
        deployment: "fraud",
        variant: "stable",
        model: "fraud",
        version: 1,
        rows: batch.slice(i, i + 20),
        at,
      });
    }
  };
  return { monitors, evaluated, observe };
}

const firing = (monitors: Monitors) =>
  monitors
    .status("m")
    .alerts.filter((a) => a.phase === "firing")
    .map((a) => Object.fromEntries(JSON.parse(a.identity) as Array<[string, string]>))
    .filter((l) => l.alertname === "BallastFeatureDrift")
    .map((l) => l.segment ?? "(overall)")
    .sort();

test("only the segment that shifted fires, with a segment label; the overall window keeps its labels", async () => {
  const { monitors, evaluated, observe } = setUp({ feature: "category" });
  await monitors.settled();
  observe(rows(2, 1800), T0 + 1000); // hour 1: as the reference
  observe(
    rows(3, 1800, (r) => (r.category === "travel" ? 3 : 1)),
    T0 + HOUR + 1000,
  ); // hour 2: travel amounts tripled
  monitors.tick(T0 + 2 * HOUR);
  await monitors.settled();

  const status = monitors.status("m");
  assert.equal(status.segment?.feature, "category");
  assert.equal(status.segment?.maxValues, 20);
  assert.deepEqual([...(status.segment?.values ?? [])].sort(), ["fuel", "grocery", "travel"]);
  const segments = status.variants[0]?.segments ?? [];
  assert.deepEqual(segments.map((s) => s.value).sort(), ["fuel", "grocery", "travel"]);
  const drifted = (value: string) =>
    segments.find((s) => s.value === value)?.latest?.drift?.features.find((f) => f.feature === "amount")
      ?.drifted;
  assert.equal(drifted("travel"), true);
  assert.equal(drifted("grocery"), false);
  assert.equal(drifted("fuel"), false);
  // A third of the rows tripled moves the overall PSI too, so the overall alert fires here as
  // well (whether it does depends on the segment's share); the segments tell which part moved.
  assert.equal(status.variants[0]?.latest?.drift?.features[0]?.drifted, true);
  const alerts = firing(monitors);
  assert.ok(alerts.includes("category=travel"), JSON.stringify(alerts));
  assert.ok(
    !alerts.includes("category=grocery") && !alerts.includes("category=fuel"),
    JSON.stringify(alerts),
  );
  // Two hours × (overall + three segments) windows were evaluated, each segment window named.
  assert.equal(evaluated.length, 8);
  assert.deepEqual(
    evaluated.filter((w) => w.segment !== undefined).map((w) => w.segment?.feature),
    Array(6).fill("category"),
  );
  // The segment's own feature is not tested within the segment (it holds one value there).
  const travel = segments.find((s) => s.value === "travel")?.latest;
  assert.deepEqual(
    travel?.drift?.features.map((f) => f.feature),
    ["amount"],
  );
  monitors.close();
});

test("values past maxValues share __other__, missing values __missing__, small segments are skipped", async () => {
  const { monitors, evaluated, observe } = setUp({ feature: "category", maxValues: 2 });
  await monitors.settled();
  const batch = rows(4, 1500).map((r, i) => ({
    ...r,
    category: i % 10 === 0 ? null : i % 50 === 1 ? "" : r.category,
  }));
  observe(batch, T0 + 1000);
  // Many distinct numbers: none gets a segment, the cache stays bounded.
  observe(
    rows(5, 30).map((r, i) => ({ ...r, category: 1000 + i })),
    T0 + 2000,
  );
  monitors.tick(T0 + HOUR);
  await monitors.settled();
  const status = monitors.status("m");
  assert.equal(status.segment?.values.length, 2);
  const values = status.variants[0]?.segments?.map((s) => s.value) ?? [];
  assert.deepEqual(values.slice(2), ["__other__", "__missing__"]);
  const rowsOf = (v: string) => evaluated.find((w) => w.segment?.value === v)?.rows ?? 0;
  const missing = batch.filter((r) => r.category === null || r.category === "").length;
  assert.equal(rowsOf("__missing__"), missing);
  const own = status.segment?.values ?? [];
  assert.equal(
    rowsOf("__other__"),
    batch.filter((r) => r.category !== null && r.category !== "" && !own.includes(r.category)).length + 30,
  );
  // __missing__ has fewer than minSamples (200) rows: closed, counted, not evaluated.
  assert.ok(missing < 200);
  assert.equal(evaluated.find((w) => w.segment?.value === "__missing__")?.drift, null);
  assert.ok(evaluated.find((w) => w.segment?.value === "__other__")?.drift !== null);
  monitors.close();
});

test("a segment feature the reference lacks is a problem in the status; the overall window goes on", async () => {
  const { monitors, evaluated, observe } = setUp({ feature: "merchant" });
  await monitors.settled();
  observe(rows(6, 400), T0 + 1000);
  monitors.tick(T0 + HOUR);
  await monitors.settled();
  const v = monitors.status("m").variants[0];
  assert.match(
    v?.segmentProblem ?? "",
    /segment feature 'merchant' is not an input feature.*amount, category, online/,
  );
  assert.deepEqual(v?.segments, []);
  assert.equal(evaluated.length, 1);
  assert.equal(evaluated[0]?.segment, undefined);
  assert.equal(monitors.status("m").errors, 0);
  monitors.close();
});

test("checkpoints carry segment windows and the values that own segments; a restore resumes them", async () => {
  const a = setUp({ feature: "category" }, { window: { kind: "tumbling", by: "count", size: 1000 } });
  await a.monitors.settled();
  a.observe(rows(7, 300), T0);
  const [checkpoint] = a.monitors.checkpoints();
  assert.ok(checkpoint?.segments !== undefined);
  const values = checkpoint.segments.values;
  assert.equal(values.length, 3);

  const b = setUp({ feature: "category" }, { window: { kind: "tumbling", by: "count", size: 1000 } });
  b.monitors.restore(JSON.parse(JSON.stringify(checkpoint)), 0);
  await b.monitors.settled();
  const status = b.monitors.status("m");
  assert.deepEqual(status.segment?.values, values, "the same values keep their segments");
  assert.equal(status.variants[0]?.openWindowRows, 300);
  const open = Object.fromEntries(
    (status.variants[0]?.segments ?? []).map((s) => [s.value, s.openWindowRows]),
  );
  const a0 = Object.fromEntries(
    (a.monitors.status("m").variants[0]?.segments ?? []).map((s) => [s.value, s.openWindowRows]),
  );
  assert.deepEqual(open, a0);
  assert.equal(
    Object.values(open).reduce((n, x) => n + x, 0),
    300,
  );
  a.monitors.close();
  b.monitors.close();
});

test("segment specs are validated, and keys are shared by number and text", () => {
  assert.deepEqual(parseSegmentSpec({ feature: "online" }), { feature: "online", maxValues: 20 });
  assert.throws(
    () => parseSegmentSpec({ feature: "online", maxValues: 0 }),
    /segment.maxValues must be an integer in 1…100, got 0/,
  );
  assert.throws(() => parseSegmentSpec({ feature: "online", maxValues: 101 }), /1…100/);
  assert.throws(() => parseSegmentSpec({ feature: "" }), /segment.feature must name an input feature/);
  assert.throws(() => parseSegmentSpec({ feature: "a", max: 3 }), /unknown field 'max'/);
  assert.throws(() => parseSegmentSpec("online"), /segment must be an object/);
  const keys = new SegmentKeys(2);
  assert.equal(keys.keyOf(1), "1");
  assert.equal(keys.keyOf("1"), "1");
  assert.equal(keys.keyOf(0), "0");
  assert.equal(keys.keyOf(2), "__other__");
  assert.equal(keys.keyOf(Number.NaN), "__missing__");
  assert.equal(keys.keyOf(""), "__missing__");
  assert.equal(keys.keyOf({}), "__other__");
  assert.deepEqual(keys.values(), ["1", "0"]);
});
