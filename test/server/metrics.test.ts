import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Counter, Histogram, Registry } from "prom-client";
import { startTestServer } from "../helpers/app.js";
import { DURATION_BUCKETS, InferenceSeries } from "../../src/observability/inference-series.js";

const promtool = spawnSync("promtool", ["--version"]).status === 0;

test("/metrics counts requests by deployment, model, version, variant and status", async () => {
  const s = await startTestServer({ ballast: { defaultMetrics: true } });
  try {
    const ok = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }] };
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: ok });
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: ok });
    await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: { inputs: [{}] } });
    const res = await s.app.inject("/metrics");
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /text\/plain/);
    const text = res.body;
    const series = (status: number) =>
      `ballast_inference_requests_total{deployment="fraud",model="fraud",version="1",variant="stable",status="${status}"}`;
    assert.ok(text.includes(`${series(200)} 2`), text);
    assert.ok(text.includes(`${series(400)} 1`));
    assert.match(text, /ballast_inference_duration_seconds_bucket\{le="0\.001",deployment="fraud"/);
    assert.match(
      text,
      /ballast_inference_duration_seconds_count\{deployment="fraud",model="fraud",version="1",variant="stable"\} 3/,
    );
    assert.match(text, /ballast_model_state\{model="fraud",version="1",state="ready"\} 1/);
    assert.match(text, /ballast_model_state\{model="fraud",version="1",state="loading"\} 0/);
    assert.match(text, /^ballast_prediction_log_buffer_capacity_rows \d+$/m);
  } finally {
    await s.close();
  }
});

test(
  "/metrics passes `promtool check metrics`",
  { skip: promtool ? false : "promtool is not installed (apt-get install prometheus); .ci/run installs it" },
  async () => {
    const s = await startTestServer({ ballast: { defaultMetrics: true } });
    try {
      const ok = { inputs: [{ name: "input", datatype: "FP32", shape: [1, 3], data: [1, 2, 0] }] };
      await s.app.inject({ method: "POST", url: "/v2/models/fraud/infer", payload: ok });
      await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { request_id: "x", label: 1 } });
      const text = (await s.app.inject("/metrics")).body;
      const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
      assert.equal(check.stdout.trim() + check.stderr.trim(), "", "promtool reported lint problems");
    } finally {
      await s.close();
    }
  },
);

test("the inference series scrape as prom-client's own Counter and Histogram would", async () => {
  // prom-client itself is the reference: the same observations through its instruments.
  const ours = new Registry();
  const series = new InferenceSeries(ours);
  const reference = new Registry();
  const labelNames = ["deployment", "model", "version", "variant"] as const;
  const requests = new Counter({
    name: "ballast_inference_requests_total",
    help: "Inference requests by deployment, model, version, variant and HTTP status code.",
    labelNames: [...labelNames, "status"],
    registers: [reference],
  });
  const duration = new Histogram({
    name: "ballast_inference_duration_seconds",
    help: "Time to answer an inference request, from routing to encoded response, in seconds.",
    labelNames,
    buckets: [...DURATION_BUCKETS],
    registers: [reference],
  });
  const variants = [
    ["fraud", "fraud", 1, "stable"],
    ["fraud", "fraud", 2, "canary"],
    ["mlp", "mlp-x", 7, "stable"],
  ] as const;
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let i = 0; i < 500; i++) {
    const [deployment, model, version, variant] = variants[i % 3] as (typeof variants)[number];
    const status = [200, 200, 200, 400, 503][Math.floor(random() * 5)] as number;
    // Exactly on a bound, between bounds, and beyond the last.
    const seconds = i % 50 === 0 ? 0.005 : i % 97 === 0 ? 12 : random() * random() * 0.3;
    series.observe(deployment, model, version, variant, status, seconds);
    const labels = { deployment, model, version: String(version), variant };
    requests.inc({ ...labels, status: String(status) });
    duration.observe(labels, seconds);
  }
  assert.equal(await ours.metrics(), await reference.metrics());
});
