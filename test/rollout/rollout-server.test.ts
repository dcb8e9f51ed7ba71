/**
 * Canary rollouts through the server: declared in YAML, stepped by the controller on an
 * injected clock, judged on click-through from feedback, promoted or rolled back by themselves.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { FRAUD_MODEL, startTestServer, type TestServer } from "../helpers/app.js";
import { readManifests } from "../../src/resources/manifest.js";
import { createRandom } from "../../src/sim/random.js";

const deploymentYaml = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    canary:
      steps:
        - setWeight: 20
        - analysis: {duration: 30m}
        - setWeight: 60
      analysis:
        interval: 10s
        alpha: 0.01
        minimumDetectableHarm: 0.05
        gates:
          - {metric: error_rate, margin: 0.01, minSamples: 50}
          - {metric: event_rate, event: click, margin: 0.05, minSamples: 200}
`;

interface RolloutView {
  rollout: {
    phase: string;
    abortedBy?: string;
    weight: number;
    step: number;
    message: string;
    canary: { version: number };
    startedAt: number;
    conditions?: Array<{ type: string; status: string; reason: string; lastTransitionTime: number }>;
  } | null;
  gates: Array<{ gate: string; decision: string; detail: string }>;
}

async function setUp(server: TestServer): Promise<void> {
  for (const intercept of [-2, -1]) {
    const path = join(server.dataDir, `fraud${intercept}.json`);
    await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept }));
    await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
  }
}

/** A test server with fraud v1 (deployed as `fraud`), v2 and v3 for the suite, closed after it. */
function serverPerSuite(use: (server: TestServer) => void): void {
  let server: TestServer | undefined;
  before(async () => {
    // The variant split is seeded as well as the clicks: which requests the canary serves, and so
    // each variant's click-through, is the same on every run (and under load).
    const split = createRandom(20261205);
    server = await startTestServer({ ballast: { random: () => split.uniform() } });
    await setUp(server);
    use(server);
  });
  after(async () => server?.close());
}

async function apply(
  server: TestServer,
  yaml: string,
): Promise<Awaited<ReturnType<TestServer["app"]["inject"]>>> {
  const resources = readManifests(yaml, "shop.yaml").map((m) => ({ manifest: m.manifest, origin: m.origin }));
  return server.app.inject({ method: "POST", url: "/api/v1/apply", payload: { resources } });
}

