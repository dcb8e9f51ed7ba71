/**
 * A server that has had the traffic every Grafana panel and Prometheus rule in deploy/ watches:
 * inferences (good, refused, shed, answered by a fallback, mirrored to a shadow), feedback
 * (matched, unmatched, over the rate limit), a drift monitor that evaluated a window, a
 * performance monitor judged on late labels with its alert pending, a canary rollout that took
 * a step, a pipeline run that succeeded and one that failed, and a router over an instrument
 * answering while bars arrive (one specialist failing, one batch refused). Time passes on the
 * injected clock only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectedProbability, FRAUD_FEATURES, FRAUD_MODEL, startTestServer, type TestServer } from "./app.js";
import { fraudRows } from "./traffic.js";
import {
  apply,
  BASE,
  CALM,
  deploy,
  infer,
  registerClassifier,
  router,
  TURBULENT,
  W,
} from "./router-fixtures.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { parseAnyMonitorSpec } from "../../src/monitoring/monitor-spec.js";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { testKinds } from "../pipelines/test-kinds.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface TrafficServer extends TestServer {
  /** Ends the server, the remote model and the test step kinds. */
  stop(): Promise<void>;
}

/** Fails the seeding with what the server said, so a broken step is named rather than missed. */
function expect(status: number, res: { statusCode: number; body: string }, what: string): void {
  if (res.statusCode !== status) throw new Error(`${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
}

/** A remote OIP model with the fraud signature: answers, fails, or holds requests until released. */
async function startRemote() {
  const state = { mode: "ok" as "ok" | "error" | "hold", held: [] as Array<() => void>, onHeld: () => {} };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url?.endsWith("/ready")) return send(200, { ready: true });
    if (req.method === "GET")
      return send(200, {
        name: "remote",
        inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3] }],
        outputs: [{ name: "probability", datatype: "FP32", shape: [-1] }],
        parameters: { features: FRAUD_FEATURES },
      });
    let text = "";
    req.on("data", (chunk: Buffer) => (text += chunk.toString()));
    req.on("end", () => {
      const rows = (JSON.parse(text) as { inputs: Array<{ shape: number[] }> }).inputs[0]?.shape[0] ?? 0;
      const answer = () =>
        send(200, {
          model_name: "remote",
          outputs: [{ name: "probability", datatype: "FP32", shape: [rows], data: Array(rows).fill(0.25) }],
        });
      if (state.mode === "ok") return answer();
      if (state.mode === "error") return send(500, { error: "model crashed" });
      state.held.push(answer);
      state.onHeld();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: (n: number) =>
      new Promise<void>((resolve) => {
        state.onHeld = () => void (state.held.length >= n && resolve());
        state.onHeld();
      }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Closes from returns, one bar a day, with a high and a low (ATR needs them). */
function barsOf(returns: readonly number[], start: number) {
  let close = 100;
  const bar = (i: number) => ({
    time: new Date(start + i * DAY).toISOString(),
    close,
    high: close * 1.01,
    low: close * 0.99,
  });
  const bars = [bar(0)];
  returns.forEach((r, i) => {
    close *= Math.exp(r);
    bars.push(bar(i + 1));
  });
  return bars;
}

export async function serverWithTraffic(): Promise<TrafficServer> {
  const restoreKinds = injectStepKinds(testKinds().kinds);
  const s = await startTestServer({
    ballast: { pipelineTicker: false, predictionLog: { flushIntervalMs: MINUTE } },
  });
  const remote = await startRemote();
  const stop = async () => {
    await s.close();
    await remote.close();
    restoreKinds();
  };
  try {
    await seed(s, remote);
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...s, stop };
}

async function seed(s: TestServer, remote: Awaited<ReturnType<typeof startRemote>>): Promise<void> {
  const b = s.ballast;
  s.clock.t = 100 * HOUR;
  const monitorsStep = async (ms: number) => {
    s.clock.advance(ms);
    b.monitors.tick(s.clock.now());
    await b.monitors.settled();
  };

  // Drift: a reference for fraud v1 and a monitor whose 200-row window closes and is evaluated.
  const builder = new ProfileBuilder();
  builder.add(fraudRows(1, 3000, 1));
  await b.registry.attachReference("fraud", 1, builder.finish());
  await b.monitorChanges.put(
    parseAnyMonitorSpec(
      {
        deployment: "fraud",
        features: ["amount", "hour"],
        test: "psi",
        window: { kind: "tumbling", by: "count", size: 200 },
        minSamples: 100,
      },
      "fraud-drift",
    ),
  );
  // Performance: accuracy on late labels, judged below its threshold (its alert goes pending).
  const put = await s.app.inject({
    method: "PUT",
    url: "/api/v1/monitors/fraud-accuracy",
    payload: {
      type: "performance",
      deployment: "fraud",
      metric: "accuracy",
      condition: { below: 0.8 },
      window: { bucket: "1h", buckets: 6 },
      minSamples: 20,
      evaluateEvery: "1m",
    },
  });
  expect(200, put, "performance monitor");
  await monitorsStep(0);

  const rows = fraudRows(2, 200, 3);
  for (let i = 0; i < rows.length; i += 50) {
    const r = await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "x-request-id": `batch-${i}` },
      payload: { instances: rows.slice(i, i + 50) },
    });
    expect(200, r, "fraud predictions");
    await b.monitors.settled();
  }
  expect(
    400,
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: { inputs: [{}] } }),
    "a refused inference",
  );
  await monitorsStep(HOUR);
  // Labels for the first batch, every other one contradicting the model: accuracy 0.5.
  const decision = (r: (typeof rows)[number]) =>
    expectedProbability(FRAUD_FEATURES.map((f) => r[f as keyof typeof r])) >= 0.5 ? 1 : 0;
  const feedback = rows
    .slice(0, 50)
    .map((r, i) => ({ request_id: "batch-0", row: i, label: i % 2 === 0 ? decision(r) : 1 - decision(r) }));
  feedback.push({ request_id: "nobody-asked", row: 0, label: 1 });
  expect(200, await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } }), "feedback");
  await monitorsStep(MINUTE);
  // Over the feedback rate: a full call fits the burst, the next is refused.
  const burst = Array.from({ length: 10_000 }, (_, i) => ({ request_id: `burst-${i}`, label: 1 }));
  await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback: burst } });
  expect(
    429,
    await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback: burst.slice(0, 10) } }),
    "feedback over its rate",
  );

  // A canary that takes its first step, and a deployment with a shadow (both serve fraud v2).
  const v2 = join(s.dataDir, "fraud-v2.json");
  await writeFile(v2, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
  await b.registry.registerVersion({ model: "fraud", artifactPath: v2 });
  await b.deployments.put({
    name: "shop",
    variants: [{ name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 }],
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
  });
  await b.deployments.put({
    name: "mirror",
    variants: [
      { name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 },
      { name: "shadow", model: "fraud", ref: { version: 2 }, weight: 100, shadow: true },
    ],
  });
  await b.endpoints.sync();
  await b.rollouts.start("shop", { ref: { version: 2 } });
  await b.rollouts.tick();
  const mirrored = await s.app.inject({
    method: "POST",
    url: "/v1/models/mirror:predict",
    payload: { instances: rows.slice(0, 20) },
  });
  expect(200, mirrored, "mirror predictions");
  await b.inference.shadows.idle();

  // A remote model behind a concurrency limit, a breaker and a fallback: one request held, the
  // next shed; then the model fails and the fallback answers.
  const artifact = join(s.dataDir, "remote.json");
  await writeFile(artifact, JSON.stringify({ format: "ballast.http/v1", url: remote.url, model: "remote" }));
  await b.registry.registerVersion({ model: "remote", artifactPath: artifact });
  expect(
    200,
    await s.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/guarded",
      payload: {
        variants: [
          { name: "primary", model: "remote", version: 1, weight: 100 },
          { name: "stable", model: "fraud", version: 1, weight: 0 },
        ],
        resilience: {
          maxConcurrency: 1,
          fallback: { variant: "stable" },
          circuitBreaker: { failures: 5, openMs: 30_000, halfOpenProbes: 1 },
        },
      },
    }),
    "guarded deployment",
  );
  const guarded = () =>
    s.app.inject({
      method: "POST",
      url: "/v2/models/guarded/infer",
      payload: { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [2.5, 3, 1] }] },
    });
  remote.state.mode = "hold";
  const first = guarded();
  await remote.held(1);
  expect(503, await guarded(), "a request over maxConcurrency");
  remote.state.held.forEach((answer) => answer());
  expect(200, await first, "the held request");
  remote.state.mode = "error";
  const fallen = await guarded();
  expect(200, fallen, "a fallback answer");
  if (fallen.headers["x-ballast-fallback"] !== "error") throw new Error("the fallback did not answer");

  // Pipelines: one run succeeds, one fails (no retries).
  const pipeline = (name: string, steps: object[]) => ({
    manifest: { apiVersion: "ballast/v1", kind: "Pipeline", metadata: { name }, spec: { steps } },
    origin: { file: "traffic", document: 1, line: 1 },
  });
  await b.resources.apply({
    manifests: [
      pipeline("retrain", [
        { name: "data", emit: { value: "ab" } },
        { name: "twice", double: { input: "data" } },
      ]),
      pipeline("broken", [{ name: "data", emit: { value: "x", failTimes: 99 }, retries: 0 }]),
    ],
    source: { via: "api" },
  });
  for (const name of ["retrain", "broken"]) {
    const started = await b.pipelines.start(name, {
      params: {},
      trigger: { kind: "manual", reason: "traffic" },
    });
    if (!started.started) throw new Error(started.reason);
    for (let i = 0; i < 10; i++) {
      s.clock.advance(1000);
      await b.pipelines.tick();
      await b.pipelines.settled();
      const run = await b.pipelines.get(started.runId);
      if (run?.state !== "Running" && run?.state !== "Pending") break;
    }
  }

  // Markets: an instrument fed bars, a router over it answering at a calm and a turbulent bar
  // (one specialist always fails), the bars after bringing outcomes, and a conflicting bar.
  await deploy(s, "ewma", { format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.9 });
  await deploy(s, "last", { format: "ballast.builtin/v1", kind: "last-value", window: W });
  await deploy(s, "failing", {
    format: "ballast.builtin/v1",
    kind: "har-rv",
    window: W,
    coefficients: { intercept: -1, daily: 0, weekly: 0, monthly: 0 },
  });
  await registerClassifier(s);
  expect(
    200,
    await apply(
      s,
      router("wired", {
        ...BASE,
        mode: "soft",
        instrument: "cac",
        scale: 100,
        specialists: [...BASE.specialists, { name: "failing", deployment: "failing" }],
        weights: {
          calm: { weights: { ewma: 0.5, failing: 0.5 } },
          turbulent: { weights: { ewma: 0.25, last: 0.75 } },
        },
      }),
    ),
    "router",
  );
  const bars = barsOf([...CALM, ...TURBULENT, 0.03], Date.UTC(2026, 0, 5));
  const post = (slice: object[]) =>
    s.app.inject({ method: "POST", url: "/api/v1/instruments/cac/bars", payload: { bars: slice } });
  expect(200, await post(bars.slice(0, W + 1)), "bars");
  expect(200, await infer(s, "wired", [CALM]), "router at a calm bar");
  expect(200, await post(bars.slice(W + 1, 2 * W + 1)), "bars");
  s.clock.advance(MINUTE);
  expect(200, await infer(s, "wired", [TURBULENT]), "router at a turbulent bar");
  expect(200, await post(bars.slice(2 * W + 1)), "bars");
  const stored = bars[3] as { time: string; close: number };
  expect(409, await post([{ time: stored.time, close: stored.close * 2 }]), "a conflicting bar");

  await monitorsStep(MINUTE);
}
