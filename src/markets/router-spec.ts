/**
 * A Router's spec (`kind: Router`), checked and made canonical: defaults filled in, one spelling
 * per value, every error naming the field inside the spec. What only the server can check (the
 * classifier version exists and has as many regimes; the specialists' deployments exist) is
 * checked where the resource is applied.
 */
import { invalid, type BallastError } from "../domain/errors.js";
import { isPlainObject, shown } from "../domain/json-value.js";
import {
  LEARNING_ALGORITHMS,
  ROUTER_MODES,
  type Learning,
  type LearningAlgorithm,
  type RouterMode,
} from "./router-weights.js";

export const ROUTER_LOSSES = ["qlike", "mse"] as const;
export type RouterLoss = (typeof ROUTER_LOSSES)[number];
export const CHALLENGER_ACTIONS = ["route", "weight"] as const;
export type ChallengerAction = (typeof CHALLENGER_ACTIONS)[number];

/** The alerts a Router publishes (its `alertname` label), as notifiers and pipeline triggers see them. */
export const ROUTER_ALERTS = ["RegimeChanged", "RegimeChampionChanged", "RouterSpecialistNonsense"] as const;
export type RouterAlert = (typeof ROUTER_ALERTS)[number];

export const DEFAULT_ROUTER_DEADLINE_MS = 250;
export const MAX_ROUTER_SPECIALISTS = 32;
export const MAX_ROUTER_REGIMES = 8;

export interface RouterClassifierRef {
  readonly model: string;
  readonly version?: number;
  readonly alias?: string;
}

export interface RouterSpecialist {
  readonly name: string;
  readonly deployment: string;
}

/** Declared per regime: a one-hot route, or weights (missing specialists weigh 0). */
export type RegimeWeightDoc =
  { readonly route: string } | { readonly weights: Readonly<Record<string, number>> };

export interface RouterLearning extends Learning {
  readonly loss: RouterLoss;
}

export interface RouterChallenger {
  readonly alpha: number;
  readonly minSamples: number;
  readonly action: ChallengerAction;
}

export interface RouterSpec {
  readonly classifier: RouterClassifierRef;
  readonly regimes: readonly string[];
  readonly specialists: readonly RouterSpecialist[];
  readonly mode: RouterMode;
  readonly weights: Readonly<Record<string, RegimeWeightDoc>>;
  readonly learning?: RouterLearning;
  readonly instrument?: string;
  readonly scale: number;
  readonly deadlineMs: number;
  readonly challenger?: RouterChallenger;
  /** A regime change is announced (event, alert) when the new regime's probability reaches this. */
  readonly regimeChange: { readonly minProbability: number; readonly minBars: number };
  /**
   * Whom the router's alerts reach (regime changed, champion changed, nonsense answers), in the
   * Monitors' notifier schema. Kept as declared here: the schema lives in alerts/, above this
   * layer, and the router service checks it.
   */
  readonly notifiers: readonly unknown[];
}

const FIELDS = [
  "classifier",
  "regimes",
  "specialists",
  "mode",
  "weights",
  "learning",
  "instrument",
  "scale",
  "deadlineMs",
  "notifiers",
  "challenger",
  "regimeChange",
];
const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/i;

function fieldError(field: string, problem: string): BallastError {
  return invalid(`${field}: ${problem}`, { field });
}

function onlyFields(object: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  const unknown = Object.keys(object).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw fieldError(`${prefix}${unknown}`, `unknown field; expected ${allowed.join(", ")}`);
}

function objectAt(value: unknown, field: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw fieldError(field, `expected a mapping, got ${shown(value)}`);
  return value;
}

function nameAt(value: unknown, field: string): string {
  if (typeof value !== "string" || !NAME.test(value))
    throw fieldError(field, `expected a name (letters, digits, '.', '_', '-'), got ${shown(value)}`);
  return value;
}

function numberAt(value: unknown, field: string, ok: (v: number) => boolean, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || !ok(value))
    throw fieldError(field, `expected ${what}, got ${shown(value)}`);
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value))
    throw fieldError(field, `expected one of ${allowed.join(", ")}, got ${shown(value)}`);
  return value as T;
}

