/**
 * An instrument as Ballast keeps it: an id, how its indicators are computed, and how late a bar
 * may arrive. The indicator values a client sees are the streaming set's, as JSON (null where
 * the set has nothing yet, realized volatility keyed by its window).
 */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import {
  DEFAULT_INDICATORS,
  IndicatorSet,
  type IndicatorConfig,
  type IndicatorValues,
} from "./indicators.js";
import { parseGarchModel, type GarchModel } from "./garch.js";

/** Letters, digits, `.`, `_`, `-`; starts with a letter or digit; at most 64 characters. */
export const INSTRUMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkInstrumentId(id: string): string {
  if (!INSTRUMENT_ID.test(id))
    throw invalid(
      `instrument id '${id.slice(0, 80)}' is not valid: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      { field: "id" },
    );
  return id;
}

export interface InstrumentConfig {
  readonly windows: readonly number[];
  readonly ewmaLambda: number;
  readonly atrPeriod: number;
  readonly efficiencyPeriod: number;
  readonly skipRepeats: boolean;
  /** Longest step between bars that is not a gap, in the bars' time units; null for none. */
  readonly maxGap: number | null;
  /**
   * How many stored bars may come after a late bar for it still to be taken (its indicators and
   * those of the bars after it are then recomputed); a bar later than that is refused.
   */
  readonly reorderTolerance: number;
  /**
   * A fitted GARCH(1,1) or GJR model (`ballast fit garch --save`'s file, or its `garch` part):
   * its conditional volatility moves on with every return, from the state it was saved with.
   * Null: none.
   */
  readonly garch: GarchModel | null;
  /** Returns are multiplied by this before the GARCH model reads them (100: fitted in percent). */
  readonly garchScale: number;
}

export const MAX_REORDER_TOLERANCE = 1000;
export const MAX_WINDOW = 10_000;

export const DEFAULT_INSTRUMENT: InstrumentConfig = {
  windows: DEFAULT_INDICATORS.windows,
  ewmaLambda: DEFAULT_INDICATORS.ewmaLambda,
  atrPeriod: DEFAULT_INDICATORS.atrPeriod,
  efficiencyPeriod: DEFAULT_INDICATORS.efficiencyPeriod,
  skipRepeats: DEFAULT_INDICATORS.skipRepeats,
  maxGap: null,
  reorderTolerance: 5,
  garch: null,
  garchScale: 1,
};

const KEYS = Object.keys(DEFAULT_INSTRUMENT);

/** A configuration from a client: the defaults for what it leaves out; every error names its field. */
export function parseInstrumentConfig(
  raw: unknown,
  base: InstrumentConfig = DEFAULT_INSTRUMENT,
): InstrumentConfig {
  if (raw === undefined || raw === null) return base;
  if (!isPlainObject(raw)) throw invalid("config must be an object", { field: "config" });
  const unknown = Object.keys(raw).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0)
    throw invalid(
      `unknown config field ${unknown.map((k) => `'${k}'`).join(", ")}; expected ${KEYS.join(", ")}`,
      {
        field: unknown[0] as string,
      },
    );
  const integer = (key: string, low: number, high: number): number | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < low || v > high)
      throw invalid(`${key} must be an integer in [${low}, ${high}], got ${JSON.stringify(v)}`, {
        field: key,
      });
    return v;
  };
  let windows = base.windows;
  if (raw.windows !== undefined) {
    const w = raw.windows;
    if (!Array.isArray(w) || w.length === 0 || w.length > 8)
      throw invalid("windows must be a list of 1 to 8 window lengths (in returns)", { field: "windows" });
    w.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > MAX_WINDOW)
        throw invalid(`windows[${i}] must be an integer in [1, ${MAX_WINDOW}], got ${JSON.stringify(x)}`, {
          field: `windows[${i}]`,
        });
    });
    if (new Set(w).size !== w.length) throw invalid("windows must not repeat a length", { field: "windows" });
    windows = w as number[];
  }
  const lambda = raw.ewmaLambda;
  if (lambda !== undefined && !(typeof lambda === "number" && lambda > 0 && lambda < 1))
    throw invalid(`ewmaLambda must be a number in (0, 1), got ${JSON.stringify(lambda)}`, {
      field: "ewmaLambda",
    });
  const skip = raw.skipRepeats;
  if (skip !== undefined && typeof skip !== "boolean")
    throw invalid("skipRepeats must be true or false", { field: "skipRepeats" });
  const gap = raw.maxGap;
  if (gap !== undefined && gap !== null && !(typeof gap === "number" && Number.isFinite(gap) && gap > 0))
    throw invalid(`maxGap must be a positive number (bars' time units) or null, got ${JSON.stringify(gap)}`, {
      field: "maxGap",
    });
  const scale = raw.garchScale;
  if (scale !== undefined && !(typeof scale === "number" && Number.isFinite(scale) && scale > 0))
    throw invalid(`garchScale must be a positive number, got ${JSON.stringify(scale)}`, {
      field: "garchScale",
    });
  return {
    windows: [...windows],
    ewmaLambda: (lambda as number | undefined) ?? base.ewmaLambda,
    atrPeriod: integer("atrPeriod", 1, MAX_WINDOW) ?? base.atrPeriod,
    efficiencyPeriod: integer("efficiencyPeriod", 1, MAX_WINDOW) ?? base.efficiencyPeriod,
    skipRepeats: (skip as boolean | undefined) ?? base.skipRepeats,
    maxGap: gap === undefined ? base.maxGap : (gap as number | null),
    reorderTolerance: integer("reorderTolerance", 0, MAX_REORDER_TOLERANCE) ?? base.reorderTolerance,
    garch: raw.garch === undefined ? base.garch : garchOf(raw.garch),
    garchScale: (scale as number | undefined) ?? base.garchScale,
  };
}

