/**
 * A server that has had the traffic every Grafana panel and Prometheus rule in deploy/ watches:
 * inferences (good, refused, shed, answered by a fallback, mirrored to a shadow), feedback
 * (matched, unmatched, over the rate limit), a drift monitor that evaluated a window, a
 * performance monitor judged on late labels with its alert pending, a canary rollout that took
 * a step, a pipeline run that succeeded and one that failed, and a router over an instrument
 * answering while bars arrive (one specialist failing, one batch refused). Time passes on the
 * injected clock only.
 */
import { startTestServer, type TestServer } from "./app.js";
import { fraudRows } from "./traffic.js";
import { fraudLabels, sendFraudTraffic } from "./fraud-requests.js";
import { FRAUD_ACCURACY, stepMonitors, watchFraudDrift } from "./monitors.js";
import { startShopCanary } from "./canary.js";
import { pipelineManifest, runPipeline } from "./pipeline-runs.js";
import { registerRemoteModel, startRemoteModel, type RemoteModel } from "./remote-model.js";
import {
  apply,
  askAcrossRegimes,
  BASE,
  CALM,
  deploy,
  deploySpecialists,
  FAILING_SPECIALIST,
  MARKET_BARS,
  postBars,
  registerClassifier,
  router,
  TURBULENT,
} from "./router-fixtures.js";
import { injectStepKinds } from "../../src/pipelines/steps/index.js";
import { testKinds } from "../pipelines/test-kinds.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface TrafficServer extends TestServer {
  /** Ends the server, the remote model and the test step kinds. */
  stop(): Promise<void>;
}

/** Fails the seeding with what the server said, so a broken step is named rather than missed. */
function expect(status: number, res: { statusCode: number; body: string }, what: string): void {
  if (res.statusCode !== status) throw new Error(`${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
}

export async function serverWithTraffic(): Promise<TrafficServer> {
  const restoreKinds = injectStepKinds(testKinds().kinds);
  const s = await startTestServer({
    ballast: { pipelineTicker: false, predictionLog: { flushIntervalMs: MINUTE } },
  });
  const remote = await startRemoteModel();
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

async function seed(s: TestServer, remote: RemoteModel): Promise<void> {
  const b = s.ballast;
  s.clock.t = 100 * HOUR;

  // Drift: a reference for fraud v1 and a monitor whose 200-row window closes and is evaluated.
  await watchFraudDrift(b);
  // Performance: accuracy on late labels, judged below its threshold (its alert goes pending).
  const put = await s.app.inject({
    method: "PUT",
    url: "/api/v1/monitors/fraud-accuracy",
    payload: FRAUD_ACCURACY,
  });
  expect(200, put, "performance monitor");
  await stepMonitors(s, 0);

  const rows = fraudRows(2, 200, 3);
  await sendFraudTraffic(s, rows, (from) => ({ "x-request-id": `batch-${from}` }));
  expect(
    400,
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: { inputs: [{}] } }),
    "a refused inference",
  );
  await stepMonitors(s, HOUR);
  // Labels for the first batch, every other one contradicting the model (accuracy 0.5), and one
  // for a request nobody made.
  const feedback = [
    ...fraudLabels("batch-0", rows, 0, 50, (i) => i % 2 === 0),
    { request_id: "nobody-asked", row: 0, label: 1 },
  ];
  expect(200, await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } }), "feedback");
  await stepMonitors(s, MINUTE);
  // Over the feedback rate: a full call fits the burst, the next is refused.
  const burst = Array.from({ length: 10_000 }, (_, i) => ({ request_id: `burst-${i}`, label: 1 }));
  await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback: burst } });
  expect(
    429,
    await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback: burst.slice(0, 10) } }),
    "feedback over its rate",
  );

  // A canary that takes its first step, and a deployment with a shadow (both serve fraud v2).
  await startShopCanary(s, [{ setWeight: 20 }, { pause: {} }]);
  await b.deployments.put({
    name: "mirror",
    variants: [
      { name: "stable", model: "fraud", ref: { version: 1 }, weight: 100 },
      { name: "shadow", model: "fraud", ref: { version: 2 }, weight: 100, shadow: true },
    ],
  });
  await b.endpoints.sync();
  const mirrored = await s.app.inject({
    method: "POST",
    url: "/v1/models/mirror:predict",
    payload: { instances: rows.slice(0, 20) },
  });
  expect(200, mirrored, "mirror predictions");
  await b.inference.shadows.idle();

  // A remote model behind a concurrency limit, a breaker and a fallback: one request held, the
  // next shed; then the model fails and the fallback answers.
  await registerRemoteModel(s, remote);
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
  await remote.heldCount(1);
  expect(503, await guarded(), "a request over maxConcurrency");
  remote.state.held.forEach((answer) => answer());
  expect(200, await first, "the held request");
  remote.state.mode = "error";
  const fallen = await guarded();
  expect(200, fallen, "a fallback answer");
  if (fallen.headers["x-ballast-fallback"] !== "error") throw new Error("the fallback did not answer");

  // Pipelines: one run succeeds, one fails (no retries).
  await b.resources.apply({
    manifests: [
      pipelineManifest(
        "retrain",
        {
          steps: [
            { name: "data", emit: { value: "ab" } },
            { name: "twice", double: { input: "data" } },
          ],
        },
        "traffic",
      ),
      pipelineManifest(
        "broken",
        { steps: [{ name: "data", emit: { value: "x", failTimes: 99 }, retries: 0 }] },
        "traffic",
      ),
    ],
    source: { via: "api" },
  });
  for (const name of ["retrain", "broken"]) await runPipeline(s, name, "traffic", 1000);

  // Markets: an instrument fed bars, a router over it answering at a calm and a turbulent bar
  // (one specialist always fails), the bars after bringing outcomes, and a conflicting bar.
  await deploySpecialists(s);
  await deploy(s, "failing", FAILING_SPECIALIST);
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
  await askAcrossRegimes(s, "wired", [[CALM], [TURBULENT]]);
  const stored = MARKET_BARS[3] as { time: string; close: number };
  expect(
    409,
    await postBars(s, "cac", [{ time: stored.time, close: stored.close * 2 }]),
    "a conflicting bar",
  );

  await stepMonitors(s, MINUTE);
}
