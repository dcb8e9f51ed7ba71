/**
 * A deployment's rollout strategy, as declared under `strategy:`: a canary walks its steps
 * (`setWeight`, `pause`, `analysis`) while gates compare the canary with the stable variant;
 * blue-green previews, then switches at once; an A/B test splits traffic and waits for an
 * always-valid verdict on a business metric. Parsed once into a typed value told apart by its
 * `kind` (a rollout keeps the value it started with); errors name the field.
 */
import { isPlainObject } from "../domain/json-value.js";
import { parseDuration } from "../domain/duration.js";
import { invalidField, shown } from "../registry/field.js";
import { parseNotifierConfig, type NotifierConfig } from "../alerts/notifiers/index.js";

/** What a gate measures, per variant, over the rollout so far. */
export const GATE_METRICS = [
  "error_rate",
  "event_rate",
  "latency_p50",
  "latency_p99",
  "drift_share",
  "accuracy",
] as const;
export type GateMetric = (typeof GATE_METRICS)[number];

export interface Gate {
  readonly metric: GateMetric;
  /** For event_rate: the feedback event counted (click, conversion). */
  readonly event?: string;
  /** Rates: the harm tolerated, in absolute rate units (0.01 = one percentage point). */
  readonly margin?: number;
  /** Latency (ms) or drift share the canary may not exceed. */
  readonly max?: number;
  /** For drift_share: the Monitor whose latest window of the canary is read. */
  readonly monitor?: string;
  /** For accuracy: the output holding P(positive) and the threshold that makes it a class. */
  readonly score?: string;
  readonly threshold?: number;
  /** Requests (event_rate: exposures; accuracy: labelled predictions) per variant before the gate judges. */
  readonly minSamples: number;
}

export interface AnalysisSpec {
  /** How often gates are evaluated. */
  readonly intervalMs: number;
  /** Error bound of each sequential decision (false rollback, false promotion). */
  readonly alpha: number;
  /** Smallest harm worth catching fast; sets the mixture of the sequential test. */
  readonly minimumDetectableHarm: number;
  /** Threshold gates (latency, drift) may fail this many consecutive evaluations before the rollout aborts. */
  readonly failureLimit: number;
  readonly gates: readonly Gate[];
}

export type CanaryStep =
  | { readonly setWeight: number }
  | { readonly pause: { readonly durationMs?: number } }
  | { readonly analysis: { readonly durationMs: number } };

/** Canary and blue-green both walk steps while gates compare the new version with the stable one. */
interface SteppedStrategy {
  readonly steps: readonly CanaryStep[];
  /** Background analysis: gates evaluated through every step; a failure aborts at once. */
  readonly analysis: AnalysisSpec;
  /** The alias that follows the promoted version (champion). */
  readonly promoteAlias?: string;
  /** Who hears of a rollback or of a rollout waiting for a person. */
  readonly notifiers?: readonly NotifierConfig[];
}

export interface CanaryStrategy extends SteppedStrategy {
  readonly kind: "canary";
  /** A challenger significantly better than the champion is rolled out through this canary. */
  readonly challengers?: ChallengerStrategy;
}

/**
 * Blue-green: requests carrying `previewHeader` reach the new version before it takes any live
 * traffic (the preview); its steps (derived when parsed) are preview, analysis, switch from 0
 * to 100% at once, analysis.
 */
export interface BlueGreenStrategy extends SteppedStrategy {
  readonly kind: "blueGreen";
  readonly previewHeader: string;
}

export interface AbTestStrategy {
  readonly kind: "abTest";
  /** The business metric compared: rate of this feedback event per request. */
  readonly event: string;
  /** Share of traffic to the challenger variant, percent. */
  readonly weight: number;
  readonly alpha: number;
  readonly minimumDetectableEffect: number;
  /** Once there is a winner: promote it (through a canary when one is declared) or only report. */
  readonly autoPromote: boolean;
  readonly intervalMs: number;
  /** Who hears the verdict. */
  readonly notifiers?: readonly NotifierConfig[];
}

/** A deployment's declared strategy, parsed once; what a running rollout follows and keeps. */
export type RolloutStrategy = CanaryStrategy | BlueGreenStrategy | AbTestStrategy;
export type RolloutKindName = RolloutStrategy["kind"];