/** Sends `n` requests; each variant's responses are clicked with its own probability. */
async function traffic(
  server: TestServer,
  n: number,
  clickRate: Record<string, number>,
  seed: number,
): Promise<void> {
  const rng = createRandom(seed);
  const served = server.ballast.endpoints.get("shop").variants;
  const variantOf = new Map(served.map((v) => [v.version.version, v.variant.name]));
  for (let i = 0; i < n; i++) {
    const res = await server.app.inject({
      method: "POST",
      url: "/v1/models/shop:predict",
      payload: { instances: [{ amount: rng.uniform() * 3, hour: 12, night: 0 }] },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { request_id: string; model_version: string };
    const variant = variantOf.get(Number(body.model_version)) ?? "?";
    if (rng.bernoulli(clickRate[variant] ?? 0) === 1) {
      const fb = await server.app.inject({
        method: "POST",
        url: "/v1/feedback",
        payload: { request_id: body.request_id, event: "click" },
      });
      assert.equal(fb.statusCode, 200, fb.body);
    }
  }
}

async function status(server: TestServer): Promise<RolloutView> {
  return (await server.app.inject({ url: "/api/v1/deployments/shop/rollout" })).json() as RolloutView;
}

async function tick(server: TestServer, seconds: number): Promise<void> {
  server.clock.advance(seconds * 1000);
  await server.ballast.rollouts.tick();
}

describe("canary rollout of a good version, declared in YAML", () => {
  let server!: TestServer;
  serverPerSuite((s) => (server = s));

  test("a new deployment starts on its version directly; changing the version starts a canary", async () => {
    assert.equal((await apply(server, deploymentYaml(1))).statusCode, 200);
    assert.equal((await status(server)).rollout, null);
    const res = await apply(server, deploymentYaml(2));
    assert.equal(res.statusCode, 200, res.body);
    const s = await status(server);
    assert.equal(s.rollout?.phase, "Progressing");
    assert.equal(s.rollout?.weight, 20);
    const weights = server.ballast.endpoints
      .get("shop")
      .variants.map((v) => [v.variant.name, v.version.version, v.variant.weight]);
    assert.deepEqual(weights, [
      ["stable", 1, 80],
      ["canary", 2, 20],
    ]);
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Progressing");
    const again = await apply(server, deploymentYaml(2));
    assert.equal(again.statusCode, 200, "re-applying the version being rolled out is not a conflict");
    const other = await apply(server, deploymentYaml(3));
    assert.equal(other.statusCode, 409);
    assert.match(
      (other.json() as { error: string }).error,
      /is rolling out v2; promote or abort that rollout before declaring v3/,
    );
  });

  test("equal click-through: gates pass, the canary steps up and is promoted; the champion alias follows", async () => {
    await traffic(server, 1500, { stable: 0.3, canary: 0.3 }, 1);
    await tick(server, 10);
    let s = await status(server);
    assert.equal(s.gates.find((g) => g.gate === "error_rate")?.decision, "pass", JSON.stringify(s.gates));
    for (let round = 0; round < 10 && s.rollout?.phase === "Progressing"; round++) {
      await traffic(server, 1500, { stable: 0.3, canary: 0.3 }, 10 + round);
      await tick(server, 10);
      s = await status(server);
    }
    assert.equal(s.rollout?.phase, "Succeeded", JSON.stringify(s));
    const completed = s.rollout?.conditions?.find((c) => c.type === "Completed");
    assert.deepEqual([completed?.status, completed?.reason], ["True", "Promoted"]);
    assert.ok((completed?.lastTransitionTime ?? 0) > (s.rollout?.startedAt ?? Infinity));
    const served = server.ballast.endpoints
      .get("shop")
      .variants.map((v) => [v.variant.name, v.version.version, v.variant.weight]);
    assert.deepEqual(served, [["stable", 2, 100]]);
    assert.equal((await server.ballast.registry.resolve("fraud", { alias: "champion" })).version, 2);
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Synced");
    const events = (
      await server.app.inject({ url: "/api/v1/events?kind=Deployment&name=shop&limit=100" })
    ).json() as {
      events: Array<{ reason: string; details: { step: number; weight: number; phase: string } }>;
    };
    const reasons = events.events.map((e) => e.reason);
    for (const r of ["RolloutStarted", "StepWeight", "AnalysisSuccessful", "Promoted"])
      assert.ok(reasons.includes(r), reasons.join(","));
    // The last tick passed the analysis, set 60% and promoted: each event carries its own step
    // and weight, not the promoted state at the end of that tick.
    const of = (reason: string) =>
      events.events
        .filter((e) => e.reason === reason)
        .map((e) => [e.details.step, e.details.weight, e.details.phase])
        .sort();
    assert.deepEqual(of("StepWeight"), [
      [1, 20, "Progressing"],
      [3, 60, "Progressing"],
    ]);
    assert.deepEqual(of("AnalysisSuccessful"), [[2, 20, "Progressing"]]);
    assert.deepEqual(of("Promoted"), [[3, 100, "Succeeded"]]);
  });

  test("undo puts the previous stable version back at once", async () => {
    const res = await server.app.inject({
      method: "POST",
      url: "/api/v1/deployments/shop/rollout/undo",
      payload: {},
    });
    assert.equal(res.statusCode, 200, res.body);
    // The view is the last rollout as it ended (Succeeded); `undone` says what undo did.
    assert.match(
      (res.json() as { undone: string }).undone,
      /^promotion of fraud v\d+ undone: v1 is stable again and champion points at it$/,
    );
    const served = server.ballast.endpoints.get("shop").variants.map((v) => v.version.version);
    assert.deepEqual(served, [1]);
    assert.equal((await server.ballast.registry.resolve("fraud", { alias: "champion" })).version, 1);
  });
});

describe("canary rollout of a worse version", () => {
  let server!: TestServer;
  serverPerSuite((s) => (server = s));

  test("a click-through drop rolls the canary back by itself; the version is marked failed; an alert goes out", async () => {
    const received: Array<{
      status: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }> = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(JSON.parse(body) as (typeof received)[number]);
        res.end("ok");
      });
    });
    receiver.listen(0, "127.0.0.1");
    await once(receiver, "listening");
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const withHook = (version: number) =>
      deploymentYaml(version).replace(
        "      analysis:\n",
        `      notifiers: [{kind: webhook, name: hook, url: "${url}"}]\n      analysis:\n`,
      );
    assert.equal((await apply(server, withHook(1))).statusCode, 200);
    assert.equal((await apply(server, withHook(3))).statusCode, 200);
    let s = await status(server);
    for (let round = 0; round < 8 && s.rollout?.phase === "Progressing"; round++) {
      await traffic(server, 800, { stable: 0.3, canary: 0.1 }, 100 + round);
      await tick(server, 10);
      s = await status(server);
    }
    assert.equal(s.rollout?.phase, "Aborted", JSON.stringify(s));
    assert.equal(s.rollout?.abortedBy, "analysis", "an automatic rollback, told apart from an abort");
    // Kubernetes-style conditions in the view: aborted by its analysis, unhealthy, not progressing.
    const conditions = Object.fromEntries(
      (s.rollout?.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]),
    );
    assert.deepEqual(conditions.Aborted, ["True", "AnalysisFailed"]);
    assert.deepEqual(conditions.Healthy, ["False", "AnalysisFailed"]);
    assert.deepEqual(conditions.Progressing, ["False", "AnalysisFailed"]);
    assert.match(
      s.rollout?.message ?? "",
      /event_rate\(click\): canary .* vs stable .* worse by more than 5\.00%/,
    );
    const served = server.ballast.endpoints.get("shop").variants.filter((v) => v.variant.weight > 0);
    assert.deepEqual(
      served.map((v) => [v.variant.name, v.version.version, v.variant.weight]),
      [["stable", 1, 100]],
    );
    const v3 = await server.ballast.registry.getVersion("fraud", 3);
    assert.equal(v3.tags.rollout, "failed");
    const view = (await server.app.inject({ url: "/api/v1/resources/deployment/shop" })).json() as {
      status: { sync: string };
    };
    assert.equal(view.status.sync, "Degraded");
    const events = (
      await server.app.inject({ url: "/api/v1/events?kind=Deployment&name=shop&limit=100" })
    ).json() as {
      events: Array<{ reason: string; type: string }>;
    };
    assert.ok(events.events.some((e) => e.reason === "RolledBack" && e.type === "Warning"));
    await server.ballast.alerts.idle();
    receiver.close();
    assert.equal(received.length, 1);
    assert.equal(received[0]?.labels.alertname, "BallastRolloutRolledBack");
    assert.equal(received[0]?.labels.deployment, "shop");
    assert.equal(received[0]?.labels.severity, "critical");
    assert.match(
      received[0]?.annotations.summary ?? "",
      /fraud v3 rolled back at 20%: analysis failed: event_rate\(click\)/,
    );
  });

  test("actions on an ended rollout are refused with the reason; unknown actions are 400", async () => {
    const res = await server.app.inject({
      method: "POST",
      url: "/api/v1/deployments/shop/rollout/promote",
      payload: {},
    });
    assert.equal(res.statusCode, 404);
    assert.match((res.json() as { error: string }).error, /has no rollout in progress/);
    const bad = await server.app.inject({
      method: "POST",
      url: "/api/v1/deployments/shop/rollout/skip",
      payload: {},
    });
    assert.equal(bad.statusCode, 400);
    const noStrategy = await server.app.inject({
      method: "POST",
      url: "/api/v1/deployments/fraud/rollout",
      payload: { version: 2 },
    });
    assert.equal(noStrategy.statusCode, 400);
    assert.match((noStrategy.json() as { error: string }).error, /declares no rollout strategy/);
  });
});

