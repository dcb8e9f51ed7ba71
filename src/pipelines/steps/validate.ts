/**
 * The validate step: the candidate and the deployment's champion scored on the same holdout
 * (streamed), gates in MLflow's MetricThreshold sense (gates.ts), and smoke tests: the
 * candidate loads through its runtime, takes the champion's inputs, gives no NaN on a sample
 * within the latency budget, and a reference profile of the training data is built for
 * monitoring. A failed gate or smoke test fails the step with every reason at once.
 *
 * Placement is `server`: the champion's artifact and the registry are there.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { invalid } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/json-value.js";
import { FLAVORS, type Flavor, type Signature } from "../../domain/model.js";
import type { Tensor } from "../../domain/tensor.js";
import { binaryLabel } from "../../monitoring/log-performance.js";
import { ClassificationAccumulator } from "../../monitoring/performance/classification.js";
import { RegressionAccumulator } from "../../monitoring/performance/regression.js";
import { ProfileBuilder } from "../../monitoring/profile/profile-builder.js";
import { invalidField } from "../../registry/field.js";
import { runtimeFor } from "../../runtimes/table.js";
import type { LoadedModel } from "../../runtimes/runtime.js";
import { readDataset, type DatasetRow } from "../datasets.js";
import { validateRegimeClassifier } from "../regime-trainer.js";
import { evaluateGates, parseGates, type Gate } from "../gates.js";
import type { ArtifactRef, StepContext, StepKind, StepResult } from "../step.js";
import { VOLATILITY_METRICS, validateVolatility } from "../volatility-validation.js";
import { inputOf, number, optionalNumber, optionalText, reference, specObject, texts } from "./fields.js";

export const CLASSIFICATION_METRICS = ["auc", "logloss", "accuracy", "precision", "recall", "f1"] as const;
export const REGRESSION_METRICS = ["rmse", "mae", "r2"] as const;
export { VOLATILITY_METRICS };
const ALL_METRICS: readonly string[] = [
  ...CLASSIFICATION_METRICS,
  ...REGRESSION_METRICS,
  ...VOLATILITY_METRICS,
];

export interface SmokeSpec {
  readonly sample: number;
  readonly latencyBudgetMs: number;
}

export interface ValidateSpec {
  readonly model: string;
  readonly holdout: string;
  /** The training data, profiled for monitoring (the holdout when absent). */
  readonly train?: string;
  /** Whose champion the candidate is compared with. */
  readonly deployment?: string;
  readonly metrics: readonly string[];
  readonly gates: readonly Gate[];
  /** Scores at or above this are positive (accuracy, precision, recall, f1). */
  readonly threshold: number;
  /** The output holding P(positive) or the prediction; default `probability`/`prediction`, else the first. */
  readonly score?: string;
  readonly label?: string;
  readonly smoke: SmokeSpec;
  /** Volatility models: the returns column and its scale (default: what the model was trained with). */
  readonly column?: string;
  readonly scale?: number;
}