/** Shadow or minority variants judged against the champion on labelled outcomes. */
export interface ChallengerStrategy {
  readonly evaluateEveryMs: number;
  /** How far back labelled predictions are paired. */
  readonly windowMs: number;
  readonly alpha: number;
  readonly score: string;
  readonly threshold: number;
  readonly regression: boolean;
}

const STEP_KINDS = ["setWeight", "pause", "analysis"];

/**
 * The declared `strategy:` (JSON as stored with the deployment) as a typed value; undefined
 * when none is declared. Throws, naming the field, when it is not a strategy.
 */
export function parseStrategy(raw: unknown): RolloutStrategy | undefined {
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw))
    throw invalidField("strategy", `expected {canary: …} or {abTest: …}, got ${shown(raw)}`);
  const keys = Object.keys(raw);
  const unknown = keys.find((k) => !["canary", "blueGreen", "abTest", "challengers"].includes(k));
  if (unknown !== undefined)
    throw invalidField(
      `strategy.${unknown}`,
      "unknown strategy; expected canary, blueGreen, abTest or challengers",
    );
  const main = ["canary", "blueGreen", "abTest"].filter((k) => raw[k] !== undefined);
  if (main.length !== 1) throw invalidField("strategy", "declare exactly one of canary, blueGreen, abTest");
  if (raw.blueGreen !== undefined) {
    if (raw.challengers !== undefined)
      throw invalidField(
        "strategy.challengers",
        "challengers are promoted through a canary: use strategy.canary",
      );
    return checkBlueGreen(raw.blueGreen);
  }
  if (raw.challengers !== undefined && raw.canary === undefined)
    throw invalidField(
      "strategy.challengers",
      "a better challenger is promoted through a canary: declare strategy.canary too",
    );
  const challengers = raw.challengers === undefined ? {} : { challengers: checkChallengers(raw.challengers) };
  return raw.canary !== undefined ? { ...checkCanary(raw.canary), ...challengers } : checkAbTest(raw.abTest);
}

/**
 * A deployment's parsed strategy, parsed again only when its declaration changes: the tick
 * reads deployments afresh, and the text of a declaration is cheaper to compare than to check.
 */
export class StrategyCache {
  private readonly parsed = new Map<string, { declared: string; strategy: RolloutStrategy | undefined }>();

  of(deployment: { readonly name: string; readonly strategy?: unknown }): RolloutStrategy | undefined {
    const declared = JSON.stringify(deployment.strategy ?? null);
    const cached = this.parsed.get(deployment.name);
    if (cached?.declared === declared) return cached.strategy;
    const strategy = parseStrategy(deployment.strategy);
    this.parsed.set(deployment.name, { declared, strategy });
    return strategy;
  }
}

function checkCanary(raw: unknown): CanaryStrategy {
  const at = "strategy.canary";
  const obj = objectWith(raw, at, ["steps", "analysis", "promoteAlias", "notifiers"]);
  if (!Array.isArray(obj.steps) || obj.steps.length === 0)
    throw invalidField(`${at}.steps`, `expected a non-empty list of steps, got ${shown(obj.steps)}`);
  let lastWeight = 0;
  const steps = obj.steps.map((s: unknown, i): CanaryStep => {
    const field = `${at}.steps[${i}]`;
    if (
      !isPlainObject(s) ||
      Object.keys(s).length !== 1 ||
      !STEP_KINDS.includes(Object.keys(s)[0] as string)
    ) {
      throw invalidField(
        field,
        `expected one of {setWeight: N}, {pause: {duration?}}, {analysis: {duration}}, got ${shown(s)}`,
      );
    }
    if (s.setWeight !== undefined) {
      const w = s.setWeight;
      if (typeof w !== "number" || !Number.isFinite(w) || w <= 0 || w > 100)
        throw invalidField(`${field}.setWeight`, `expected a percentage in (0, 100], got ${shown(w)}`);
      if (w < lastWeight)
        throw invalidField(
          `${field}.setWeight`,
          `steps out of order: ${w} after ${lastWeight}; a canary's weight only grows (abort rolls back)`,
        );
      lastWeight = w;
      return { setWeight: w };
    }
    if (s.pause !== undefined) {
      const p = s.pause === null ? {} : objectWith(s.pause, `${field}.pause`, ["duration"]);
      return {
        pause:
          p.duration === undefined ? {} : { durationMs: durationOf(p.duration, `${field}.pause.duration`) },
      };
    }
    const a = objectWith(s.analysis, `${field}.analysis`, ["duration"]);
    if (a.duration === undefined)
      throw invalidField(`${field}.analysis.duration`, "expected how long the analysis may take (e.g. 10m)");
    if (lastWeight === 0)
      throw invalidField(
        `${field}.analysis`,
        "steps out of order: an analysis needs a setWeight before it (no canary traffic to analyse)",
      );
    return { analysis: { durationMs: durationOf(a.duration, `${field}.analysis.duration`) } };
  });
  if (lastWeight === 0) throw invalidField(`${at}.steps`, "expected at least one setWeight step");
  const promoteAlias = aliasOf(obj.promoteAlias, `${at}.promoteAlias`);
  return {
    kind: "canary",
    steps,
    analysis: checkAnalysis(obj.analysis, `${at}.analysis`),
    promoteAlias,
    ...notifiersOf(obj.notifiers, at),
  };
}

