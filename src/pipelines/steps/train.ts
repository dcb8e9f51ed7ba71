/**
 * The train step: a builtin trainer (logistic or linear regression, streamed over a design
 * file; gradient-boosted trees) or any external program. The program gets its data and output
 * paths in the environment (BALLAST_TRAIN, BALLAST_HOLDOUT, BALLAST_OUTPUT, BALLAST_PARAMS),
 * runs in its own process group under a timeout (the whole group is killed on timeout or
 * cancel), and its output, bounded, goes into the step's log. It fails when it exits non-zero
 * or writes nothing; its artifact's flavor is what the spec says (onnx, builtin).
 */
import { builtinModelResult } from "../builtin-output.js";
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { invalid, unavailable } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/json-value.js";
import { FLAVORS, type Flavor } from "../../domain/model.js";
import type { BuiltinModel } from "../../runtimes/builtin/format.js";
import { invalidField } from "../../registry/field.js";
import { writeDesignFile, type DesignFile } from "../design-file.js";
import { streamLinearRegression, streamLogisticRegression } from "../linear-trainers.js";
import { trainGradientBoosting } from "../gbt-trainer.js";
import {
  isVolatilityTrainer,
  parseVolatilityTrain,
  trainVolatility,
  VOLATILITY_TRAINERS,
  type VolatilityTrainSpec,
} from "../volatility-trainer.js";
import {
  isRegimeTrainer,
  parseRegimeTrain,
  trainRegimeClassifier,
  type RegimeTrainSpec,
} from "../regime-trainer.js";
import type { StepContext, StepKind, StepResult } from "../step.js";
import {
  bool,
  duration,
  inputOf,
  oneOf,
  optionalNumber,
  optionalText,
  reference,
  specObject,
  stringMap,
  text,
  texts,
} from "./fields.js";
import { isPlainObject } from "../../domain/json-value.js";

export const BUILTIN_TRAINERS = ["logistic", "linear", "gbt"] as const;
export type BuiltinTrainer = (typeof BUILTIN_TRAINERS)[number];

export interface BuiltinTrainSpec {
  readonly kind: BuiltinTrainer;
  readonly features: readonly string[];
  readonly label: string;
  /** The label value meaning positive (classification), when labels are not 0/1. */
  readonly positive?: JsonValue;
  readonly l2?: number;
  readonly standardize: boolean;
  readonly maxIterations?: number;
  /** gbt: regression instead of binary classification. */
  readonly regression: boolean;
  readonly trees?: number;
  readonly depth?: number;
  readonly learningRate?: number;
  readonly bins?: number;
  readonly minLeaf?: number;
}

export interface CommandTrainSpec {
  readonly run: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** The artifact's file name in the work dir (BALLAST_OUTPUT). */
  readonly output: string;
  readonly flavor: Flavor;
  readonly params: Readonly<Record<string, JsonValue>>;
  /** What the model predicts, for validation: features, label, task. */
  readonly features?: readonly string[];
  readonly label?: string;
  /** volatility: a specialist under the `returns` -> `variance` contract (validated by QLIKE). */
  readonly task: "classification" | "regression" | "volatility";
}

export interface TrainSpec {
  readonly input: string;
  readonly holdout?: string;
  readonly builtin?: BuiltinTrainSpec;
  /** A volatility specialist refitted on a returns column (volatility-trainer.ts). */
  readonly volatility?: VolatilityTrainSpec;
  readonly command?: CommandTrainSpec;
  /** A regime classifier (`builtin.kind` markov-switching, hmm, regime-rules): regime-trainer.ts. */
  readonly regime?: RegimeTrainSpec;
}

/** Bytes of a command's stdout + stderr kept in the step log; the rest is counted. */
export const MAX_COMMAND_LOG_BYTES = 64 * 1024;
export const DEFAULT_COMMAND_TIMEOUT_MS = 30 * 60_000;