function classifierOf(raw: unknown): RouterClassifierRef {
  const c = objectAt(raw, "classifier");
  onlyFields(c, ["model", "version", "alias"], "classifier.");
  const model = nameAt(c.model, "classifier.model");
  if (c.version !== undefined && c.alias !== undefined)
    throw fieldError("classifier", "give version or alias, not both");
  if (c.version !== undefined)
    return {
      model,
      version: numberAt(
        c.version,
        "classifier.version",
        (v) => Number.isInteger(v) && v >= 1,
        "a version number",
      ),
    };
  return { model, alias: c.alias === undefined ? "latest" : nameAt(c.alias, "classifier.alias") };
}

function regimesOf(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > MAX_ROUTER_REGIMES)
    throw fieldError(
      "regimes",
      `expected a list of 2 to ${MAX_ROUTER_REGIMES} regime names, got ${shown(raw)}`,
    );
  const names = raw.map((r, i) => nameAt(r, `regimes[${i}]`));
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw fieldError("regimes", `'${twice}' is named twice`);
  return names;
}

function specialistsOf(raw: unknown): RouterSpecialist[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_ROUTER_SPECIALISTS)
    throw fieldError(
      "specialists",
      `expected a list of 1 to ${MAX_ROUTER_SPECIALISTS} {name, deployment}, got ${shown(raw)}`,
    );
  const out = raw.map((s, i) => {
    const o = objectAt(s, `specialists[${i}]`);
    onlyFields(o, ["name", "deployment"], `specialists[${i}].`);
    const deployment = nameAt(o.deployment, `specialists[${i}].deployment`);
    return { name: o.name === undefined ? deployment : nameAt(o.name, `specialists[${i}].name`), deployment };
  });
  const names = out.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw fieldError("specialists", `'${twice}' is named twice`);
  return out;
}

function weightsOf(raw: unknown, regimes: readonly string[], specialists: readonly string[]) {
  const table = raw === undefined ? {} : objectAt(raw, "weights");
  const out: Record<string, RegimeWeightDoc> = {};
  for (const key of Object.keys(table)) {
    if (!regimes.includes(key))
      throw fieldError(`weights.${key}`, `not a regime of this router; regimes: ${regimes.join(", ")}`);
    const row = objectAt(table[key], `weights.${key}`);
    onlyFields(row, ["route", "weights"], `weights.${key}.`);
    if ((row.route === undefined) === (row.weights === undefined))
      throw fieldError(`weights.${key}`, "give route (one specialist) or weights, one of the two");
    if (row.route !== undefined) {
      const route = row.route;
      if (typeof route !== "string" || !specialists.includes(route))
        throw fieldError(
          `weights.${key}.route`,
          `expected one of ${specialists.join(", ")}, got ${shown(route)}`,
        );
      out[key] = { route };
      continue;
    }
    const w = objectAt(row.weights, `weights.${key}.weights`);
    let total = 0;
    const weights: Record<string, number> = {};
    for (const s of Object.keys(w)) {
      if (!specialists.includes(s))
        throw fieldError(
          `weights.${key}.weights.${s}`,
          `not a specialist; specialists: ${specialists.join(", ")}`,
        );
      weights[s] = numberAt(w[s], `weights.${key}.weights.${s}`, (v) => v >= 0, "a weight >= 0");
      total += weights[s];
    }
    if (!(total > 0)) throw fieldError(`weights.${key}.weights`, "the weights must not all be zero");
    out[key] = { weights };
  }
  return out;
}

function learningOf(raw: unknown): RouterLearning | undefined {
  if (raw === undefined) return undefined;
  const l = objectAt(raw, "learning");
  onlyFields(l, ["algorithm", "rate", "share", "loss"], "learning.");
  const algorithm: LearningAlgorithm = oneOf(
    l.algorithm ?? "hedge",
    "learning.algorithm",
    LEARNING_ALGORITHMS,
  );
  const rate = numberAt(l.rate ?? 0.5, "learning.rate", (v) => v > 0 && v <= 100, "a rate > 0 and <= 100");
  if (algorithm === "hedge" && l.share !== undefined && l.share !== 0)
    throw fieldError("learning.share", "only fixed-share mixes a share back in");
  const share =
    algorithm === "hedge"
      ? 0
      : numberAt(l.share ?? 0.02, "learning.share", (v) => v > 0 && v < 1, "a share in (0, 1)");
  const loss = oneOf(l.loss ?? "qlike", "learning.loss", ROUTER_LOSSES);
  return { algorithm, rate, share, loss };
}

