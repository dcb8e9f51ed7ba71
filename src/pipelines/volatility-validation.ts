/**
 * Validation of a volatility specialist against the champion it would replace: a walk forward
 * over the holdout in which, for every held-out period t, each model forecasts the variance of
 * r_t from the W returns before it (its own window; the last returns of the training data are
 * the context of the first periods, never a forecast target), through its runtime (builtin,
 * onnx or http alike: the `returns` -> `variance` contract, column 0 of the output being the
 * one-step forecast). Only then is r_t compared: the realized proxy is r_t² in the model's
 * scale (the validate step's `scale`, else the one the model was trained with).
 *
 * Metrics (gates.ts knows their directions):
 * - qlike: Patton's QLIKE, mean of σ²/h − log(σ²/h) − 1 over the periods with a non-zero
 *   return (log 0 is undefined; they are counted as zeroReturns); lower is better;
 * - mse: mean of (r² − h)² over every period; lower is better;
 * - with a champion, on the candidate's side only: qlike_ratio and mse_ratio (candidate over
 *   champion: 1.02 is 2% worse), dm_statistic (Diebold–Mariano with the Harvey–Leybourne–
 *   Newbold correction, evaluation.ts, on the QLIKE loss differential candidate − champion:
 *   negative when the candidate does better), dm_p_value (one-sided: the candidate's loss is
 *   lower, H1 "less"; small means significantly better) and dm_p_value_worse (one-sided the
 *   other way: small means significantly worse). Two models whose losses are identical in
 *   every period (the same refit) have dm_statistic 0 and both one-sided p-values 0.5.
 *
 * So "nothing is deployed that does worse than the champion on the holdout" is the gate
 * `{metric: qlike_ratio, threshold: 1}`, and "not significantly worse" is
 * `{metric: dm_p_value_worse, threshold: 0.05}`.
 */
import { performance } from "node:perf_hooks";
import { invalid } from "../domain/errors.js";
import type { JsonValue } from "../domain/json-value.js";
import type { Flavor, Signature } from "../domain/model.js";
import type { Tensor } from "../domain/tensor.js";
import { dieboldMariano, qlike } from "../markets/evaluation.js";
import { ProfileBuilder } from "../monitoring/profile/profile-builder.js";
import type { ReferenceProfile } from "../monitoring/profile/reference-profile.js";
import { runtimeFor } from "../runtimes/table.js";
import type { LoadedModel } from "../runtimes/runtime.js";
import { readDataset } from "./datasets.js";
import { evaluateGates, type Gate, type GateFailure } from "./gates.js";
import type { Champion, StepContext } from "./step.js";
import { readReturns } from "./volatility-trainer.js";

export const VOLATILITY_METRICS = [
  "qlike",
  "mse",
  "qlike_ratio",
  "mse_ratio",
  "dm_statistic",
  "dm_p_value",
  "dm_p_value_worse",
] as const;

/** Windows forecast per inference call. */
const ROWS_PER_CALL = 2048;

type Metrics = Record<string, number | null>;

export interface VolatilityMetrics {
  readonly candidate: Metrics;
  readonly champion: Metrics | null;
  readonly periods: number;
  /** Periods left out of QLIKE because r_t = 0. */
  readonly zeroReturns: number;
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The metrics of the candidate (and the champion) from aligned forecasts; pure. */
export function volatilityMetrics(
  realized: ArrayLike<number>,
  candidate: ArrayLike<number>,
  champion: ArrayLike<number> | null,
): VolatilityMetrics {
  const n = realized.length;
  const qc: number[] = [];
  const qh: number[] = [];
  const sc: number[] = [];
  const sh: number[] = [];
  let zeroReturns = 0;
  for (let t = 0; t < n; t++) {
    const y = realized[t] as number;
    const c = candidate[t] as number;
    const h = champion === null ? Number.NaN : (champion[t] as number);
    sc.push((y - c) ** 2);
    if (champion !== null) sh.push((y - h) ** 2);
    if (y > 0) {
      qc.push(qlike(y, c));
      if (champion !== null) qh.push(qlike(y, h));
    } else zeroReturns++;
  }
  const mine: Metrics = { qlike: mean(qc), mse: mean(sc) };
  if (champion === null) return { candidate: mine, champion: null, periods: n, zeroReturns };
  const theirs: Metrics = { qlike: mean(qh), mse: mean(sh) };
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || !(b > 0) ? null : a / b);
  return {
    candidate: {
      ...mine,
      qlike_ratio: ratio(mine.qlike ?? null, theirs.qlike ?? null),
      mse_ratio: ratio(mine.mse ?? null, theirs.mse ?? null),
      ...dmOf(qc, qh),
    },
    champion: theirs,
    periods: n,
    zeroReturns,
  };
}

