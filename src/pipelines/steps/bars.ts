/**
 * The bars step: an upstream dataset's rows (a source step's: a CSV export, a SQL query on a
 * market-data database) appended to an instrument as bars, through the same path as
 * `POST /api/v1/instruments/{id}/bars`: the same checks, indicators, routers' live regimes and
 * outcome joins follow. Idempotent by time: a re-run sends rows already stored, which count as
 * duplicates, so a retried or repeated run changes nothing twice. Never cached (an effect).
 */
import { invalid, unavailable } from "../../domain/errors.js";
import type { JsonValue } from "../../domain/json-value.js";
import { isPlainObject } from "../../domain/json-value.js";
import { readDataset } from "../datasets.js";
import type { StepKind, StepResult } from "../step.js";
import { inputOf, optionalText, reference, specObject, text } from "./fields.js";

/** The bar fields, and the column each is read from by default. */
const FIELDS = ["time", "close", "open", "high", "low", "volume"] as const;
type BarField = (typeof FIELDS)[number];

export interface BarsSpec {
  readonly instrument: string;
  /** The upstream dataset (`data`, `split.train`). */
  readonly input: string;
  /** Column per bar field; time and close must be in every row, the others where present. */
  readonly columns: Readonly<Record<BarField, string>>;
  /** The instrument's configuration when the step creates it (as PUT /api/v1/instruments/{id}). */
  readonly config?: Readonly<Record<string, JsonValue>>;
}

function parseBarsSpec(raw: unknown, field: string): BarsSpec {
  const spec = specObject(raw, field, ["instrument", "input", "columns", "config"]);
  let columns: Record<BarField, string> = {
    time: "time",
    close: "close",
    open: "open",
    high: "high",
    low: "low",
    volume: "volume",
  };
  if (spec.columns !== undefined) {
    const c = specObject(spec.columns, `${field}.columns`, [...FIELDS]);
    columns = Object.fromEntries(
      FIELDS.map((f) => [f, optionalText(c, f, `${field}.columns`) ?? f]),
    ) as Record<BarField, string>;
  }
  if (spec.config !== undefined && !isPlainObject(spec.config))
    throw invalid(`${field}.config: expected a mapping (the instrument's configuration)`, {
      field: `${field}.config`,
    });
  return {
    instrument: text(spec, "instrument", field),
    input: reference(spec, "input", field),
    columns,
    ...(spec.config === undefined ? {} : { config: spec.config as Record<string, JsonValue> }),
  };
}

export const barsStep: StepKind<BarsSpec> = {
  kind: "bars",
  placement: "server",
  cacheable: false,
  parse: parseBarsSpec,
  inputs: (spec) => [spec.input],

  async run(ctx): Promise<StepResult> {
    const { spec } = ctx;
    const instruments = ctx.server?.instruments;
    if (instruments === undefined) throw unavailable("the bars step runs in the server (placement server)");
    const input = inputOf(ctx.inputs, spec.input, `${ctx.step}.bars.input`);
    const totals = { rows: 0, accepted: 0, duplicates: 0, reordered: 0, repeated: 0, gaps: 0 };
    let first = true;
    for await (const batch of readDataset(input.path, { signal: ctx.signal })) {
      const bars = batch.map((row) => {
        const bar: Record<string, JsonValue> = {};
        for (const f of FIELDS) {
          const value = row[spec.columns[f]];
          if (value !== undefined && value !== null && value !== "") bar[f] = value;
        }
        return bar;
      });
      try {
        const result = await instruments.appendBars(spec.instrument, bars, first ? spec.config : undefined);
        for (const k of ["accepted", "duplicates", "reordered", "repeated", "gaps"] as const)
          totals[k] += result[k];
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw invalid(
          `bars ${ctx.step}: dataset rows ${totals.rows + 1}-${totals.rows + batch.length} refused for ${spec.instrument}: ${message}`,
        );
      }
      first = false;
      totals.rows += batch.length;
      ctx.log.line(
        `${totals.rows} rows sent to ${spec.instrument}: ${totals.accepted} new bars, ${totals.duplicates} already stored`,
      );
    }
    return { outputs: {}, summary: { instrument: spec.instrument, ...totals } };
  },
};