describe("A/B test with always-valid inference", () => {
  let server!: TestServer;
  serverPerSuite((s) => (server = s));

  const abYaml = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    abTest: {event: click, weight: 50, alpha: 0.05, minimumDetectableEffect: 0.05, autoPromote: true, interval: 10s}
`;

  test("B's higher click-through wins: the verdict, effect and interval are reported and B is promoted", async () => {
    assert.equal((await apply(server, abYaml(1))).statusCode, 200);
    assert.equal((await apply(server, abYaml(2))).statusCode, 200);
    let view = (
      await server.app.inject({ url: "/api/v1/deployments/shop/rollout" })
    ).json() as RolloutView & {
      experiment?: {
        winner: string | null;
        effect: number;
        interval: { lower: number; upper: number };
        verdict: string;
      };
    };
    assert.equal(view.rollout?.weight, 50);
    for (let round = 0; round < 10 && view.rollout?.phase === "Progressing"; round++) {
      await traffic(server, 600, { stable: 0.2, canary: 0.4 }, 300 + round);
      await tick(server, 10);
      view = (await server.app.inject({ url: "/api/v1/deployments/shop/rollout" })).json() as typeof view;
    }
    assert.equal(view.rollout?.phase, "Succeeded", JSON.stringify(view));
    assert.equal(view.experiment?.winner, "B");
    assert.ok((view.experiment?.interval.lower ?? 0) > 0, "the interval excludes no effect");
    assert.ok((view.experiment?.effect ?? 0) > 0.1 && (view.experiment?.effect ?? 1) < 0.3);
    assert.match(
      view.experiment?.verdict ?? "",
      /^B wins on click rate: A .*% vs B .*% \(B − A = .*, 95% CI \[.*\], always-valid p = /,
    );
    const served = server.ballast.endpoints
      .get("shop")
      .variants.map((v) => [v.variant.name, v.version.version, v.variant.weight]);
    assert.deepEqual(served, [["stable", 2, 100]]);
  });
});

describe("champion/challenger", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await setUp(server); // v2 (intercept -2), v3 (intercept -1)
  });
  after(async () => server.close());

  test("a shadow that is right more often is found significantly better on labels and rolled out through the canary", async () => {
    const yaml = `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants:
    - {name: stable, model: fraud, version: 1, weight: 100}
    - {name: challenger, model: fraud, version: 3, weight: 100, shadow: true}
  strategy:
    canary:
      steps: [{setWeight: 10}, {pause: {}}]
    challengers: {evaluateEvery: 1m, window: 1h, alpha: 0.01}
`;
    const res = await apply(server, yaml);
    assert.equal(res.statusCode, 200, res.body);
    // Labels drawn from the challenger's own probabilities: it is the better-calibrated model.
    const rng = createRandom(5);
    for (let i = 0; i < 800; i++) {
      const x = { amount: rng.uniform() * 4, hour: rng.int(0, 23), night: rng.bernoulli(0.3) };
      const out = await server.app.inject({
        method: "POST",
        url: "/v1/models/shop:predict",
        payload: { instances: [x] },
      });
      const id = (out.json() as { request_id: string }).request_id;
      const z = -1 + 0.8 * x.amount - 0.05 * x.hour + 1.5 * x.night;
      const label = rng.bernoulli(1 / (1 + Math.exp(-z)));
      await server.app.inject({ method: "POST", url: "/v1/feedback", payload: { request_id: id, label } });
    }
    await server.ballast.inference.shadows.idle();
    const view = (await server.app.inject({ url: "/api/v1/deployments/shop/challengers" })).json() as {
      challengers: Array<{
        variant: string;
        version: number;
        pairs: number;
        test: string;
        significantlyBetter: boolean;
        summary: string;
      }>;
    };
    const c = view.challengers[0];
    assert.equal(c?.variant, "challenger");
    assert.equal(c?.pairs, 800);
    assert.equal(c?.test, "mcnemar");
    assert.equal(c?.significantlyBetter, true, c?.summary);
    await tick(server, 60);
    const status = await server.app.inject({ url: "/api/v1/deployments/shop/rollout" });
    const rollout = (status.json() as RolloutView).rollout;
    assert.equal(rollout?.canary.version, 3);
    assert.equal(rollout?.weight, 10);
    const events = (await server.app.inject({ url: "/api/v1/events?kind=Deployment&name=shop" })).json() as {
      events: Array<{ reason: string; message: string }>;
    };
    assert.match(
      events.events.find((e) => e.reason === "ChallengerBetter")?.message ?? "",
      /challenger challenger \(fraud v3\) beats the champion: accuracy challenger − champion/,
    );
  });
});

describe("blue-green", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await setUp(server);
    // v4: a model whose output overflows to Infinity, which Ballast answers as a model failure.
    const broken = join(server.dataDir, "broken.json");
    await writeFile(
      broken,
      JSON.stringify({
        format: "ballast.builtin/v1",
        kind: "linear_regression",
        features: ["amount", "hour", "night"],
        weights: [1e308, 1e308, 0],
        intercept: 0,
      }),
    );
    await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: broken });
  });
  after(async () => server.close());

  const blueGreen = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    blueGreen:
      previewHeader: x-preview
      prePromotionAnalysis: {duration: 10m}
      postPromotionAnalysis: {duration: 10m}
      analysis: {interval: 10s, gates: [{metric: error_rate, margin: 0.02, minSamples: 100}]}
`;
  const send = async (n: number, headers: Record<string, string> = {}) => {
    const versions: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await server.app.inject({
        method: "POST",
        url: "/v1/models/shop:predict",
        headers,
        payload: { instances: [{ amount: 2.5, hour: 3, night: 1 }] },
      });
      versions.push(
        res.statusCode === 200
          ? (res.json() as { model_version: string }).model_version
          : `error ${res.statusCode}`,
      );
    }
    return versions;
  };

  test("the new version takes preview traffic only, passes its analysis, is switched in at once, and stays after the post-promotion analysis", async () => {
    assert.equal((await apply(server, blueGreen(1))).statusCode, 200);
    assert.equal((await apply(server, blueGreen(2))).statusCode, 200);
    assert.deepEqual(new Set(await send(20)), new Set(["1"]), "without the header: the old version");
    assert.deepEqual(new Set(await send(20, { "x-preview": "1" })), new Set(["2"]), "with it: the preview");
    await tick(server, 10);
    await send(300);
    await send(150, { "x-preview": "1" });
    await tick(server, 10);
    let view = await status(server);
    assert.equal(view.rollout?.weight, 100, JSON.stringify(view.gates));
    assert.deepEqual(new Set(await send(20)), new Set(["2"]), "switched: everyone gets the new version");
    await tick(server, 10);
    await send(200);
    await tick(server, 10);
    view = await status(server);
    assert.equal(view.rollout?.phase, "Succeeded", JSON.stringify(view));
    const served = server.ballast.endpoints.get("shop");
    assert.deepEqual(
      served.variants.map((v) => [v.variant.name, v.version.version]),
      [["stable", 2]],
    );
    assert.equal(served.deployment.routing, undefined, "the preview rule left with the canary");
  });

  test("a version failing in preview is never switched in", async () => {
    assert.equal((await apply(server, blueGreen(4))).statusCode, 200);
    await tick(server, 10);
    await send(300);
    const preview = await send(150, { "x-preview": "1" });
    assert.ok(
      preview.every((v) => v === "error 502"),
      preview.slice(0, 3).join(),
    );
    await tick(server, 10);
    const view = await status(server);
    assert.equal(view.rollout?.phase, "Aborted", JSON.stringify(view));
    assert.deepEqual(new Set(await send(20)), new Set(["2"]));
  });
});

