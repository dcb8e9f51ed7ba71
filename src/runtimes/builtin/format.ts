/**
 * Ballast's own model file for the models it trains itself: a linear model as JSON, readable
 * in a diff and in a code review.
 *
 * {
 *   "format": "ballast.builtin/v1",
 *   "kind": "logistic_regression" | "linear_regression",
 *   "features": ["amount", …],            // column i of the input is features[i]
 *   "weights": [0.8, …],                  // one per feature, for the scaled features
 *   "intercept": -1.2,
 *   "scaling": { "mean": […], "std": […] },  // optional: x' = (x - mean) / std
 *   "classes": [0, 1],                    // logistic only: labels for [negative, positive]
 *   "training": { … }                     // optional, free-form metadata
 * }
 *
 * Gradient-boosted trees (`"kind": "gradient_boosted_trees"`) have no weights; `intercept` is
 * the base score (log-odds for "objective": "binary", the mean for "regression") and `trees`
 * are added to it: each tree as flat arrays, node 0 the root, `feature[i]` −1 for a leaf,
 * otherwise rows with x[feature] <= threshold go to `left[i]`, the rest to `right[i]`.
 */
import { isPlainObject } from "../../domain/json-value.js";
import { invalid } from "../../domain/errors.js";
import {
  isVolatilityKind,
  parseVolatilityModel,
  VOLATILITY_KINDS,
  type VolatilityBuiltinModel,
  type VolatilityKind,
  volatilityModelJson,
} from "./volatility-format.js";
import {
  isRegimeKind,
  parseRegimeBuiltin,
  REGIME_KINDS,
  type RegimeBuiltinModel,
  type RegimeKind,
} from "./regime-format.js";

export const BUILTIN_FORMAT = "ballast.builtin/v1";
export const BUILTIN_KINDS = [
  "logistic_regression",
  "linear_regression",
  "gradient_boosted_trees",
  ...VOLATILITY_KINDS,
  ...REGIME_KINDS,
] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];
/** The kinds that are a linear predictor over named features (the fields below). */
export type LinearKind = Exclude<BuiltinKind, VolatilityKind | RegimeKind>;
/**
 * A builtin model of any kind; the volatility specialists' fields are in volatility-format.ts,
 * the regime classifiers' in regime-format.ts.
 */
export type BuiltinModel = LinearBuiltinModel | VolatilityBuiltinModel | RegimeBuiltinModel;

export interface Scaling {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

export interface Tree {
  readonly feature: readonly number[];
  readonly threshold: readonly number[];
  readonly left: readonly number[];
  readonly right: readonly number[];
  /** A leaf's contribution (learning rate included); 0 at inner nodes. */
  readonly value: readonly number[];
}

export const TREE_OBJECTIVES = ["binary", "regression"] as const;
export type TreeObjective = (typeof TREE_OBJECTIVES)[number];

export interface LinearBuiltinModel {
  readonly format: typeof BUILTIN_FORMAT;
  readonly kind: LinearKind;
  readonly features: readonly string[];
  readonly weights: readonly number[];
  readonly intercept: number;
  readonly scaling?: Scaling;
  /** [negative, positive]; logistic regression only; [0, 1] when absent. */
  readonly classes?: readonly [number, number];
  readonly training?: Readonly<Record<string, unknown>>;
  /** gradient_boosted_trees only (weights are then empty). */
  readonly trees?: readonly Tree[];
  readonly objective?: TreeObjective;
}

const FIELDS = [
  "format",
  "kind",
  "features",
  "weights",
  "intercept",
  "scaling",
  "classes",
  "training",
  "trees",
  "objective",
];

/** At most this many nodes in one model's trees (a model file stays a few MB). */
export const MAX_TREE_NODES = 1_000_000;

function parseTrees(value: unknown, features: number): Tree[] {
  if (!Array.isArray(value) || value.length === 0)
    throw invalid("trees must be a non-empty array of trees", { field: "trees" });
  let nodes = 0;
  return value.map((raw, t) => {
    const field = `trees[${t}]`;
    if (!isPlainObject(raw)) throw invalid(`${field} must be an object`, { field });
    const feature = raw.feature;
    if (!Array.isArray(feature) || feature.length === 0)
      throw invalid(`${field}.feature must be a non-empty array`, { field });
    const n = feature.length;
    nodes += n;
    if (nodes > MAX_TREE_NODES)
      throw invalid(`trees have more than ${MAX_TREE_NODES} nodes`, { field: "trees" });
    const threshold = finiteNumbers(raw.threshold, `${field}.threshold`, n, `${field}.feature`);
    const left = finiteNumbers(raw.left, `${field}.left`, n, `${field}.feature`);
    const right = finiteNumbers(raw.right, `${field}.right`, n, `${field}.feature`);
    const leafValue = finiteNumbers(raw.value, `${field}.value`, n, `${field}.feature`);
    for (let i = 0; i < n; i++) {
      const f = feature[i];
      if (!Number.isSafeInteger(f) || (f as number) < -1 || (f as number) >= features)
        throw invalid(`${field}.feature[${i}] must be -1 (leaf) or a feature index below ${features}`, {
          field,
        });
      if (f === -1) continue;
      // Children come after their parent: scoring always ends, whatever the file says.
      for (const [side, child] of [
        ["left", left[i]],
        ["right", right[i]],
      ] as const) {
        if (!Number.isSafeInteger(child) || (child as number) <= i || (child as number) >= n)
          throw invalid(`${field}.${side}[${i}] must be a node index after ${i} and below ${n}`, { field });
      }
    }
    return { feature: feature as number[], threshold, left, right, value: leafValue };
  });
}

function finiteNumbers(value: unknown, field: string, length: number, lengthOf: string): number[] {
  if (!Array.isArray(value)) throw invalid(`${field} must be an array of numbers`, { field });
  if (value.length !== length) {
    throw invalid(`${field} has ${value.length} entries but ${lengthOf} has ${length}`, { field });
  }
  value.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw invalid(`${field}[${i}] must be a finite number, not ${JSON.stringify(v)}`, { field });
    }
  });
  return value as number[];
}

