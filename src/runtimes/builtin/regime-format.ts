/**
 * Regime classifiers as builtin models (src/markets/regime-classifier.ts does the reading):
 *
 * {
 *   "format": "ballast.builtin/v1",
 *   "kind": "markov-switching" | "hmm" | "regime-rules",
 *   "window": 250,        // columns of the input `returns`: the W most recent returns, oldest first
 *   "regimes": { "method": …, "labels": ["calm", "turbulent"], … },  // the RegimeModel
 *   "training": { … }     // optional, free-form metadata (alignment, data, fit)
 * }
 *
 * Outputs: `probabilities` FP64 [n, k] (the filtered probabilities at the window's end; rules:
 * 1 for their regime) and `regime` INT64 [n], the index into `regimes.labels`. A rules
 * classifier's window must hold at least window + lookback - 1 returns.
 */
import { invalid } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { parseRegimeModel, regimeMinimumReturns, type RegimeModel } from "../../markets/regime-classifier.js";

export const REGIME_KINDS = ["markov-switching", "hmm", "regime-rules"] as const;
export type RegimeKind = (typeof REGIME_KINDS)[number];

/** The longest window a classifier may declare: bounds the work of one row. */
export const MAX_REGIME_WINDOW = 20_000;

const METHOD_OF: Record<RegimeKind, RegimeModel["method"]> = {
  "markov-switching": "markov-switching",
  hmm: "hmm",
  "regime-rules": "rules",
};

export interface RegimeBuiltinModel {
  readonly format: "ballast.builtin/v1";
  readonly kind: RegimeKind;
  readonly window: number;
  readonly regimes: RegimeModel;
  readonly training?: Readonly<Record<string, unknown>>;
}

export function isRegimeKind(kind: unknown): kind is RegimeKind {
  return (REGIME_KINDS as readonly unknown[]).includes(kind);
}

const FIELDS = ["format", "kind", "window", "regimes", "training"];

/** Checks a classifier's JSON (a plain object whose kind is one of REGIME_KINDS); errors name the field. */
export function parseRegimeBuiltin(value: Record<string, unknown>): RegimeBuiltinModel {
  const kind = value.kind as RegimeKind;
  const unknown = Object.keys(value).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0)
    throw invalid(`unknown field '${unknown[0]}' in a ${kind} model; expected ${FIELDS.join(", ")}`, {
      field: unknown[0],
    });
  if (value.format !== "ballast.builtin/v1")
    throw invalid(`format must be "ballast.builtin/v1", not ${JSON.stringify(value.format)}`, {
      field: "format",
    });
  let regimes: RegimeModel;
  try {
    regimes = parseRegimeModel(value.regimes);
  } catch (error) {
    throw invalid(`regimes: ${(error as Error).message}`, { field: "regimes" });
  }
  if (regimes.method !== METHOD_OF[kind])
    throw invalid(`regimes.method is ${regimes.method} but kind ${kind} needs ${METHOD_OF[kind]}`, {
      field: "regimes.method",
    });
  const minimum = regimeMinimumReturns(regimes);
  const window = value.window;
  if (!Number.isSafeInteger(window) || (window as number) < minimum || (window as number) > MAX_REGIME_WINDOW)
    throw invalid(
      `window must be an integer from ${minimum} to ${MAX_REGIME_WINDOW}${regimes.method === "rules" ? " (rules need window + lookback - 1 returns)" : ""}, not ${JSON.stringify(window)}`,
      { field: "window" },
    );
  if (value.training !== undefined && !isPlainObject(value.training))
    throw invalid("training must be an object", { field: "training" });
  return {
    format: "ballast.builtin/v1",
    kind,
    window: window as number,
    regimes,
    ...(value.training === undefined ? {} : { training: value.training as Record<string, unknown> }),
  };
}
