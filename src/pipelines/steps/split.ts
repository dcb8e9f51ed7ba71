/**
 * The split step: one dataset into `train` and `holdout`, streamed.
 *
 * - random: each row goes by a seeded hash of its index (or of an id column), so the split
 *   needs no memory, and the same data and seed give the same split on any machine.
 * - time: rows before the cut train, rows at or after it are held out, so a model is never
 *   trained on the future of the rows it is judged on. The cut is `cut` when given, else the
 *   time below which (1 − holdout) of the rows fall, from a quantile sketch of a first pass.
 */
import { unitHash } from "../../math/unit-hash.js";
import { join } from "node:path";
import { invalid } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/json-value.js";
import { QuantileSketch } from "../../math/sketches/quantile-sketch.js";
import { invalidField } from "../../registry/field.js";
import { DatasetWriter, metaJson, readDataset } from "../datasets.js";
import type { StepKind, StepResult } from "../step.js";
import { inputOf, number, oneOf, optionalText, reference, specObject } from "./fields.js";

export interface SplitSpec {
  readonly input: string;
  readonly holdout: number;
  readonly by: "random" | "time";
  readonly seed: number;
  readonly timeColumn?: string;
  /** Rows whose id column decides the random draw (stable when rows are reordered). */
  readonly idColumn?: string;
  /** The cut as epoch ms or ISO time (time split only). */
  readonly cut?: number;
}

function parseSplit(raw: unknown, field: string): SplitSpec {
  const spec = specObject(raw, field, ["input", "holdout", "by", "seed", "timeColumn", "idColumn", "cut"]);
  const by = oneOf(spec, "by", field, ["random", "time"], "random");
  const timeColumn = optionalText(spec, "timeColumn", field);
  if (by === "time" && timeColumn === undefined)
    throw invalidField(`${field}.timeColumn`, "a time split needs the column holding each row's time");
  const idColumn = optionalText(spec, "idColumn", field);
  let cut: number | undefined;
  if (spec.cut !== undefined) {
    if (by !== "time") throw invalidField(`${field}.cut`, "only a time split has a cut");
    const t = timeOf(spec.cut as JsonValue);
    if (t === null) throw invalidField(`${field}.cut`, "expected epoch ms or an ISO time");
    cut = t;
  }
  return {
    input: reference(spec, "input", field),
    holdout: number(spec, "holdout", field, { min: 0, max: 1, fallback: 0.2 }),
    by,
    seed: number(spec, "seed", field, { integer: true, fallback: 0 }),
    ...(timeColumn === undefined ? {} : { timeColumn }),
    ...(idColumn === undefined ? {} : { idColumn }),
    ...(cut === undefined ? {} : { cut }),
  };
}

/** A row's time as epoch ms: a number as is, a string parsed as an ISO time; else null. */
export function timeOf(value: JsonValue | undefined): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const t = Date.parse(value);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

export const splitStep: StepKind<SplitSpec> = {
  kind: "split",
  placement: "anywhere",
  cacheable: true,
  parse: parseSplit,
  inputs: (spec) => [spec.input],

  async run(ctx): Promise<StepResult> {
    const spec = ctx.spec;
    const input = inputOf(ctx.inputs, spec.input, `${ctx.step}.split.input`);
    const timeColumn = spec.timeColumn;
    const rowTime = (row: Record<string, JsonValue>, index: number): number => {
      const t = timeOf(row[timeColumn as string]);
      if (t === null)
        throw invalid(
          `split ${ctx.step}: row ${index + 1} has no time in '${timeColumn}' (${JSON.stringify(row[timeColumn as string] ?? null)})`,
        );
      return t;
    };
    let cut = spec.cut;
    if (spec.by === "time" && cut === undefined) {
      const sketch = new QuantileSketch();
      let index = 0;
      for await (const batch of readDataset(input.path, { signal: ctx.signal })) {
        for (const row of batch) sketch.update(rowTime(row, index++));
      }
      if (index === 0) throw invalid(`split ${ctx.step}: the input has no rows`);
      cut = sketch.quantile(1 - spec.holdout);
    }
    const train = new DatasetWriter(
      join(ctx.workDir, "train.jsonl"),
      timeColumn === undefined ? {} : { timeColumn },
    );
    const holdout = new DatasetWriter(
      join(ctx.workDir, "holdout.jsonl"),
      timeColumn === undefined ? {} : { timeColumn },
    );
    try {
      let index = 0;
      for await (const batch of readDataset(input.path, { signal: ctx.signal })) {
        const toTrain: Record<string, JsonValue>[] = [];
        const toHoldout: Record<string, JsonValue>[] = [];
        for (const row of batch) {
          const held =
            spec.by === "time"
              ? rowTime(row, index) >= (cut as number)
              : unitHash(
                  spec.idColumn === undefined ? String(index) : JSON.stringify(row[spec.idColumn] ?? null),
                  spec.seed,
                ) < spec.holdout;
          (held ? toHoldout : toTrain).push(row);
          index += 1;
        }
        await train.write(toTrain);
        await holdout.write(toHoldout);
      }
    } catch (error) {
      train.abort();
      holdout.abort();
      throw error;
    }
    const trainMeta = await train.close();
    const holdoutMeta = await holdout.close();
    if (trainMeta.rows === 0)
      throw invalid(`split ${ctx.step}: no rows left to train on (holdout ${spec.holdout})`);
    if (holdoutMeta.rows === 0 && spec.holdout > 0) throw invalid(`split ${ctx.step}: the holdout is empty`);
    const cutText: Record<string, JsonValue> = cut === undefined ? {} : { cut: new Date(cut).toISOString() };
    ctx.log.line(
      `train ${trainMeta.rows} rows, holdout ${holdoutMeta.rows} rows${cut === undefined ? "" : `, cut at ${cutText.cut}`}`,
    );
    return {
      outputs: {
        train: {
          file: join(ctx.workDir, "train.jsonl"),
          kind: "dataset",
          meta: { ...metaJson(trainMeta), ...cutText },
        },
        holdout: {
          file: join(ctx.workDir, "holdout.jsonl"),
          kind: "dataset",
          meta: { ...metaJson(holdoutMeta), ...cutText },
        },
      },
      summary: { train: trainMeta.rows, holdout: holdoutMeta.rows, by: spec.by, ...cutText },
    };
  },
};