function dmOf(candidate: readonly number[], champion: readonly number[]): Metrics {
  const none = { dm_statistic: null, dm_p_value: null, dm_p_value_worse: null };
  if (candidate.length < 3) return none;
  const d0 = (candidate[0] as number) - (champion[0] as number);
  if (candidate.every((c, i) => c - (champion[i] as number) === d0)) {
    // The same forecasts: no evidence either way (t = 0). A constant non-zero gap has no variance.
    return d0 === 0 ? { dm_statistic: 0, dm_p_value: 0.5, dm_p_value_worse: 0.5 } : none;
  }
  const less = dieboldMariano(candidate, champion, { losses: true, alternative: "less" });
  const greater = dieboldMariano(candidate, champion, { losses: true, alternative: "greater" });
  return { dm_statistic: less.statistic, dm_p_value: less.pValue, dm_p_value_worse: greater.pValue };
}

/** A model loaded to forecast variances from windows of returns. */
export interface Forecaster {
  readonly who: string;
  readonly model: LoadedModel;
  readonly window: number;
  readonly input: string;
  readonly datatype: "FP32" | "FP64";
  readonly output: string;
}

export async function forecasterFor(
  path: string,
  flavor: Flavor,
  signature: Signature | null,
  who: string,
): Promise<Forecaster> {
  const model = await runtimeFor(flavor).load({ artifactPath: path, signature, timeoutMs: 30_000 });
  const sig = model.signature;
  const input = sig.inputs[0];
  const window = input?.shape[1];
  if (sig.inputs.length !== 1 || input === undefined || input.shape.length !== 2 || window === undefined)
    throw invalid(
      `${who}: a volatility model takes one input [rows, window] of returns, got ${sig.inputs.map((i) => `${i.name}${JSON.stringify(i.shape)}`).join(", ")}`,
    );
  if (!(window > 0)) throw invalid(`${who}: its input [-1, ${window}] does not say its window`);
  if (input.datatype !== "FP32" && input.datatype !== "FP64")
    throw invalid(`${who}: its input is ${input.datatype}; returns are FP32 or FP64`);
  const out = sig.outputs.find((o) => o.name === "variance") ?? sig.outputs[0];
  if (out === undefined) throw invalid(`${who}: it has no output`);
  return { who, model, window, input: input.name, datatype: input.datatype, output: out.name };
}

/**
 * One-step forecasts for periods from..series.length−1, each from the window of returns
 * before it. Forecasts that are not a positive finite variance are NaN and counted; a model
 * that refuses a batch (the builtin specialists refuse a non-positive variance) is reported.
 */
export async function oneStepForecasts(
  f: Forecaster,
  series: Float64Array,
  from: number,
  signal: AbortSignal,
): Promise<{ forecasts: Float64Array; bad: number; error?: string }> {
  const n = series.length - from;
  const forecasts = new Float64Array(n).fill(Number.NaN);
  let bad = 0;
  for (let start = 0; start < n; start += ROWS_PER_CALL) {
    if (signal.aborted) throw signal.reason ?? invalid("cancelled");
    const rows = Math.min(ROWS_PER_CALL, n - start);
    let out: Tensor | undefined;
    try {
      [out] = await f.model.infer([windowsTensor(f, series, from + start, rows)], { outputs: [f.output] });
    } catch (error) {
      return { forecasts, bad: n, error: `${f.who} could not forecast: ${(error as Error).message}` };
    }
    if (out === undefined) return { forecasts, bad: n, error: `${f.who} gave no output` };
    const columns = out.shape.length === 2 ? (out.shape[1] as number) : 1;
    for (let i = 0; i < rows; i++) {
      const v = Number(out.data[i * columns]);
      if (Number.isFinite(v) && v > 0) forecasts[start + i] = v;
      else bad++;
    }
  }
  return { forecasts, bad };
}

function windowsTensor(f: Forecaster, series: Float64Array, first: number, rows: number): Tensor {
  const w = f.window;
  const data = f.datatype === "FP64" ? new Float64Array(rows * w) : new Float32Array(rows * w);
  for (let i = 0; i < rows; i++) data.set(series.subarray(first + i - w, first + i), i * w);
  return { name: f.input, datatype: f.datatype, shape: [rows, w], data } as Tensor;
}

export interface VolatilityValidation {
  readonly metrics: readonly string[];
  readonly gates: readonly Gate[];
  readonly column: string;
  readonly scale: number;
  readonly smoke: { readonly sample: number; readonly latencyBudgetMs: number };
}

export interface VolatilityReport {
  readonly report: Record<string, JsonValue>;
  readonly candidate: Metrics;
  readonly failures: readonly GateFailure[];
  readonly problems: readonly string[];
  readonly profile: ReferenceProfile;
}

/**
 * The walk forward, the gates and the smoke checks. `train` (the training data) gives the
 * first periods their context; without it the first max(W) held-out returns are context only.
 */