describe("conflicting manual actions", () => {
  let server!: TestServer;
  serverPerSuite((s) => (server = s));

  test("promote and abort sent together are serialised: one wins, the other is told the rollout has ended", async () => {
    assert.equal((await apply(server, deploymentYaml(1))).statusCode, 200);
    assert.equal((await apply(server, deploymentYaml(2))).statusCode, 200);
    const [promote, abort] = await Promise.all([
      server.app.inject({ method: "POST", url: "/api/v1/deployments/shop/rollout/promote", payload: {} }),
      server.app.inject({ method: "POST", url: "/api/v1/deployments/shop/rollout/abort", payload: {} }),
    ]);
    assert.deepEqual([promote.statusCode, abort.statusCode].sort(), [200, 404]);
    const loser = promote.statusCode === 404 ? promote : abort;
    assert.match((loser.json() as { error: string }).error, /has no rollout in progress/);
    const winner = promote.statusCode === 200 ? "Succeeded" : "Aborted";
    assert.equal((await status(server)).rollout?.phase, winner);
    const served = server.ballast.endpoints.get("shop").variants.filter((v) => v.variant.weight > 0);
    assert.equal(served.length, 1, "no half-state: one version takes all traffic");
  });
});

describe("accuracy gate on labels that arrive later", () => {
  let server!: TestServer;
  serverPerSuite((s) => (server = s));

  test("a canary that is wrong more often on labelled requests is rolled back", async () => {
    const yaml = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: shop}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {}}]
      analysis: {interval: 10s, gates: [{metric: accuracy, margin: 0.02, minSamples: 100}]}
`;
    assert.equal((await apply(server, yaml(1))).statusCode, 200);
    assert.equal((await apply(server, yaml(3))).statusCode, 200);
    const rng = createRandom(9);
    let view = await status(server);
    for (let round = 0; round < 6 && view.rollout?.phase !== "Aborted"; round++) {
      for (let i = 0; i < 200; i++) {
        const x = { amount: rng.uniform() * 3, hour: rng.int(0, 23), night: rng.bernoulli(0.3) };
        const res = await server.app.inject({
          method: "POST",
          url: "/v1/models/shop:predict",
          payload: { instances: [x] },
        });
        // Truth follows v1 (intercept -3); v3 (intercept -1) calls far more cases positive.
        const z = -3 + 0.8 * x.amount - 0.05 * x.hour + 1.5 * x.night;
        const label = rng.bernoulli(1 / (1 + Math.exp(-z)));
        const id = (res.json() as { request_id: string }).request_id;
        await server.app.inject({ method: "POST", url: "/v1/feedback", payload: { request_id: id, label } });
      }
      await tick(server, 10);
      view = await status(server);
    }
    assert.equal(view.rollout?.phase, "Aborted", JSON.stringify(view.gates));
    assert.match(
      view.rollout?.message ?? "",
      /analysis failed: accuracy: misclassified canary .* vs stable .* worse by more than 2\.00%/,
    );
  });
});