function parseTrain(raw: unknown, field: string): TrainSpec {
  const spec = specObject(raw, field, ["input", "holdout", "builtin", "command"]);
  if ((spec.builtin === undefined) === (spec.command === undefined))
    throw invalidField(field, "expected exactly one of builtin, command");
  const input = reference(spec, "input", field);
  const holdout = spec.holdout === undefined ? undefined : reference(spec, "holdout", field);
  const base = { input, ...(holdout === undefined ? {} : { holdout }) };
  if (isRegimeTrainer(spec.builtin))
    return { ...base, regime: parseRegimeTrain(spec.builtin, `${field}.builtin`) };
  if (spec.builtin !== undefined) {
    const at = `${field}.builtin`;
    if (isPlainObject(spec.builtin) && isVolatilityTrainer(spec.builtin.kind))
      return { ...base, volatility: parseVolatilityTrain(spec.builtin, at) };
    const b = specObject(spec.builtin, at, [
      "kind",
      "features",
      "label",
      "positive",
      "l2",
      "standardize",
      "maxIterations",
      "regression",
      "trees",
      "depth",
      "learningRate",
      "bins",
      "minLeaf",
    ]);
    const kind = oneOf(b, "kind", at, [...BUILTIN_TRAINERS, ...VOLATILITY_TRAINERS]) as BuiltinTrainer;
    const features = texts(b, "features", at);
    const label = text(b, "label", at);
    if (features.includes(label)) throw invalidField(`${at}.label`, `'${label}' is also a feature`);
    const optional = (key: string, range: { min?: number; max?: number; integer?: boolean }) => {
      const v = optionalNumber(b, key, at, range);
      return v === undefined ? {} : { [key]: v };
    };
    return {
      ...base,
      builtin: {
        kind,
        features,
        label,
        ...(b.positive === undefined ? {} : { positive: b.positive as JsonValue }),
        ...optional("l2", { min: 0 }),
        standardize: bool(b, "standardize", at, true),
        ...optional("maxIterations", { min: 1, integer: true }),
        regression: bool(b, "regression", at, false),
        ...optional("trees", { min: 1, max: 5000, integer: true }),
        ...optional("depth", { min: 1, max: 12, integer: true }),
        ...optional("learningRate", { min: 1e-6, max: 1 }),
        ...optional("bins", { min: 2, max: 255, integer: true }),
        ...optional("minLeaf", { min: 1, integer: true }),
      } as BuiltinTrainSpec,
    };
  }
  const at = `${field}.command`;
  const c = specObject(spec.command, at, [
    "run",
    "env",
    "timeout",
    "output",
    "flavor",
    "params",
    "features",
    "label",
    "task",
  ]);
  const run = texts(c, "run", at);
  if (c.params !== undefined && !isPlainObject(c.params))
    throw invalidField(`${at}.params`, "expected an object");
  const output = optionalText(c, "output", at) ?? "model";
  if (output.includes("/") || output.includes("\\") || output === "." || output === "..")
    throw invalidField(`${at}.output`, "expected a file name (it is written in the step's work dir)");
  const features = c.features === undefined ? undefined : texts(c, "features", at);
  const label = optionalText(c, "label", at);
  return {
    ...base,
    command: {
      run,
      env: stringMap(c, "env", at),
      timeoutMs: duration(c, "timeout", at, DEFAULT_COMMAND_TIMEOUT_MS),
      output,
      flavor: oneOf(c, "flavor", at, FLAVORS, output.endsWith(".onnx") ? "onnx" : "builtin"),
      params: (c.params ?? {}) as Record<string, JsonValue>,
      ...(features === undefined ? {} : { features }),
      ...(label === undefined ? {} : { label }),
      task: oneOf(c, "task", at, ["classification", "regression", "volatility"], "classification"),
    },
  };
}

export const trainStep: StepKind<TrainSpec> = {
  kind: "train",
  placement: "anywhere",
  cacheable: true,
  parse: parseTrain,
  inputs: (spec) => [spec.input, ...(spec.holdout === undefined ? [] : [spec.holdout])],
  run: (ctx) =>
    ctx.spec.regime !== undefined
      ? trainRegimeClassifier(ctx, ctx.spec.regime)
      : ctx.spec.volatility !== undefined
        ? trainVolatility(ctx, ctx.spec.volatility)
        : ctx.spec.builtin !== undefined
          ? trainBuiltin(ctx, ctx.spec.builtin)
          : runCommand(ctx, ctx.spec.command as CommandTrainSpec),
};

