/**
 * Segments through the server: a drift monitor with a segment (status, metrics, stored windows,
 * a restart), a performance monitor judged per segment, the read-time endpoints with ?segment,
 * and `ballast report drift --deployment … --segment` against a listening server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { fraudRows } from "../helpers/traffic.js";
import {
  expectedProbability,
  FRAUD_FEATURES,
  FRAUD_MODEL,
  ManualClock,
  startTestServer,
} from "../helpers/app.js";
import type { TestServer } from "../helpers/app.js";
import { openBallast } from "../../src/ballast.js";
import { buildApp } from "../../src/server/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";

const HOUR = 3_600_000;
type Row = ReturnType<typeof fraudRows>[number];

async function predict(s: { app: TestServer["app"] }, rows: Row[], requestId?: string): Promise<void> {
  const r = await s.app.inject({
    method: "POST",
    url: "/v1/models/fraud:predict",
    ...(requestId === undefined ? {} : { headers: { "x-request-id": requestId } }),
    payload: { instances: rows },
  });
  assert.equal(r.statusCode, 200, r.body);
}

async function withReference(s: TestServer): Promise<void> {
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 5000));
  await s.ballast.registry.attachReference("fraud", 1, builder.finish());
}

test("a drift monitor with a segment: bad specs refused, the shifted segment alerts, metrics and windows carry the segment", async () => {
  const s = await startTestServer();
  try {
    await withReference(s);
    const put = (body: Record<string, unknown>) =>
      s.app.inject({ method: "PUT", url: "/api/v1/monitors/seg", payload: { deployment: "fraud", ...body } });
    for (const [segment, error] of [
      [{ feature: "night", maxValues: 0 }, /segment.maxValues must be an integer in 1…100, got 0/],
      [{ feature: "night", maxValues: 500 }, /segment.maxValues must be an integer in 1…100, got 500/],
      [{ maxValues: 5 }, /segment.feature must name an input feature/],
      ["night", /segment must be an object/],
    ] as const) {
      const r = await put({ segment });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error, error);
    }
    const unknown = await put({ segment: { feature: "merchant" } });
    assert.equal(unknown.statusCode, 200, unknown.body);
    assert.match(
      unknown.json().variants[0].segmentProblem,
      /segment feature 'merchant' is not an input feature/,
    );

    const ok = await put({
      features: ["amount"],
      test: "psi",
      window: { kind: "tumbling", by: "time", durationMs: HOUR },
      minSamples: 100,
      segment: { feature: "night" },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    s.clock.t = 500 * HOUR + 1000;
    const normal = fraudRows(2, 1600);
    for (let i = 0; i < normal.length; i += 100) await predict(s, normal.slice(i, i + 100));
    s.clock.t = 501 * HOUR + 1000;
    // Night-time amounts tripled; daytime as before.
    const shifted = fraudRows(3, 1600).map((r) => (r.night === 1 ? { ...r, amount: r.amount * 3 } : r));
    for (let i = 0; i < shifted.length; i += 100) await predict(s, shifted.slice(i, i + 100));
    s.clock.t = 502 * HOUR;
    s.ballast.monitors.tick(s.clock.now());
    await s.ballast.monitors.settled();

    const status = (await s.app.inject("/api/v1/monitors/seg")).json();
    assert.deepEqual([...status.segment.values].sort(), ["0", "1"]);
    const segments = status.variants[0].segments as Array<{
      value: string;
      latest: { drift: { features: Array<{ feature: string; drifted: boolean }> } };
    }>;
    const drifted = Object.fromEntries(segments.map((x) => [x.value, x.latest.drift.features[0]?.drifted]));
    assert.deepEqual(drifted, { "0": false, "1": true });
    const firing = (status.alerts as Array<{ identity: string; phase: string }>)
      .filter((a) => a.phase === "firing")
      .map((a) => Object.fromEntries(JSON.parse(a.identity) as Array<[string, string]>))
      .filter((l) => l.alertname === "BallastFeatureDrift");
    assert.ok(
      firing.some((l) => l.segment === "night=1"),
      JSON.stringify(firing),
    );
    assert.ok(!firing.some((l) => l.segment === "night=0"), JSON.stringify(firing));

    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      /ballast_feature_drifted\{monitor="seg",deployment="fraud",variant="stable",segment="night=1",feature="amount",test="psi"\} 1/,
    );
    assert.match(
      metrics,
      /ballast_feature_drifted\{monitor="seg",deployment="fraud",variant="stable",segment="night=0",feature="amount",test="psi"\} 0/,
    );
    assert.match(
      metrics,
      /ballast_feature_drift_score\{monitor="seg",deployment="fraud",variant="stable",segment="",feature="amount",test="psi"\}/,
    );
    const segmentLabels = new Set(
      [...metrics.matchAll(/ballast_feature_drift_score\{monitor="seg"[^}]*segment="([^"]*)"/g)].map(
        (m) => m[1],
      ),
    );
    assert.deepEqual([...segmentLabels].sort(), ["", "night=0", "night=1"]);

    const windows = async (q: string) =>
      (await s.app.inject(`/api/v1/monitors/seg/windows${q}`)).json().windows as Array<{
        segment?: { value: string };
        rows: number;
      }>;
    assert.equal((await windows("")).length, 2, "the overall windows, as before");
    assert.ok((await windows("")).every((w) => w.segment === undefined));
    const night = await windows("?segment=1");
    assert.equal(night.length, 2);
    assert.deepEqual(night[0]?.segment, { feature: "night", value: "1" });
    assert.equal(night[0]?.rows, shifted.filter((r) => r.night === 1).length);
    assert.equal((await windows("?segment=*")).length, 6);
  } finally {
    await s.close();
  }
});

test("segment windows and the values that own segments come back after a restart", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ballast-segments-"));
  const clock = new ManualClock();
  const open = () => openBallast({ dataDir, clock, defaultMetrics: false });
  try {
    const a = await open();
    const modelPath = join(dataDir, "fraud.json");
    await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
    const builder = new ProfileBuilder();
    builder.add(fraudRows(1, 3000));
    await a.registry.registerVersion({
      model: "fraud",
      artifactPath: modelPath,
      referenceProfile: builder.finish(),
    });
    const app = await buildApp(a);
    await app.inject({
      method: "PUT",
      url: "/api/v1/deployments/fraud",
      payload: { model: "fraud", version: 1 },
    });
    const put = await app.inject({
      method: "PUT",
      url: "/api/v1/monitors/m",
      payload: {
        deployment: "fraud",
        window: { kind: "tumbling", by: "count", size: 1000 },
        segment: { feature: "hour", maxValues: 5 },
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    await predict({ app }, fraudRows(2, 400));
    await a.monitors.settled();
    const before = a.monitors.status("m");
    assert.equal(before.segment?.values.length, 5, "24 hours, 5 with their own segment");
    const openRows = (st: typeof before) =>
      Object.fromEntries((st.variants[0]?.segments ?? []).map((x) => [x.value, x.openWindowRows]));
    assert.ok((openRows(before).__other__ ?? 0) > 0);
    await a.close(); // checkpoints the open windows

    const b = await open();
    await b.monitors.settled();
    const after = b.monitors.status("m");
    assert.deepEqual(after.segment?.values, before.segment?.values);
    assert.deepEqual(openRows(after), openRows(before));
    assert.equal(after.variants[0]?.openWindowRows, 400);
    await b.close();
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

const scoreOf = (r: Row) => expectedProbability(FRAUD_FEATURES.map((f) => r[f as keyof Row]));
const decisionOf = (r: Row) => (scoreOf(r) >= 0.5 ? 1 : 0);

test("a performance monitor per segment: accuracy drops at night only, and only that segment fires", async () => {
  const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  try {
    s.clock.t = 100 * HOUR;
    const bad = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/acc",
      payload: {
        type: "performance",
        deployment: "fraud",
        metric: "accuracy",
        condition: { below: 0.5 },
        segment: { feature: "night", maxValues: 101 },
      },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /segment.maxValues must be an integer in 1…100/);
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/monitors/acc",
      payload: {
        type: "performance",
        deployment: "fraud",
        metric: "accuracy",
        condition: { below: 0.5 },
        window: { bucket: "1h", buckets: 3 },
        minSamples: 20,
        segment: { feature: "night" },
      },
    });
    assert.equal(put.statusCode, 200, put.body);
    const rows = fraudRows(21, 400);
    await predict(s, rows, "R");
    // Right by day, wrong at night: overall accuracy is the day share (about 3/4, not breached).
    const feedback = rows.map((r, i) => ({
      request_id: "R",
      row: i,
      label: r.night === 1 ? 1 - decisionOf(r) : decisionOf(r),
    }));
    const f = await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } });
    assert.equal(f.statusCode, 200, f.body);
    s.clock.advance(60_000);
    s.ballast.monitors.tick(s.clock.now());
    await s.ballast.monitors.settled();

    const status = (await s.app.inject("/api/v1/monitors/acc")).json();
    const day = rows.filter((r) => r.night === 0).length;
    assert.equal(status.latest.variants[0].judged.value, day / rows.length);
    assert.equal(status.latest.variants[0].breached, false);
    const bySegment = Object.fromEntries(
      (
        status.latest.segments as Array<{ segment: string; judged: { value: number }; breached: boolean }>
      ).map((x) => [x.segment, [x.judged.value, x.breached]]),
    );
    assert.deepEqual(bySegment, { "0": [1, false], "1": [0, true] });
    const firing = (status.alerts as Array<{ identity: string; phase: string }>)
      .filter((a) => a.phase === "firing")
      .map((a) => Object.fromEntries(JSON.parse(a.identity) as Array<[string, string]>).segment);
    assert.deepEqual(firing, ["night=1"]);
    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      /ballast_model_performance\{monitor="acc",deployment="fraud",variant="stable",segment="night=1",metric="accuracy",estimated="false"\} 0\n/,
    );

    // The read-time endpoint, by segment, with the rest beyond maxValues in __other__.
    const perf = (q: string) => s.app.inject(`/api/v1/deployments/fraud/performance?bucket=1h&${q}`);
    const byNight = (await perf("segment=night")).json();
    assert.equal(byNight.buckets.length, 1);
    assert.deepEqual(byNight.segment.values.sort(), ["0", "1"]);
    const acc = Object.fromEntries(
      byNight.segment.buckets.map((b: { segment: string; classification: { accuracy: number } }) => [
        b.segment,
        b.classification.accuracy,
      ]),
    );
    assert.deepEqual(acc, { "0": 1, "1": 0 });
    const byHour = (await perf("segment=hour&maxValues=3")).json();
    assert.equal(byHour.segment.values.length, 3);
    const counts = byHour.segment.buckets.map((b: { segment: string; classification: { count: number } }) => [
      b.segment,
      b.classification.count,
    ]);
    assert.ok(counts.some(([seg]: [string]) => seg === "__other__"));
    assert.equal(
      counts.reduce((n: number, [, c]: [string, number]) => n + c, 0),
      400,
    );
    for (const [q, error] of [
      ["segment=night&maxValues=0", /maxValues must be an integer in 1…100, got 0/],
      ["segment=night&maxValues=x", /maxValues must be an integer in 1…100, got 'x'/],
      ["maxValues=3", /maxValues applies only with segment/],
      ["segment=merchant", /segment: segment feature 'merchant' is not a feature of fraud version 1/],
    ] as const) {
      const r = await perf(q);
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.match(r.json().error, error);
    }
  } finally {
    await s.close();
  }
});

test("GET /drift?segment=…: drift per value, bad segments refused; `ballast report drift --deployment --segment` prints them", async () => {
  const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  try {
    await withReference(s);
    s.clock.t = Date.now() - 60_000; // the CLI asks for the last 7 days of real time
    const shifted = fraudRows(5, 1200).map((r) => (r.night === 1 ? { ...r, amount: r.amount * 3 } : r));
    for (let i = 0; i < shifted.length; i += 100) await predict(s, shifted.slice(i, i + 100));
    const drift = (q: string) => s.app.inject(`/api/v1/deployments/fraud/drift?${q}`);
    const r = (await drift("segment=night")).json();
    assert.deepEqual(r.segment, { feature: "night", maxValues: 20, values: r.segment.values });
    const segs = r.groups[0].segments as Array<{
      segment: string;
      rows: number;
      drift: { features: Array<{ feature: string; drifted: boolean }> };
    }>;
    assert.deepEqual(segs.map((x) => x.segment).sort(), ["0", "1"]);
    const amount = (v: string) =>
      segs.find((x) => x.segment === v)?.drift.features.find((f) => f.feature === "amount")?.drifted;
    assert.equal(amount("1"), true);
    assert.equal(amount("0"), false);
    assert.ok(
      segs.every((x) => !x.drift.features.some((f) => f.feature === "night")),
      "the segment's own feature is not tested in it",
    );
    const hours = (await drift("segment=hour&maxValues=4")).json().groups[0].segments as Array<{
      segment: string;
      rows: number;
    }>;
    assert.equal(hours.length, 5);
    assert.equal(hours[4]?.segment, "__other__");
    assert.equal(
      hours.reduce((n, x) => n + x.rows, 0),
      1200,
    );
    for (const [q, error] of [
      [
        "segment=merchant",
        /segment: 'merchant' is not an input feature of the reference profiles.*amount, hour, night/,
      ],
      ["segment=night&maxValues=101", /maxValues must be an integer in 1…100, got 101/],
    ] as const) {
      const bad = await drift(q);
      assert.equal(bad.statusCode, 400, bad.body);
      assert.match(bad.json().error, error);
    }

    await s.app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
    const cli = await run([
      "report",
      "drift",
      "--deployment",
      "fraud",
      "--window",
      "last-7d",
      "--segment",
      "night",
      "--server",
      url,
    ]);
    assert.equal(cli.status, 0, cli.stderr);
    // Each segment is tested against the whole reference: `hour` differs by night by construction
    // and reads as drift in both segments (see README); `amount` moved at night only.
    const amountIn = (value: string) =>
      new RegExp(
        `variant stable, night = ${value} \\(\\d+ rows\\)[^\\n]*\\n[^\\n]*\\namount +numerical +\\S+ +(?:exact|sketch ±\\S+) +\\S+ +\\S+ +(yes|no)`,
      ).exec(cli.stdout)?.[1];
    assert.equal(amountIn("1"), "yes", cli.stdout);
    assert.equal(amountIn("0"), "no", cli.stdout);
    const wrong = await run([
      "report",
      "drift",
      "--deployment",
      "fraud",
      "--segment",
      "merchant",
      "--server",
      url,
    ]);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /'merchant' is not an input feature/);
    assert.equal(wrong.stderr.trim().split("\n").length, 1);
  } finally {
    await s.close();
  }
});

/** The CLI as a child process, without blocking this process (its server answers it). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