function checkAnalysis(raw: unknown, at: string): AnalysisSpec {
  const obj =
    raw === undefined
      ? {}
      : objectWith(raw, at, ["interval", "alpha", "minimumDetectableHarm", "failureLimit", "gates"]);
  const intervalMs = obj.interval === undefined ? 60_000 : durationOf(obj.interval, `${at}.interval`);
  const alpha = fraction(obj.alpha ?? 0.01, `${at}.alpha`, 0.5);
  const mdh = obj.minimumDetectableHarm ?? 0.02;
  if (typeof mdh !== "number" || !(mdh > 0 && mdh < 1))
    throw invalidField(`${at}.minimumDetectableHarm`, `expected a rate in (0, 1), got ${shown(mdh)}`);
  const failureLimit = obj.failureLimit ?? 2;
  if (!Number.isSafeInteger(failureLimit) || (failureLimit as number) < 0)
    throw invalidField(`${at}.failureLimit`, `expected a whole number ≥ 0, got ${shown(failureLimit)}`);
  const rawGates = obj.gates ?? [{ metric: "error_rate" }];
  if (!Array.isArray(rawGates))
    throw invalidField(`${at}.gates`, `expected a list of gates, got ${shown(rawGates)}`);
  const gates = rawGates.map((g: unknown, i) => checkGate(g, `${at}.gates[${i}]`));
  return { intervalMs, alpha, minimumDetectableHarm: mdh, failureLimit: failureLimit as number, gates };
}