function challengerOf(raw: unknown): RouterChallenger | undefined {
  if (raw === undefined) return undefined;
  const c = objectAt(raw, "challenger");
  onlyFields(c, ["alpha", "minSamples", "action"], "challenger.");
  return {
    alpha: numberAt(c.alpha ?? 0.05, "challenger.alpha", (v) => v > 0 && v < 0.5, "a level in (0, 0.5)"),
    minSamples: numberAt(
      c.minSamples ?? 250,
      "challenger.minSamples",
      (v) => Number.isInteger(v) && v >= 3 && v <= 20_000,
      "an integer from 3 to 20000",
    ),
    action: oneOf(c.action ?? "route", "challenger.action", CHALLENGER_ACTIONS),
  };
}

/** The spec checked and canonical. */
export function parseRouterSpec(raw: unknown): RouterSpec {
  const spec = objectAt(raw, "spec");
  onlyFields(spec, FIELDS, "");
  const classifier = classifierOf(spec.classifier);
  const regimes = regimesOf(spec.regimes);
  const specialists = specialistsOf(spec.specialists);
  const mode = oneOf(spec.mode ?? "hard", "mode", ROUTER_MODES);
  const weights = weightsOf(
    spec.weights,
    regimes,
    specialists.map((s) => s.name),
  );
  const learning = learningOf(spec.learning);
  const challenger = challengerOf(spec.challenger);
  return {
    classifier,
    regimes,
    specialists,
    mode,
    weights,
    ...(learning === undefined ? {} : { learning }),
    ...(spec.instrument === undefined ? {} : { instrument: nameAt(spec.instrument, "instrument") }),
    scale: numberAt(spec.scale ?? 1, "scale", (v) => v > 0, "a positive number"),
    deadlineMs: numberAt(
      spec.deadlineMs ?? DEFAULT_ROUTER_DEADLINE_MS,
      "deadlineMs",
      (v) => Number.isInteger(v) && v >= 1 && v <= 60_000,
      "an integer from 1 to 60000 (milliseconds)",
    ),
    ...(challenger === undefined ? {} : { challenger }),
    regimeChange: regimeChangeOf(spec.regimeChange),
    notifiers: notifiersAt(spec.notifiers),
  };
}

function regimeChangeOf(raw: unknown): { minProbability: number; minBars: number } {
  if (raw === undefined) return { minProbability: 0.5, minBars: 1 };
  const c = objectAt(raw, "regimeChange");
  onlyFields(c, ["minProbability", "minBars"], "regimeChange.");
  return {
    minProbability: numberAt(
      c.minProbability ?? 0.5,
      "regimeChange.minProbability",
      (v) => v >= 0.5 && v < 1,
      "a probability in [0.5, 1)",
    ),
    minBars: numberAt(
      c.minBars ?? 1,
      "regimeChange.minBars",
      (v) => Number.isInteger(v) && v >= 1 && v <= 1000,
      "a whole number of bars from 1 to 1000",
    ),
  };
}

function notifiersAt(raw: unknown): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fieldError("notifiers", `expected a list of notifiers, got ${shown(raw)}`);
  return [...(raw as unknown[])];
}

/** The declared weights as a table: weights[regime][specialist], rows summing to one (uniform when absent). */
export function declaredWeights(spec: RouterSpec): number[][] {
  const names = spec.specialists.map((s) => s.name);
  return spec.regimes.map((regime) => {
    const doc = spec.weights[regime];
    if (doc === undefined) return names.map(() => 1 / names.length);
    if ("route" in doc) return names.map((n) => (n === doc.route ? 1 : 0));
    const row = names.map((n) => doc.weights[n] ?? 0);
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((w) => w / total);
  });
}