function parseValidate(raw: unknown, field: string): ValidateSpec {
  const spec = specObject(raw, field, [
    "model",
    "holdout",
    "train",
    "deployment",
    "metrics",
    "gates",
    "threshold",
    "score",
    "label",
    "smoke",
    "column",
    "scale",
  ]);
  const metrics = texts(spec, "metrics", field, { optional: true });
  metrics.forEach((m, i) => {
    if (!ALL_METRICS.includes(m))
      throw invalidField(
        `${field}.metrics[${i}]`,
        `unknown metric '${m}'; expected ${ALL_METRICS.join(", ")}`,
      );
  });
  const classification = metrics.some((m) => (CLASSIFICATION_METRICS as readonly string[]).includes(m));
  const regression = metrics.some((m) => (REGRESSION_METRICS as readonly string[]).includes(m));
  const volatility = metrics.some((m) => (VOLATILITY_METRICS as readonly string[]).includes(m));
  if ([classification, regression, volatility].filter(Boolean).length > 1)
    throw invalidField(`${field}.metrics`, "mixes classification, regression and volatility metrics");
  const gates = parseGates(spec.gates, `${field}.gates`);
  gates.forEach((g, i) => {
    if (!ALL_METRICS.includes(g.metric))
      throw invalidField(`${field}.gates[${i}].metric`, `unknown metric '${g.metric}'`);
  });
  const smokeRaw =
    spec.smoke === undefined ? {} : specObject(spec.smoke, `${field}.smoke`, ["sample", "latencyBudgetMs"]);
  const deployment = optionalText(spec, "deployment", field);
  const score = optionalText(spec, "score", field);
  const label = optionalText(spec, "label", field);
  const train = spec.train === undefined ? undefined : reference(spec, "train", field);
  const column = optionalText(spec, "column", field);
  const scale = optionalNumber(spec, "scale", field);
  if (scale === 0) throw invalidField(`${field}.scale`, "expected a non-zero number");
  return {
    ...(column === undefined ? {} : { column }),
    ...(scale === undefined ? {} : { scale }),
    model: reference(spec, "model", field),
    holdout: reference(spec, "holdout", field),
    ...(train === undefined ? {} : { train }),
    ...(deployment === undefined ? {} : { deployment }),
    metrics: metrics.length > 0 ? metrics : [...new Set([...gates.map((g) => g.metric)])],
    gates,
    threshold: number(spec, "threshold", field, { min: 0, max: 1, fallback: 0.5 }),
    ...(score === undefined ? {} : { score }),
    ...(label === undefined ? {} : { label }),
    smoke: {
      sample: number(smokeRaw, "sample", `${field}.smoke`, {
        min: 1,
        max: 100_000,
        integer: true,
        fallback: 200,
      }),
      latencyBudgetMs: number(smokeRaw, "latencyBudgetMs", `${field}.smoke`, { min: 0, fallback: 1000 }),
    },
  };
}

/** A model ready to score dataset rows: its features and how to read its score. */
interface Scorer {
  readonly features: readonly string[];
  readonly model: LoadedModel;
  readonly output: string;
  /** The output's column holding the score ([-1, 2] probabilities: column 1). */
  readonly column: number;
  readonly columns: number;
  readonly datatype: "FP32" | "FP64";
}

async function scorerFor(
  path: string,
  flavor: Flavor,
  signature: Signature | null,
  features: readonly string[] | undefined,
  wanted: string | undefined,
  regression: boolean,
  who: string,
): Promise<Scorer> {
  const model = await runtimeFor(flavor).load({ artifactPath: path, signature, timeoutMs: 30_000 });
  const sig = model.signature;
  const names = features ?? sig.features ?? signature?.features;
  if (names === undefined || names.length === 0)
    throw invalid(
      `${who}: its feature names are unknown (give train.command.features, or a model whose signature names them)`,
    );
  const input = sig.inputs[0];
  if (sig.inputs.length !== 1 || input === undefined || input.shape.length !== 2)
    throw invalid(
      `${who}: expected one 2-D input [rows, ${names.length}], got ${sig.inputs.map((i) => `${i.name}${JSON.stringify(i.shape)}`).join(", ")}`,
    );
  const width = input.shape[1];
  if (width !== undefined && width !== -1 && width !== names.length)
    throw invalid(`${who}: its input takes ${width} columns but ${names.length} features are named`);
  if (input.datatype !== "FP32" && input.datatype !== "FP64")
    throw invalid(`${who}: its input is ${input.datatype}; validation feeds FP32 or FP64 features`);
  const preferred = wanted ?? (regression ? "prediction" : "probability");
  const out =
    sig.outputs.find((o) => o.name === preferred) ?? (wanted === undefined ? sig.outputs[0] : undefined);
  if (out === undefined)
    throw invalid(`${who}: no output '${preferred}' (outputs: ${sig.outputs.map((o) => o.name).join(", ")})`);
  const columns = out.shape.length === 2 && (out.shape[1] ?? 1) > 1 ? (out.shape[1] as number) : 1;
  return {
    features: names,
    model,
    output: out.name,
    column: columns === 2 ? 1 : 0,
    columns,
    datatype: input.datatype,
  };
}

function featureMatrix(scorer: Scorer, rows: readonly DatasetRow[], who: string): Tensor {
  const d = scorer.features.length;
  const data =
    scorer.datatype === "FP64" ? new Float64Array(rows.length * d) : new Float32Array(rows.length * d);
  rows.forEach((row, i) => {
    for (let j = 0; j < d; j++) {
      const name = scorer.features[j] as string;
      const v = row[name];
      const x = typeof v === "number" ? v : typeof v === "boolean" ? (v ? 1 : 0) : Number.NaN;
      if (Number.isNaN(x))
        throw invalid(
          `${who}: holdout row has no number in feature '${name}' (${JSON.stringify(v ?? null)})`,
        );
      data[i * d + j] = x;
    }
  });
  return { name: "input", datatype: scorer.datatype, shape: [rows.length, d], data } as Tensor;
}

