/**
 * The step kinds of the fraud retraining loop run one after another, as the orchestrator would,
 * on N labelled production rows read from the prediction log (SQLite): seconds per step, total,
 * peak RSS. Not the orchestrator (no run store, cache or queue): the steps' own cost.
 *
 *   npx tsx bench/pipeline-steps.ts [rows=1000000] [trainer=logistic|gbt]
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBallast } from "../src/ballast.js";
import { pipelineServer } from "../src/application/pipeline-server.js";
import type { ArtifactRef, StepContext } from "../src/pipelines/step.js";
import { STEP_KINDS } from "../src/pipelines/steps/index.js";
import { asInput } from "../test/pipelines/steps/context.js";
import { FRAUD_MODEL } from "../test/helpers/app.js";

const N = Number(process.argv[2] ?? 1_000_000);
const TRAINER = process.argv[3] ?? "logistic";
const T = Date.parse("2026-11-25T12:00:00Z");
const dataDir = await mkdtemp(join(tmpdir(), "pbench-"));
const clock = { now: () => T };
const b = await openBallast({ dataDir, clock, defaultMetrics: false, rolloutTicker: false });
const modelPath = join(dataDir, "m.json");
await writeFile(modelPath, JSON.stringify(FRAUD_MODEL));
const { version } = await b.registry.registerVersion({ model: "fraud", artifactPath: modelPath });
await b.deployments.put({
  name: "fraud",
  variants: [{ name: "stable", model: "fraud", ref: { version: version.version }, weight: 100 }],
  strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
});
await b.endpoints.sync();

let t0 = performance.now();
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let s = 0; s < N; s += 1000) {
  const rows = [];
  const labels = [];
  for (let i = s; i < Math.min(N, s + 1000); i++) {
    const amount = rnd() * 6 - 3;
    const hour = Math.floor(rnd() * 24) / 4;
    const night = rnd() < 0.3 ? 1 : 0;
    const p = 1 / (1 + Math.exp(-(0.5 + 0.6 * amount - 0.2 * hour - night)));
    const requestId = `r${String(i).padStart(8, "0")}`;
    rows.push({
      requestId,
      deployment: "fraud",
      model: "fraud",
      modelVersion: 1,
      variant: "stable",
      inputs: { instances: [{ amount, hour, night }] },
      outputs: [{ name: "probability", datatype: "FP32", shape: [1], data: [0.1] }],
      latencyMs: 1,
      createdAt: T - 6 * 86_400_000 + Math.floor((i / N) * 6 * 86_400_000),
    });
    labels.push({ requestId, row: 0, kind: "label", label: rnd() < p ? 1 : 0, createdAt: T });
  }
  await b.predictions.write(rows);
  await b.predictions.upsertFeedback(labels, T);
}
console.log(`seeded ${N} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const server = pipelineServer({
  db: b.store.db,
  predictions: b.predictions,
  registry: b.registry,
  artifacts: b.artifacts,
  deployments: b.deployments,
  changes: b.changes,
  rollingTo: (d) => b.rollouts.rollingTo(d),
  events: b.events,
  fileRoots: [dataDir],
});
const inputs: Record<string, ArtifactRef & { path: string }> = {};
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);

async function step(kind: string, name: string, raw: unknown): Promise<void> {
  const k = STEP_KINDS[kind];
  if (k === undefined) throw new Error(`no step kind ${kind}`);
  const ctx: StepContext<unknown> = {
    runId: "bench-1",
    pipeline: "fraud-retrain",
    step: name,
    attempt: 1,
    spec: k.parse(raw, name),
    params: {},
    inputs,
    workDir: await mkdtemp(join(tmpdir(), `pbench-${name}-`)),
    log: { line: () => {} },
    signal: new AbortController().signal,
    clock,
    server,
  };
  const started = performance.now();
  if (k.volatility !== undefined) await k.volatility(ctx);
  const volatility = performance.now() - started;
  const result = await k.run(ctx);
  const seconds = (performance.now() - started) / 1000;
  const outputs = Object.entries(result.outputs);
  for (const [output, file] of outputs) {
    const ref = await asInput(file);
    inputs[`${name}.${output}`] = ref;
    if (outputs.length === 1) inputs[name] = ref;
  }
  const rss = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
  console.log(
    `${name}: ${seconds.toFixed(2)} s (volatility ${volatility.toFixed(0)} ms), rss ${rss} MB, ${JSON.stringify(result.summary)}`,
  );
}

t0 = performance.now();
await step("source", "data", { log: { deployment: "fraud", window: "7d" } });
await step("split", "split", { input: "data", holdout: 0.2, by: "time", timeColumn: "ts" });
await step("train", "train", {
  input: "split.train",
  builtin: { kind: TRAINER, features: ["amount", "hour", "night"], label: "label" },
});
await step("validate", "validate", {
  model: "train.model",
  holdout: "split.holdout",
  train: "split.train",
  deployment: "fraud",
  metrics: ["auc", "logloss"],
  gates: [{ metric: "auc", threshold: 0.6 }],
  smoke: { sample: 200, latencyBudgetMs: 50 },
});
await step("register", "register", {
  model: "fraud",
  from: "train.model",
  validation: "validate",
  deployment: "fraud",
});
await step("deploy", "deploy", { deployment: "fraud", mode: "canary" });
const total = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `total ${total} s, peak rss ${(peak / 2 ** 20).toFixed(0)} MB; rolling to ${JSON.stringify(await b.rollouts.rollingTo("fraud"))}`,
);
clearInterval(sampler);
await b.close();
