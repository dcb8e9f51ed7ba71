/**
 * The volatility specialists as builtin models (src/markets/specialists.ts does the forecasting):
 *
 * {
 *   "format": "ballast.builtin/v1",
 *   "kind": "garch" | "ewma" | "har-rv" | "last-value",
 *   "window": 250,          // columns of the input `returns`: the W most recent returns, oldest first
 *   "horizon": 5,           // optional, default 1: columns of the output `variance`, h_{W+1}..h_{W+h}
 *   "input_datatype": "FP64",  // optional, FP64 (default) or FP32: the datatype `returns` is sent in
 *   "garch": { "kind": "garch" | "gjr", "params": {…}, "state": {…} },  // garch: garch.ts's model version
 *   "lambda": 0.94,         // ewma: the decay (RiskMetrics' 0.94 when absent)
 *   "coefficients": { "intercept", "daily", "weekly", "monthly" },  // har-rv: the OLS fit
 *   "training": { … }       // optional, free-form metadata
 * }
 *
 * last-value has no parameters: its forecast is the window's mean squared return.
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { parseGarchModel, persistence, type GarchModel } from "../../markets/garch.js";
import {
  minimumWindow,
  RISKMETRICS_LAMBDA,
  SPECIALIST_KINDS,
  type HarRvCoefficients,
  type Specialist,
} from "../../markets/specialists.js";

export const VOLATILITY_KINDS = SPECIALIST_KINDS;
export type VolatilityKind = (typeof VOLATILITY_KINDS)[number];

/** The longest window and horizon a model may declare: bounds the work of one row. */
export const MAX_WINDOW = 10_000;
export const MAX_HORIZON = 1_000;

export interface VolatilityBuiltinModel {
  /** format.ts's BUILTIN_FORMAT (spelled here too: format.ts imports this file). */
  readonly format: "ballast.builtin/v1";
  readonly kind: VolatilityKind;
  readonly window: number;
  readonly horizon: number;
  readonly input_datatype: "FP64" | "FP32";
  readonly specialist: Specialist;
  readonly training?: Readonly<Record<string, unknown>>;
}

const COMMON = ["format", "kind", "window", "horizon", "input_datatype", "training"];
const OWN: Record<VolatilityKind, string[]> = {
  garch: ["garch"],
  ewma: ["lambda"],
  "har-rv": ["coefficients"],
  "last-value": [],
};

export function isVolatilityKind(kind: unknown): kind is VolatilityKind {
  return (VOLATILITY_KINDS as readonly unknown[]).includes(kind);
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`, {
      field,
    });
  }
  return value as number;
}

function finite(from: Record<string, unknown>, key: string, where: string): number {
  const v = from[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw invalid(`${where}.${key} must be a finite number, not ${JSON.stringify(v)}`, {
      field: `${where}.${key}`,
    });
  }
  return v;
}

function parseSpecialist(kind: VolatilityKind, value: Record<string, unknown>): Specialist {
  switch (kind) {
    case "garch": {
      let garch: GarchModel;
      try {
        garch = parseGarchModel(value.garch);
      } catch (error) {
        throw invalid(`garch: ${(error as Error).message}`, { field: "garch" });
      }
      // Served forecasts start from the long-run variance, which needs a stationary model.
      if (!(persistence(garch.params) < 1)) {
        throw invalid(
          `garch: persistence alpha + gamma/2 + beta is ${persistence(garch.params)}; a served GARCH needs it below 1`,
          {
            field: "garch.params",
          },
        );
      }
      return { kind, garch };
    }
    case "ewma": {
      const lambda = value.lambda ?? RISKMETRICS_LAMBDA;
      if (typeof lambda !== "number" || !(lambda > 0 && lambda < 1)) {
        throw invalid(`lambda must be a number strictly between 0 and 1, not ${JSON.stringify(lambda)}`, {
          field: "lambda",
        });
      }
      return { kind, lambda };
    }
    case "har-rv": {
      if (!isPlainObject(value.coefficients)) {
        throw invalid("coefficients must be an object { intercept, daily, weekly, monthly }", {
          field: "coefficients",
        });
      }
      const c = value.coefficients;
      const coefficients: HarRvCoefficients = {
        intercept: finite(c, "intercept", "coefficients"),
        daily: finite(c, "daily", "coefficients"),
        weekly: finite(c, "weekly", "coefficients"),
        monthly: finite(c, "monthly", "coefficients"),
      };
      return { kind, coefficients };
    }
    case "last-value":
      return { kind };
  }
}

/** Checks a volatility specialist's JSON (already parsed, a plain object whose kind is one of these). */
export function parseVolatilityModel(value: Record<string, unknown>): VolatilityBuiltinModel {
  const kind = value.kind as VolatilityKind;
  const allowed = [...COMMON, ...OWN[kind]];
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw invalid(`unknown field '${unknown[0]}' in a ${kind} model; expected ${allowed.join(", ")}`, {
      field: unknown[0],
    });
  }
  if (value.format !== "ballast.builtin/v1") {
    throw invalid(`format must be "ballast.builtin/v1", not ${JSON.stringify(value.format)}`, {
      field: "format",
    });
  }
  const window = integer(value.window, "window", minimumWindow(kind), MAX_WINDOW);
  const horizon = value.horizon === undefined ? 1 : integer(value.horizon, "horizon", 1, MAX_HORIZON);
  const datatype = value.input_datatype ?? "FP64";
  if (datatype !== "FP64" && datatype !== "FP32") {
    throw invalid(`input_datatype must be "FP64" or "FP32", not ${JSON.stringify(datatype)}`, {
      field: "input_datatype",
    });
  }
  if (value.training !== undefined && !isPlainObject(value.training)) {
    throw invalid("training must be an object", { field: "training" });
  }
  return {
    format: "ballast.builtin/v1",
    kind,
    window,
    horizon,
    input_datatype: datatype,
    specialist: parseSpecialist(kind, value),
    ...(value.training === undefined ? {} : { training: value.training as Record<string, unknown> }),
  };
}

/** The JSON fields of a model (the inverse of parseVolatilityModel). */
export function volatilityModelJson(model: VolatilityBuiltinModel): Record<string, unknown> {
  const s = model.specialist;
  return {
    format: model.format,
    kind: model.kind,
    window: model.window,
    horizon: model.horizon,
    input_datatype: model.input_datatype,
    ...(s.kind === "garch" ? { garch: s.garch } : {}),
    ...(s.kind === "ewma" ? { lambda: s.lambda } : {}),
    ...(s.kind === "har-rv" ? { coefficients: s.coefficients } : {}),
    ...(model.training === undefined ? {} : { training: model.training }),
  };
}