function checkGate(raw: unknown, at: string): Gate {
  const obj = objectWith(raw, at, [
    "metric",
    "event",
    "margin",
    "max",
    "monitor",
    "minSamples",
    "score",
    "threshold",
  ]);
  if ((obj.score !== undefined || obj.threshold !== undefined) && obj.metric !== "accuracy")
    throw invalidField(at, "score and threshold belong to the accuracy gate");
  const metric = obj.metric;
  if (typeof metric !== "string" || !(GATE_METRICS as readonly string[]).includes(metric))
    throw invalidField(`${at}.metric`, `expected one of ${GATE_METRICS.join(", ")}, got ${shown(metric)}`);
  const minSamples = obj.minSamples ?? 100;
  if (!Number.isSafeInteger(minSamples) || (minSamples as number) < 1)
    throw invalidField(`${at}.minSamples`, `expected a whole number ≥ 1, got ${shown(minSamples)}`);
  const base = { metric: metric as GateMetric, minSamples: minSamples as number };
  switch (metric) {
    case "error_rate":
    case "event_rate": {
      if (obj.max !== undefined || obj.monitor !== undefined)
        throw invalidField(
          at,
          `${metric} is compared with the stable variant by a margin, not a max or monitor`,
        );
      const margin = fraction(obj.margin ?? (metric === "error_rate" ? 0.005 : 0.01), `${at}.margin`, 1);
      if (metric === "event_rate") {
        if (typeof obj.event !== "string" || obj.event === "")
          throw invalidField(`${at}.event`, "expected the feedback event counted (e.g. click)");
        return { ...base, event: obj.event, margin };
      }
      if (obj.event !== undefined) throw invalidField(`${at}.event`, "only event_rate counts an event");
      return { ...base, margin };
    }
    case "accuracy": {
      if (obj.max !== undefined || obj.monitor !== undefined || obj.event !== undefined)
        throw invalidField(
          at,
          "accuracy is compared with the stable variant by a margin on labelled predictions",
        );
      if (obj.score !== undefined && (typeof obj.score !== "string" || obj.score === ""))
        throw invalidField(`${at}.score`, `expected an output name, got ${shown(obj.score)}`);
      return {
        ...base,
        margin: fraction(obj.margin ?? 0.02, `${at}.margin`, 1),
        score: (obj.score as string | undefined) ?? "probability",
        threshold: fraction(obj.threshold ?? 0.5, `${at}.threshold`, 1),
      };
    }
    case "latency_p50":
    case "latency_p99": {
      const max = obj.max;
      if (typeof max !== "number" || !(max > 0))
        throw invalidField(`${at}.max`, `expected a latency in milliseconds, got ${shown(max)}`);
      return { ...base, max };
    }
    default: {
      if (typeof obj.monitor !== "string" || obj.monitor === "")
        throw invalidField(`${at}.monitor`, "expected the name of the drift Monitor on this deployment");
      return { ...base, monitor: obj.monitor, max: fraction(obj.max ?? 0.5, `${at}.max`, 1) };
    }
  }
}

function checkAbTest(raw: unknown): AbTestStrategy {
  const at = "strategy.abTest";
  const obj = objectWith(raw, at, [
    "event",
    "weight",
    "alpha",
    "minimumDetectableEffect",
    "autoPromote",
    "interval",
    "notifiers",
  ]);
  if (typeof obj.event !== "string" || obj.event === "")
    throw invalidField(`${at}.event`, "expected the feedback event compared (e.g. click)");
  const weight = obj.weight ?? 50;
  if (typeof weight !== "number" || !(weight > 0 && weight < 100))
    throw invalidField(`${at}.weight`, `expected the challenger's share in (0, 100), got ${shown(weight)}`);
  const mde = obj.minimumDetectableEffect ?? 0.01;
  if (typeof mde !== "number" || !(mde > 0 && mde < 1))
    throw invalidField(
      `${at}.minimumDetectableEffect`,
      `expected a rate difference in (0, 1), got ${shown(mde)}`,
    );
  if (obj.autoPromote !== undefined && typeof obj.autoPromote !== "boolean")
    throw invalidField(`${at}.autoPromote`, `expected true or false, got ${shown(obj.autoPromote)}`);
  return {
    kind: "abTest",
    event: obj.event,
    weight,
    alpha: fraction(obj.alpha ?? 0.05, `${at}.alpha`, 0.5),
    minimumDetectableEffect: mde,
    autoPromote: obj.autoPromote === true,
    intervalMs: obj.interval === undefined ? 60_000 : durationOf(obj.interval, `${at}.interval`),
    ...notifiersOf(obj.notifiers, at),
  };
}

/**
 * Blue-green as steps: the new version warmed at 0% with preview traffic by header, a
 * pre-promotion analysis on that preview, the switch to 100%, a post-promotion analysis whose
 * failure switches back. Gates compare with the stable version's numbers gathered before.
 */
