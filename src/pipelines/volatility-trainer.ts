/**
 * The train step's volatility specialists: `train: {builtin: {kind: garch|gjr|ewma|har-rv|
 * last-value, column, scale, window, horizon, …}}` refits a specialist on the returns of its
 * input dataset (file order is time order: the split step's `by: time` or `by: order` keeps
 * it) and writes the same builtin model file as `ballast fit … --save`
 * (runtimes/builtin/volatility-fit.ts does both).
 *
 * Only the input is read: the holdout is never seen by the fit. A series with a NaN, too few
 * points for the model, or an optimizer that does not converge fails the step with the reason
 * (and, for GARCH, where the optimizer stopped), so nothing is registered and the version
 * serving now is kept.
 */
import { builtinModelResult } from "./builtin-output.js";
import { invalid } from "../domain/errors.js";
import type { JsonValue } from "../domain/json-value.js";
import { invalidField, shown } from "../registry/field.js";
import { MAX_HORIZON, MAX_WINDOW } from "../runtimes/builtin/volatility-format.js";
import {
  fitVolatilityModel,
  isVolatilityFitKind,
  VOLATILITY_FIT_KINDS,
  type VolatilityFitKind,
} from "../runtimes/builtin/volatility-fit.js";
import { readDataset } from "./datasets.js";
import type { StepContext, StepResult } from "./step.js";
import {
  inputOf,
  number,
  oneOf,
  optionalNumber,
  optionalText,
  specObject,
  type Raw,
} from "./steps/fields.js";

export const VOLATILITY_TRAINERS = VOLATILITY_FIT_KINDS;
export const isVolatilityTrainer = isVolatilityFitKind;

export interface VolatilityTrainSpec {
  readonly kind: VolatilityFitKind;
  /** The column holding returns (not prices), one row per period, oldest first. */
  readonly column: string;
  /** Multiplies the returns (100: percent, the usual units of GARCH estimates). */
  readonly scale: number;
  /** The served model's input width: `returns` [n, window]. */
  readonly window: number;
  /** The served model's output width: `variance` [n, horizon]. */
  readonly horizon: number;
  readonly lambda?: number;
  readonly maxIterations?: number;
  /** Fit on the last this many training rows only (a rolling estimation window); 0 or absent: all. */
  readonly last?: number;
}

/**
 * A count that may come from a pipeline parameter: params are strings, so "${params.last}"
 * arrives as "1500"; a whole number in either form is taken.
 */
function count(raw: Raw, key: string, field: string, min: number, max: number): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  const n = typeof v === "string" && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min || n > max)
    throw invalidField(`${field}.${key}`, `expected an integer from ${min} to ${max}, got ${shown(v)}`);
  return n;
}

export function parseVolatilityTrain(raw: unknown, field: string): VolatilityTrainSpec {
  const b = specObject(raw, field, [
    "kind",
    "column",
    "scale",
    "window",
    "horizon",
    "lambda",
    "maxIterations",
    "last",
  ]);
  const kind = oneOf(b, "kind", field, VOLATILITY_TRAINERS);
  const scale = number(b, "scale", field, { fallback: 1 });
  if (scale === 0) throw invalidField(`${field}.scale`, "expected a non-zero number");
  const lambda = optionalNumber(b, "lambda", field, { min: 1e-9, max: 1 - 1e-9 });
  if (lambda !== undefined && kind !== "ewma")
    throw invalidField(`${field}.lambda`, "only ewma has a lambda");
  const maxIterations = count(b, "maxIterations", field, 1, 100_000);
  // 0: every row (a parameter's default can then leave the fit on the whole training set).
  const last = count(b, "last", field, 0, Number.MAX_SAFE_INTEGER) || undefined;
  return {
    kind,
    column: optionalText(b, "column", field) ?? "ret",
    scale,
    window:
      count(b, "window", field, 1, MAX_WINDOW) ?? (kind === "har-rv" || kind === "last-value" ? 22 : 250),
    horizon: count(b, "horizon", field, 1, MAX_HORIZON) ?? 1,
    ...(lambda === undefined ? {} : { lambda }),
    ...(maxIterations === undefined ? {} : { maxIterations }),
    ...(last === undefined ? {} : { last }),
  };
}

/** The returns of a dataset's column, in file order, each row named for messages. */
export async function readReturns(
  path: string,
  column: string,
  scale: number,
  signal: AbortSignal,
  what: string,
): Promise<number[]> {
  const values: number[] = [];
  for await (const batch of readDataset(path, { signal })) {
    for (const row of batch) {
      const v = row[column];
      if (typeof v !== "number" || !Number.isFinite(v))
        throw invalid(
          `${what} row ${values.length + 1}: column '${column}' holds ${JSON.stringify(v ?? null)}, not a finite return`,
          { row: values.length + 1, column },
        );
      values.push(v * scale);
    }
  }
  return values;
}

export async function trainVolatility(
  ctx: StepContext<{ readonly input: string }>,
  spec: VolatilityTrainSpec,
): Promise<StepResult> {
  const input = inputOf(ctx.inputs, ctx.spec.input, `${ctx.step}.train.input`);
  const all = await readReturns(input.path, spec.column, spec.scale, ctx.signal, "the training data");
  const first = spec.last === undefined ? 0 : Math.max(0, all.length - spec.last);
  const values = all.slice(first);
  ctx.log.line(
    `${values.length} returns of '${spec.column}' ×${spec.scale}${first > 0 ? ` (the last ${values.length} of ${all.length})` : ""}`,
  );
  const started = Date.now();
  const fitted = fitVolatilityModel(values, {
    kind: spec.kind,
    window: spec.window,
    horizon: spec.horizon,
    ...(spec.lambda === undefined ? {} : { lambda: spec.lambda }),
    ...(spec.maxIterations === undefined ? {} : { maxIterations: spec.maxIterations }),
    rowName: (i) => `training row ${first + i + 1}`,
    training: { column: spec.column, scale: spec.scale, rows: values.length, run: ctx.runId },
  });
  ctx.log.line(`fitted ${spec.kind} in ${Date.now() - started} ms: ${JSON.stringify(fitted.summary)}`);
  const summary: Record<string, JsonValue> = { trainer: spec.kind, rows: values.length, ...fitted.summary };
  return builtinModelResult(
    ctx.workDir,
    fitted.model,
    {
      trainer: spec.kind,
      task: "volatility",
      column: spec.column,
      scale: spec.scale,
      window: spec.window,
      horizon: spec.horizon,
      rows: values.length,
    },
    summary,
  );
}