function parseFeatures(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalid("features must be a non-empty array of feature names", { field: "features" });
  }
  const seen = new Set<string>();
  value.forEach((name, i) => {
    if (typeof name !== "string" || name === "") {
      throw invalid(`features[${i}] must be a non-empty string`, { field: "features" });
    }
    if (seen.has(name)) throw invalid(`features[${i}] repeats '${name}'`, { field: "features" });
    seen.add(name);
  });
  return value as string[];
}

function parseScaling(value: unknown, n: number): Scaling {
  if (!isPlainObject(value)) throw invalid("scaling must be an object { mean, std }", { field: "scaling" });
  const extra = Object.keys(value).filter((k) => k !== "mean" && k !== "std");
  if (extra.length > 0) throw invalid(`scaling has unknown field '${extra[0]}'`, { field: "scaling" });
  const mean = finiteNumbers(value.mean, "scaling.mean", n, "features");
  const std = finiteNumbers(value.std, "scaling.std", n, "features");
  std.forEach((s, i) => {
    if (s <= 0) throw invalid(`scaling.std[${i}] must be positive, not ${s}`, { field: "scaling.std" });
  });
  return { mean, std };
}

function parseClasses(value: unknown): [number, number] {
  const ok =
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((v) => Number.isSafeInteger(v)) &&
    value[0] !== value[1];
  if (!ok) {
    throw invalid("classes must be two different integers [negative, positive], such as [0, 1]", {
      field: "classes",
    });
  }
  return [value[0] as number, value[1] as number];
}

/**
 * Parses and checks a builtin model: JSON text, or a value already parsed from JSON. Errors
 * name the field that is wrong.
 */
export function parseBuiltinModel(source: unknown): BuiltinModel {
  let value = source;
  if (typeof source === "string") {
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw invalid(`the builtin model is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isPlainObject(value)) throw invalid("a builtin model must be a JSON object");
  if (isVolatilityKind(value.kind)) return parseVolatilityModel(value);
  if (isRegimeKind(value.kind)) return parseRegimeBuiltin(value);
  const unknown = Object.keys(value).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) {
    throw invalid(`unknown field '${unknown[0]}' in builtin model; expected ${FIELDS.join(", ")}`, {
      field: unknown[0],
    });
  }
  if (value.format !== BUILTIN_FORMAT) {
    throw invalid(`format must be "${BUILTIN_FORMAT}", not ${JSON.stringify(value.format)}`, {
      field: "format",
    });
  }
  const kind = value.kind;
  if (!(BUILTIN_KINDS as readonly unknown[]).includes(kind)) {
    throw invalid(`kind must be one of ${BUILTIN_KINDS.join(", ")}, not ${JSON.stringify(kind)}`, {
      field: "kind",
    });
  }
  const features = parseFeatures(value.features);
  const trees = kind === "gradient_boosted_trees";
  const weights = trees
    ? finiteNumbers(value.weights ?? [], "weights", 0, "a tree model's weights (none)")
    : finiteNumbers(value.weights, "weights", features.length, "features");
  if (typeof value.intercept !== "number" || !Number.isFinite(value.intercept)) {
    throw invalid("intercept must be a finite number", { field: "intercept" });
  }
  const model: {
    -readonly [K in keyof LinearBuiltinModel]: LinearBuiltinModel[K];
  } = { format: BUILTIN_FORMAT, kind: kind as LinearKind, features, weights, intercept: value.intercept };
  if (value.scaling !== undefined) model.scaling = parseScaling(value.scaling, features.length);
  if (value.classes !== undefined) {
    if (kind !== "logistic_regression") {
      throw invalid("classes is only allowed for logistic_regression", { field: "classes" });
    }
    model.classes = parseClasses(value.classes);
  }
  if (trees) {
    if (value.scaling !== undefined) throw invalid("scaling is not used by trees", { field: "scaling" });
    model.trees = parseTrees(value.trees, features.length);
    if (!(TREE_OBJECTIVES as readonly unknown[]).includes(value.objective))
      throw invalid(`objective must be one of ${TREE_OBJECTIVES.join(", ")}`, { field: "objective" });
    model.objective = value.objective as TreeObjective;
  } else if (value.trees !== undefined || value.objective !== undefined) {
    throw invalid("trees and objective are only allowed for gradient_boosted_trees", { field: "trees" });
  }
  if (value.training !== undefined) {
    if (!isPlainObject(value.training)) throw invalid("training must be an object", { field: "training" });
    model.training = value.training;
  }
  return model;
}

/** JSON text for a builtin model (checked first, so what is written can always be read back). */
export function serializeBuiltinModel(model: BuiltinModel): string {
  if ("regimes" in model)
    return `${JSON.stringify(parseBuiltinModel(JSON.parse(JSON.stringify(model))), null, 2)}\n`;
  const json = "specialist" in model ? volatilityModelJson(model) : model;
  const checked = parseBuiltinModel(JSON.parse(JSON.stringify(json)));
  if ("specialist" in checked) return `${JSON.stringify(volatilityModelJson(checked), null, 2)}\n`;
  return `${JSON.stringify(checked, null, 2)}\n`;
}