/** "label 'is_fraud' has one value (0) in 5000 rows": nothing to learn. */
export function checkLabelVaries(design: DesignFile, label: string, classification: boolean): void {
  if (design.rows === 0) throw invalid(`no training rows: the input dataset is empty`);
  if (design.labelValues.length === 1)
    throw invalid(
      `label '${label}' has one value (${design.labelValues[0]}) in ${design.rows} rows; ${classification ? "a classifier needs both classes" : "there is nothing to fit"}`,
    );
}

async function trainBuiltin(ctx: StepContext<TrainSpec>, spec: BuiltinTrainSpec): Promise<StepResult> {
  const input = inputOf(ctx.inputs, ctx.spec.input, `${ctx.step}.train.input`);
  const classification = spec.kind === "logistic" || (spec.kind === "gbt" && !spec.regression);
  const design = await writeDesignFile(input.path, join(ctx.workDir, "design.f64"), {
    features: spec.features,
    label: spec.label,
    labelAs: classification ? "binary" : "number",
    ...(spec.positive === undefined ? {} : { positive: spec.positive }),
    signal: ctx.signal,
  });
  checkLabelVaries(design, spec.label, classification);
  ctx.log.line(`${design.rows} rows, ${spec.features.length} features, label '${spec.label}'`);
  const started = Date.now();
  let model: BuiltinModel;
  const common = { signal: ctx.signal, standardize: spec.standardize };
  if (spec.kind === "logistic")
    model = await streamLogisticRegression(design, {
      ...common,
      ...(spec.l2 === undefined ? {} : { l2: spec.l2 }),
      ...(spec.maxIterations === undefined ? {} : { maxIterations: spec.maxIterations }),
    });
  else if (spec.kind === "linear")
    model = await streamLinearRegression(design, {
      ...common,
      ...(spec.l2 === undefined ? {} : { l2: spec.l2 }),
    });
  else
    model = await trainGradientBoosting(design, {
      regression: spec.regression,
      signal: ctx.signal,
      ...(spec.trees === undefined ? {} : { trees: spec.trees }),
      ...(spec.depth === undefined ? {} : { depth: spec.depth }),
      ...(spec.learningRate === undefined ? {} : { learningRate: spec.learningRate }),
      ...(spec.bins === undefined ? {} : { bins: spec.bins }),
      ...(spec.minLeaf === undefined ? {} : { minLeaf: spec.minLeaf }),
      ...(spec.l2 === undefined ? {} : { l2: spec.l2 }),
    });
  ctx.log.line(`trained ${model.kind} in ${Date.now() - started} ms`);
  return builtinModelResult(
    ctx.workDir,
    model,
    {
      trainer: spec.kind,
      features: [...spec.features],
      label: spec.label,
      task: classification ? "classification" : "regression",
      ...(spec.positive === undefined ? {} : { positive: spec.positive }),
      rows: design.rows,
    },
    { trainer: spec.kind, rows: design.rows, features: spec.features.length },
  );
}

/** Names of the server's own settings and secrets: never handed to a training program. */
function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("BALLAST_")) env[k] = v;
  return { ...env, ...extra };
}