async function scoresOf(scorer: Scorer, rows: readonly DatasetRow[], who: string): Promise<number[]> {
  const [out] = await scorer.model.infer([featureMatrix(scorer, rows, who)], { outputs: [scorer.output] });
  if (out === undefined) throw invalid(`${who}: no output`);
  const values: number[] = [];
  for (let i = 0; i < rows.length; i++) values.push(Number(out.data[i * scorer.columns + scorer.column]));
  return values;
}

/** Streaming metrics over the holdout. */
class Metrics {
  private readonly cls = new ClassificationAccumulator();
  private readonly reg = new RegressionAccumulator();
  private n = 0;
  private yMean = 0;
  private yM2 = 0;
  private sse = 0;

  constructor(private readonly regression: boolean) {}

  add(score: number, label: JsonValue, positive: JsonValue | undefined): void {
    if (this.regression) {
      if (typeof label !== "number" || !Number.isFinite(label))
        throw invalid(`holdout label ${JSON.stringify(label)} is not a number`);
      this.reg.add(score, label);
      this.n += 1;
      const delta = label - this.yMean;
      this.yMean += delta / this.n;
      this.yM2 += delta * (label - this.yMean);
      this.sse += (score - label) ** 2;
      return;
    }
    const y = binaryLabel(label, positive);
    if (y === null) throw invalid(`holdout label ${JSON.stringify(label)} is not 0/1 or a boolean`);
    this.cls.add(Math.min(1, Math.max(0, score)), y);
  }

  values(threshold: number): Record<string, number | null> {
    if (this.regression) {
      const m = this.reg.metrics();
      return { rmse: m.rmse, mae: m.mae, r2: this.n < 2 || this.yM2 === 0 ? null : 1 - this.sse / this.yM2 };
    }
    const m = this.cls.metrics(threshold);
    return {
      auc: m.rocAuc,
      logloss: m.logLoss,
      accuracy: m.accuracy,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
    };
  }
}

function metaText(ref: ArtifactRef, key: string): string | undefined {
  const v = ref.meta[key];
  return typeof v === "string" ? v : undefined;
}

export const validateStep: StepKind<ValidateSpec> = {
  kind: "validate",
  placement: "server",
  cacheable: true,
  parse: parseValidate,
  inputs: (spec) => [spec.model, spec.holdout, ...(spec.train === undefined ? [] : [spec.train])],
  // The champion can change between runs with the same candidate: part of what decides.
  async volatility(ctx) {
    if (ctx.spec.deployment === undefined || ctx.server === undefined) return undefined;
    const champion = await ctx.server.registry.champion(ctx.spec.deployment);
    return champion === null ? null : { model: champion.model, version: champion.version };
  },
  run: (ctx) => validate(ctx),
};