export async function validateVolatility(
  ctx: StepContext<unknown>,
  spec: VolatilityValidation,
  paths: { model: string; flavor: Flavor; holdout: string; train: string | null },
  champion: Champion | null,
): Promise<VolatilityReport> {
  const problems: string[] = [];
  let candidate: Forecaster;
  try {
    candidate = await forecasterFor(paths.model, paths.flavor, null, "the candidate");
  } catch (error) {
    throw invalid(`validation failed: the candidate does not load: ${(error as Error).message}`);
  }
  const championName = champion === null ? "" : `the champion (${champion.model} v${champion.version})`;
  let theirs: Forecaster | null = null;
  try {
    if (champion !== null)
      theirs = await forecasterFor(champion.artifactPath, champion.flavor, champion.signature, championName);
    const width = Math.max(candidate.window, theirs?.window ?? 0);
    const held = await readReturns(paths.holdout, spec.column, spec.scale, ctx.signal, "the holdout");
    const context =
      paths.train === null
        ? []
        : (await readReturns(paths.train, spec.column, spec.scale, ctx.signal, "the training data")).slice(
            -width,
          );
    const series = Float64Array.from([...context, ...held]);
    const from = Math.max(context.length, width);
    if (series.length - from < 3)
      throw invalid(
        `validation failed: the holdout has ${held.length} returns; a window of ${width} leaves ${Math.max(0, series.length - from)} to forecast (at least 3)`,
      );
    ctx.log.line(
      `walk forward over ${series.length - from} held-out returns of '${spec.column}' ×${spec.scale}; candidate window ${candidate.window}${theirs === null ? "" : `, champion window ${theirs.window}`}`,
    );
    const mine = await oneStepForecasts(candidate, series, from, ctx.signal);
    if (mine.error !== undefined) problems.push(mine.error);
    else if (mine.bad > 0)
      problems.push(
        `the candidate gave ${mine.bad} forecasts that are not a positive finite variance in ${series.length - from} periods`,
      );
    const base = theirs === null ? null : await oneStepForecasts(theirs, series, from, ctx.signal);
    if (base?.error !== undefined) ctx.log.line(base.error);
    // Periods where both gave a usable forecast are compared; the candidate's bad ones are a problem above.
    const keep: number[] = [];
    for (let i = 0; i < mine.forecasts.length; i++)
      if (Number.isFinite(mine.forecasts[i]) && (base === null || Number.isFinite(base.forecasts[i])))
        keep.push(i);
    const realized = keep.map((i) => (series[from + i] as number) ** 2);
    const result =
      keep.length === 0
        ? { candidate: {}, champion: null, periods: 0, zeroReturns: 0 }
        : volatilityMetrics(
            realized,
            keep.map((i) => mine.forecasts[i] as number),
            base === null ? null : keep.map((i) => base.forecasts[i] as number),
          );

    // Smoke: latency of single-window calls.
    const latencies: number[] = [];
    const step = Math.max(1, Math.floor((series.length - from) / spec.smoke.sample));
    for (let t = from; t < series.length && latencies.length < spec.smoke.sample; t += step) {
      const started = performance.now();
      await candidate.model
        .infer([windowsTensor(candidate, series, t, 1)], { outputs: [candidate.output] })
        .catch(() => undefined);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
    if (p99 > spec.smoke.latencyBudgetMs)
      problems.push(
        `latency: p99 ${p99.toFixed(2)} ms on ${latencies.length} single-window calls is over the budget of ${spec.smoke.latencyBudgetMs} ms`,
      );

    // The reference profile of the returns the model was trained on, for monitoring.
    const builder = new ProfileBuilder({ columns: [spec.column], clock: ctx.clock });
    for await (const batch of readDataset(paths.train ?? paths.holdout, { signal: ctx.signal }))
      builder.add(batch);
    const profile = builder.finish();

    const failures = evaluateGates(spec.gates, result.candidate, result.champion);
    const pick = (m: Metrics) => Object.fromEntries(spec.metrics.map((k) => [k, m[k] ?? null]));
    const report: Record<string, JsonValue> = {
      rows: result.periods,
      task: "volatility",
      column: spec.column,
      scale: spec.scale,
      zeroReturns: result.zeroReturns,
      candidate: pick(result.candidate),
      champion: result.champion === null ? null : pick(result.champion),
      ...(champion === null ? {} : { championVersion: { model: champion.model, version: champion.version } }),
      gates: spec.gates.map((g) => ({ ...g })),
      failures: failures.map((f) => f.message),
      smoke: {
        sample: latencies.length,
        p99LatencyMs: p99,
        badForecasts: mine.bad,
        problems: [...problems],
      },
    };
    return { report, candidate: pick(result.candidate), failures, problems, profile };
  } finally {
    await candidate.model.unload();
    await theirs?.model.unload();
  }
}