function checkBlueGreen(raw: unknown): BlueGreenStrategy {
  const at = "strategy.blueGreen";
  const obj = objectWith(raw, at, [
    "previewHeader",
    "prePromotionAnalysis",
    "postPromotionAnalysis",
    "analysis",
    "promoteAlias",
    "notifiers",
  ]);
  const header = obj.previewHeader ?? "x-ballast-preview";
  if (typeof header !== "string" || !/^[a-z0-9-]{1,64}$/i.test(header))
    throw invalidField(`${at}.previewHeader`, `expected a header name, got ${shown(header)}`);
  const window = (value: unknown, field: string): number => {
    const o = objectWith(value ?? { duration: "5m" }, `${at}.${field}`, ["duration"]);
    return o.duration === undefined ? 300_000 : durationOf(o.duration, `${at}.${field}.duration`);
  };
  const pre = window(obj.prePromotionAnalysis, "prePromotionAnalysis");
  const post = window(obj.postPromotionAnalysis, "postPromotionAnalysis");
  const promoteAlias = aliasOf(obj.promoteAlias, `${at}.promoteAlias`);
  return {
    kind: "blueGreen",
    // Weight 0 deploys the new version (loaded, warm) for previews only.
    steps: [
      { setWeight: 0 },
      { analysis: { durationMs: pre } },
      { setWeight: 100 },
      { analysis: { durationMs: post } },
    ],
    analysis: checkAnalysis(obj.analysis, `${at}.analysis`),
    promoteAlias,
    previewHeader: header.toLowerCase(),
    ...notifiersOf(obj.notifiers, at),
  };
}

function checkChallengers(raw: unknown): ChallengerStrategy {
  const at = "strategy.challengers";
  const obj = objectWith(raw, at, ["evaluateEvery", "window", "alpha", "score", "threshold", "regression"]);
  if (obj.score !== undefined && (typeof obj.score !== "string" || obj.score === ""))
    throw invalidField(`${at}.score`, `expected an output name, got ${shown(obj.score)}`);
  if (obj.regression !== undefined && typeof obj.regression !== "boolean")
    throw invalidField(`${at}.regression`, `expected true or false, got ${shown(obj.regression)}`);
  const threshold = obj.threshold ?? 0.5;
  if (typeof threshold !== "number" || !(threshold > 0 && threshold < 1))
    throw invalidField(`${at}.threshold`, `expected a probability in (0, 1), got ${shown(threshold)}`);
  return {
    evaluateEveryMs:
      obj.evaluateEvery === undefined ? 600_000 : durationOf(obj.evaluateEvery, `${at}.evaluateEvery`),
    windowMs: obj.window === undefined ? 86_400_000 : durationOf(obj.window, `${at}.window`),
    alpha: fraction(obj.alpha ?? 0.01, `${at}.alpha`, 0.5),
    score: (obj.score as string | undefined) ?? (obj.regression === true ? "prediction" : "probability"),
    threshold,
    regression: obj.regression === true,
  };
}

/** Inline notifier configurations (as a Monitor's `notifiers` takes them). */
function notifiersOf(raw: unknown, at: string): { notifiers?: NotifierConfig[] } {
  if (raw === undefined) return {};
  if (!Array.isArray(raw))
    throw invalidField(`${at}.notifiers`, `expected a list of notifier configurations, got ${shown(raw)}`);
  return { notifiers: raw.map((n: unknown, i) => parseNotifierConfig(n, `${at}.notifiers[${i}]`)) };
}

/** The alias a promotion moves: `champion` unless named. */
function aliasOf(raw: unknown, at: string): string {
  const alias = raw ?? "champion";
  if (typeof alias !== "string" || !/^[a-z][a-z0-9_-]{0,62}$/.test(alias))
    throw invalidField(at, `expected an alias name, got ${shown(alias)}`);
  return alias;
}

function objectWith(raw: unknown, at: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(raw))
    throw invalidField(at, `expected an object with ${allowed.join(", ")}, got ${shown(raw)}`);
  const unknown = Object.keys(raw).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw invalidField(`${at}.${unknown}`, `unknown field; expected ${allowed.join(", ")}`);
  return raw;
}

function durationOf(raw: unknown, at: string): number {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw > 0) return raw * 1000; // seconds
  if (typeof raw !== "string")
    throw invalidField(at, `expected a duration like 30s, 5m or 1h, got ${shown(raw)}`);
  try {
    return parseDuration(raw, at);
  } catch {
    throw invalidField(at, `expected a duration like 30s, 5m or 1h, got ${shown(raw)}`);
  }
}

function fraction(raw: unknown, at: string, below: number): number {
  if (typeof raw !== "number" || !(raw > 0 && raw < below))
    throw invalidField(at, `expected a number in (0, ${below}), got ${shown(raw)}`);
  return raw;
}