async function validate(ctx: StepContext<ValidateSpec>): Promise<StepResult> {
  const spec = ctx.spec;
  const modelRef = inputOf(ctx.inputs, spec.model, `${ctx.step}.validate.model`);
  const holdout = inputOf(ctx.inputs, spec.holdout, `${ctx.step}.validate.holdout`);
  // A regime classifier has no label: its own checks (degenerate regimes, holdout likelihood).
  if (modelRef.meta.task === "regime") return validateRegimeClassifier(ctx, modelRef);
  const trainData =
    spec.train === undefined ? holdout : inputOf(ctx.inputs, spec.train, `${ctx.step}.validate.train`);
  if (
    metaText(modelRef, "task") === "volatility" ||
    [...spec.metrics, ...spec.gates.map((g) => g.metric)].some((m) =>
      (VOLATILITY_METRICS as readonly string[]).includes(m),
    )
  )
    return validateVolatilityStep(
      ctx,
      modelRef,
      holdout.path,
      spec.train === undefined ? null : trainData.path,
    );
  const regression =
    spec.metrics.some((m) => (REGRESSION_METRICS as readonly string[]).includes(m)) ||
    metaText(modelRef, "task") === "regression";
  const label = spec.label ?? metaText(modelRef, "label");
  if (label === undefined)
    throw invalidField(`${ctx.step}.validate.label`, "the model does not say its label column; name it here");
  const positive = modelRef.meta.positive;
  const flavorText = metaText(modelRef, "flavor") ?? "builtin";
  if (!(FLAVORS as readonly string[]).includes(flavorText))
    throw invalid(`the model's flavor '${flavorText}' is unknown`);
  const metaFeatures = Array.isArray(modelRef.meta.features)
    ? (modelRef.meta.features as string[])
    : undefined;
  const problems: string[] = [];

  // Smoke: the candidate loads through its runtime.
  let candidate: Scorer;
  try {
    candidate = await scorerFor(
      modelRef.path,
      flavorText as Flavor,
      null,
      metaFeatures,
      spec.score,
      regression,
      "the candidate",
    );
  } catch (error) {
    throw invalid(`validation failed: the candidate does not load: ${(error as Error).message}`);
  }
  const server = ctx.server;
  const champion =
    spec.deployment === undefined || server === undefined
      ? null
      : await server.registry.champion(spec.deployment);
  let championScorer: Scorer | null = null;
  if (champion !== null) {
    championScorer = await scorerFor(
      champion.artifactPath,
      champion.flavor,
      champion.signature,
      undefined,
      spec.score,
      regression,
      `the champion (${champion.model} v${champion.version})`,
    );
    const theirs = championScorer.features.join(",");
    if (theirs !== candidate.features.join(","))
      problems.push(
        `schema: the candidate takes [${candidate.features.join(", ")}] but the champion's requests carry [${championScorer.features.join(", ")}]`,
      );
  } else if (spec.deployment !== undefined) {
    ctx.log.line(`deployment ${spec.deployment} serves no champion: change gates have no baseline`);
  }

  // One streamed pass over the holdout for both models.
  const mine = new Metrics(regression);
  const theirs = championScorer === null ? null : new Metrics(regression);
  const sample: DatasetRow[] = [];
  let nan = 0;
  let rows = 0;
  for await (const batch of readDataset(holdout.path, { signal: ctx.signal })) {
    const labelled = batch.filter((r) => r[label] !== undefined && r[label] !== null);
    if (labelled.length === 0) continue;
    for (const r of labelled) if (sample.length < spec.smoke.sample) sample.push(r);
    const scores = await scoresOf(candidate, labelled, "the candidate");
    const baseline =
      championScorer === null ? null : await scoresOf(championScorer, labelled, "the champion");
    labelled.forEach((row, i) => {
      const s = scores[i] as number;
      if (!Number.isFinite(s)) nan += 1;
      else mine.add(s, row[label] as JsonValue, positive);
      const b = baseline?.[i];
      if (theirs !== null && b !== undefined && Number.isFinite(b))
        theirs.add(b, row[label] as JsonValue, positive);
    });
    rows += labelled.length;
  }
  if (rows === 0) throw invalid(`validation failed: the holdout has no labelled rows in '${label}'`);
  if (nan > 0) problems.push(`the candidate gave ${nan} NaN or infinite scores on ${rows} holdout rows`);

  // Smoke: latency of single-row calls on the sample.
  const latencies: number[] = [];
  for (const row of sample) {
    const started = performance.now();
    await scoresOf(candidate, [row], "the candidate");
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
  if (p99 > spec.smoke.latencyBudgetMs)
    problems.push(
      `latency: p99 ${p99.toFixed(2)} ms on ${latencies.length} single-row calls is over the budget of ${spec.smoke.latencyBudgetMs} ms`,
    );

  // Smoke: the reference profile of the training data, over the candidate's features.
  const builder = new ProfileBuilder({ columns: candidate.features, clock: ctx.clock });
  for await (const batch of readDataset(trainData.path, { signal: ctx.signal })) builder.add(batch);
  const profile = builder.finish();

  const candidateMetrics = mine.values(spec.threshold);
  const championMetrics = theirs?.values(spec.threshold) ?? null;
  const failures = evaluateGates(spec.gates, candidateMetrics, championMetrics);
  const pick = (m: Record<string, number | null>) =>
    Object.fromEntries(spec.metrics.map((k) => [k, m[k] ?? null]));
  const report = {
    rows,
    candidate: pick(candidateMetrics),
    champion: championMetrics === null ? null : pick(championMetrics),
    ...(champion === null ? {} : { championVersion: { model: champion.model, version: champion.version } }),
    gates: spec.gates.map((g) => ({ ...g })),
    failures: failures.map((f) => f.message),
    smoke: { sample: latencies.length, p99LatencyMs: p99, nanScores: nan, problems },
  };
  await candidate.model.unload();
  await championScorer?.model.unload();
  const reasons = [...failures.map((f) => f.message), ...problems];
  for (const line of reasons) ctx.log.line(`FAILED ${line}`);
  if (reasons.length > 0)
    throw invalid(
      `validation failed (${reasons.length} reason${reasons.length === 1 ? "" : "s"}): ${reasons.join("; ")}`,
      {
        reasons,
        metrics: report,
      },
    );
  const metricsFile = join(ctx.workDir, "metrics.json");
  const profileFile = join(ctx.workDir, "profile.json");
  await writeFile(metricsFile, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(profileFile, JSON.stringify(profile));
  const numbers: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(report.candidate)) numbers[k] = v;
  ctx.log.line(`candidate ${JSON.stringify(report.candidate)}; champion ${JSON.stringify(report.champion)}`);
  return {
    outputs: {
      metrics: { file: metricsFile, kind: "metrics", meta: { metrics: numbers } },
      profile: { file: profileFile, kind: "profile", meta: { rows: profile.rows } },
    },
    summary: {
      rows,
      metrics: numbers,
      ...(report.champion === null ? {} : { champion: report.champion as Record<string, JsonValue> }),
    },
  };
}

/** A volatility specialist: a walk forward over the holdout against the champion (volatility-validation.ts). */
async function validateVolatilityStep(
  ctx: StepContext<ValidateSpec>,
  modelRef: ArtifactRef & { readonly path: string },
  holdout: string,
  train: string | null,
): Promise<StepResult> {
  const spec = ctx.spec;
  const column = spec.column ?? metaText(modelRef, "column");
  if (column === undefined)
    throw invalidField(
      `${ctx.step}.validate.column`,
      "the model does not say which column holds the returns; name it here",
    );
  const metaScale = modelRef.meta.scale;
  const scale = spec.scale ?? (typeof metaScale === "number" ? metaScale : 1);
  const flavorText = metaText(modelRef, "flavor") ?? "builtin";
  if (!(FLAVORS as readonly string[]).includes(flavorText))
    throw invalid(`the model's flavor '${flavorText}' is unknown`);
  const champion =
    spec.deployment === undefined || ctx.server === undefined
      ? null
      : await ctx.server.registry.champion(spec.deployment);
  if (champion === null && spec.deployment !== undefined)
    ctx.log.line(`deployment ${spec.deployment} serves no champion: comparison gates have no baseline`);
  const metrics = spec.metrics.length > 0 ? spec.metrics : [...VOLATILITY_METRICS];
  const { report, candidate, failures, problems, profile } = await validateVolatility(
    ctx,
    { metrics, gates: spec.gates, column, scale, smoke: spec.smoke },
    { model: modelRef.path, flavor: flavorText as Flavor, holdout, train },
    champion,
  );
  const reasons = [...failures.map((f) => f.message), ...problems];
  for (const line of reasons) ctx.log.line(`FAILED ${line}`);
  if (reasons.length > 0)
    throw invalid(
      `validation failed (${reasons.length} reason${reasons.length === 1 ? "" : "s"}): ${reasons.join("; ")}`,
      { reasons, metrics: report },
    );
  const metricsFile = join(ctx.workDir, "metrics.json");
  const profileFile = join(ctx.workDir, "profile.json");
  await writeFile(metricsFile, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(profileFile, JSON.stringify(profile));
  const numbers: Record<string, JsonValue> = { ...candidate };
  ctx.log.line(`candidate ${JSON.stringify(report.candidate)}; champion ${JSON.stringify(report.champion)}`);
  return {
    outputs: {
      metrics: { file: metricsFile, kind: "metrics", meta: { metrics: numbers } },
      profile: { file: profileFile, kind: "profile", meta: { rows: profile.rows } },
    },
    summary: {
      rows: report.rows ?? 0,
      metrics: numbers,
      ...(report.champion === null || report.champion === undefined ? {} : { champion: report.champion }),
    },
  };
}