async function runCommand(ctx: StepContext<TrainSpec>, spec: CommandTrainSpec): Promise<StepResult> {
  const train = inputOf(ctx.inputs, ctx.spec.input, `${ctx.step}.train.input`);
  const holdout =
    ctx.spec.holdout === undefined
      ? undefined
      : inputOf(ctx.inputs, ctx.spec.holdout, `${ctx.step}.train.holdout`);
  const output = join(ctx.workDir, spec.output);
  const env = childEnv({
    ...spec.env,
    BALLAST_TRAIN: train.path,
    ...(holdout === undefined ? {} : { BALLAST_HOLDOUT: holdout.path }),
    BALLAST_OUTPUT: output,
    BALLAST_PARAMS: JSON.stringify({ ...ctx.params, ...spec.params }),
    BALLAST_RUN: ctx.runId,
  });
  const [program, ...args] = spec.run as [string, ...string[]];
  ctx.log.line(`$ ${spec.run.join(" ")}`);
  const outcome = await runProcess(program, args, {
    env,
    timeoutMs: spec.timeoutMs,
    signal: ctx.signal,
    log: (l) => ctx.log.line(l),
  });
  if (outcome.kind === "timeout")
    throw invalid(
      `command ${program} did not finish within ${spec.timeoutMs / 1000}s; its process group was killed`,
    );
  if (outcome.kind === "aborted") throw ctx.signal.reason ?? unavailable("cancelled");
  if (outcome.kind === "error") throw invalid(`command ${program} could not start: ${outcome.message}`);
  if (outcome.code !== 0)
    throw invalid(
      `command ${program} exited with ${outcome.signal !== null ? `signal ${outcome.signal}` : `code ${outcome.code}`}`,
    );
  const written = await stat(output).catch(() => null);
  if (written === null || !written.isFile() || written.size === 0)
    throw invalid(`command ${program} exited 0 but wrote no artifact at BALLAST_OUTPUT (${spec.output})`);
  return {
    outputs: {
      model: {
        file: output,
        kind: "model",
        meta: {
          flavor: spec.flavor,
          trainer: "command",
          task: spec.task,
          ...(spec.features === undefined ? {} : { features: [...spec.features] }),
          ...(spec.label === undefined ? {} : { label: spec.label }),
        },
      },
    },
    summary: { trainer: "command", program, bytes: written.size, droppedLogBytes: outcome.droppedLogBytes },
  };
}

export type ProcessOutcome =
  | { kind: "exited"; code: number | null; signal: NodeJS.Signals | null; droppedLogBytes: number }
  | { kind: "timeout" }
  | { kind: "aborted" }
  | { kind: "error"; message: string };

/**
 * Runs a program in a process group of its own; on timeout or abort the whole group gets
 * SIGKILL (a shell's children too). Output lines go to `log` until MAX_COMMAND_LOG_BYTES, the
 * rest is counted.
 */
export function runProcess(
  program: string,
  args: readonly string[],
  options: {
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    signal: AbortSignal;
    log: (line: string) => void;
    cwd?: string;
  },
): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    if (options.signal.aborted) return resolve({ kind: "aborted" });
    const child = spawn(program, args, {
      env: options.env,
      cwd: options.cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let logged = 0;
    let dropped = 0;
    let ended: "timeout" | "aborted" | undefined;
    const pending = { out: "", err: "" };
    const take = (which: "out" | "err", chunk: Buffer) => {
      if (logged >= MAX_COMMAND_LOG_BYTES) {
        dropped += chunk.length;
        return;
      }
      const text = pending[which] + chunk.toString("utf8");
      const lines = text.split("\n");
      pending[which] = (lines.pop() ?? "").slice(0, 4096);
      for (const line of lines) {
        if (logged >= MAX_COMMAND_LOG_BYTES) {
          dropped += line.length + 1;
          continue;
        }
        logged += line.length + 1;
        options.log(which === "err" ? `stderr: ${line}` : line);
      }
    };
    child.stdout.on("data", (c: Buffer) => take("out", c));
    child.stderr.on("data", (c: Buffer) => take("err", c));
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      ended = "timeout";
      killGroup();
    }, options.timeoutMs);
    const onAbort = () => {
      ended = "aborted";
      killGroup();
    };
    options.signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error) => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      resolve({ kind: "error", message: error.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      for (const which of ["out", "err"] as const) if (pending[which] !== "") take(which, Buffer.from("\n"));
      if (dropped > 0) options.log(`(${dropped} more bytes of output not kept)`);
      if (ended !== undefined) return resolve({ kind: ended });
      resolve({ kind: "exited", code, signal, droppedLogBytes: dropped });
    });
  });
}