/** The model of `garch`: null, a saved builtin garch file (`ballast fit garch --save`), or its `garch` part. */
function garchOf(raw: unknown): GarchModel | null {
  if (raw === null) return null;
  const model = isPlainObject(raw) && raw.format === "ballast.builtin/v1" ? raw.garch : raw;
  try {
    return parseGarchModel(model);
  } catch (error) {
    throw invalid(`garch: ${error instanceof Error ? error.message : String(error)}`, { field: "garch" });
  }
}

export function indicatorConfigOf(config: InstrumentConfig): IndicatorConfig {
  return {
    ...DEFAULT_INDICATORS,
    windows: [...config.windows],
    ewmaLambda: config.ewmaLambda,
    atrPeriod: config.atrPeriod,
    efficiencyPeriod: config.efficiencyPeriod,
    skipRepeats: config.skipRepeats,
    maxGap: config.maxGap ?? Number.POSITIVE_INFINITY,
    garchScale: config.garchScale,
  };
}

/** Whether two configurations compute the same indicators (the reorder tolerance aside). */
export function sameIndicators(a: InstrumentConfig, b: InstrumentConfig): boolean {
  return (
    JSON.stringify(indicatorConfigOf(a)) === JSON.stringify(indicatorConfigOf(b)) &&
    JSON.stringify(a.garch) === JSON.stringify(b.garch)
  );
}

export function emptyIndicatorSet(config: InstrumentConfig): IndicatorSet {
  return new IndicatorSet(indicatorConfigOf(config), config.garch ?? undefined);
}

/** The indicators after one bar, as JSON. */
export interface IndicatorSnapshot {
  readonly time: number;
  /** ln(close / previous close); null on the first bar. */
  readonly logReturn: number | null;
  /** The close equals the previous one (a holiday filled with the last price, or a quiet market). */
  readonly repeated: boolean;
  /** The step from the previous bar is longer than maxGap. */
  readonly gap: boolean;
  /** Keyed by window length (in returns). */
  readonly realizedVolatility: Readonly<Record<string, number | null>>;
  readonly ewmaVolatility: number | null;
  /** Only when bars carry high and low. */
  readonly atr: number | null;
  readonly efficiencyRatio: number | null;
  /** Only with a `garch` model: the square root of its next-period variance, in its units. */
  readonly garchVolatility: number | null;
  readonly drawdown: number;
  readonly maxDrawdown: number;
}

export function snapshotOf(values: IndicatorValues, windows: readonly number[]): IndicatorSnapshot {
  const realized: Record<string, number | null> = {};
  windows.forEach((w, i) => (realized[String(w)] = values.realizedVolatility[i] ?? null));
  return {
    time: values.time,
    logReturn: values.logReturn ?? null,
    repeated: values.repeated,
    gap: values.gap,
    realizedVolatility: realized,
    ewmaVolatility: values.ewmaVolatility ?? null,
    atr: values.atr ?? null,
    efficiencyRatio: values.efficiencyRatio ?? null,
    garchVolatility: values.garchVolatility ?? null,
    drawdown: values.drawdown,
    maxDrawdown: values.maxDrawdown,
  };
}
