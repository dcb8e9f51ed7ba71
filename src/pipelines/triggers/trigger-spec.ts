/**
 * What starts a pipeline run: a monitor's or a router's alert, a KPI below (or above) its threshold, a router
 * specialist's per-regime loss degrading, a schedule, files arriving, or a person. Parsed once from the Pipeline's `triggers` list into a
 * typed union told apart by `kind`; errors name the field (`triggers[1].schedule.cron`).
 */
import { Cron } from "croner";
import { parseDuration } from "../../domain/duration.js";
import { isPlainObject } from "../../domain/json-value.js";
import { invalidField, shown } from "../../registry/field.js";
import { SCORE_LOSSES, type ScoreLoss } from "../../markets/regime-scoreboard.js";
import { ROUTER_ALERTS, type RouterAlert } from "../../markets/router-spec.js";
import { PERFORMANCE_METRICS, type PerformanceMetric } from "../../monitoring/performance-monitor-spec.js";

/**
 * A firing alert, matched on what the spec names (absent = any): a drift or performance monitor's,
 * or, when `router` is named, that Router's (a regime change, a new champion, a nonsense answer).
 */
export interface AlertTrigger {
  readonly kind: "alert";
  readonly monitor?: string;
  /** A Router's name: its alerts instead of the monitors'. */
  readonly router?: string;
  /** The router's alert (`RegimeChanged`, …); only with `router`. */
  readonly alertname?: RouterAlert;
  readonly severity?: string;
  readonly deployment?: string;
}

/**
 * A deployment's KPI over a trailing window crossing a bound, as its performance monitor measured
 * it. Fires when the KPI enters the breach, not again until it has recovered.
 */
export interface KpiTrigger {
  readonly kind: "kpi";
  readonly deployment: string;
  /** A performance metric (`roc_auc`, `event_rate`, …) or `ctr` (event_rate of `click`). */
  readonly metric: PerformanceMetric;
  /** For event_rate: the feedback event counted (click for `ctr`); absent = the monitor's. */
  readonly event?: string;
  readonly bound: { readonly below: number } | { readonly above: number };
  readonly windowMs: number;
  /** Labelled rows (predictions, for event rates) the window needs before it is judged. */
  readonly minLabels: number;
}

/**
 * A regime router's specialist whose recent loss in a regime has grown against its own loss in
 * that regime before: the mean of its latest `recent` rounds is at least `ratio` times the mean
 * of the `baseline` rounds before them. Judged per regime (turbulent losses are higher than calm
 * ones by nature, so a regime change alone is no degradation) and against the model's own past
 * rather than the regime's best model: refitting answers "this model got worse", while "another
 * model is better here" is the router's challenger's to act on (it moves the regime's weight).
 * Fires when a pair enters the breach, not again until it has recovered.
 */
export interface RegimeLossTrigger {
  readonly kind: "regimeLoss";
  readonly router: string;
  /** A specialist's name in the router, or `router` (its combined forecast: the classifier's signal); absent = every specialist. */
  readonly specialist?: string;
  /** A regime's label; absent = each of the router's regimes. */
  readonly regime?: string;
  readonly metric: ScoreLoss;
  /** Recent over baseline mean loss at which it fires (> 1). */
  readonly ratio: number;
  /** Rounds (forecasts whose outcome came) in the recent stretch. */
  readonly recent: number;
  /** Rounds before the recent ones that make the baseline. */
  readonly baseline: number;
  /** Rounds each stretch needs before it is judged. */
  readonly minSamples: number;
}

export interface ScheduleTrigger {
  readonly kind: "schedule";
  readonly cron: string;
  /** IANA name; UTC when absent (a server's local zone would make schedules move with hosts). */
  readonly timezone: string;
}

export interface FilesTrigger {
  readonly kind: "files";
  /** A glob relative to the allowed root (`incoming/*.csv`); `*`, `?` and `[...]` per segment. */
  readonly path: string;
}

export interface ManualTrigger {
  readonly kind: "manual";
}

export type TriggerSpec =
  AlertTrigger | KpiTrigger | RegimeLossTrigger | ScheduleTrigger | FilesTrigger | ManualTrigger;
export type TriggerKind = TriggerSpec["kind"];

export const TRIGGER_KINDS: readonly TriggerKind[] = [
  "alert",
  "kpi",
  "regimeLoss",
  "schedule",
  "files",
  "manual",
];

/** Shorthands a KPI may name: click-through rate is the rate of click events. */
const KPI_ALIASES: Readonly<Record<string, { metric: PerformanceMetric; event: string }>> = {
  ctr: { metric: "event_rate", event: "click" },
};

const NAME = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/i;

/** Checks a Pipeline's `triggers` list; errors name the field (`triggers[1].schedule.cron`). */
export function parseTriggers(raw: unknown, field: string): TriggerSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidField(field, `expected a list of triggers, got ${shown(raw)}`);
  return raw.map((t, i) => parseTrigger(t, `${field}[${i}]`));
}

export function parseTrigger(raw: unknown, at: string): TriggerSpec {
  if (raw === "manual") return { kind: "manual" };
  if (!isPlainObject(raw) || Object.keys(raw).length !== 1) {
    throw invalidField(at, `expected one of ${TRIGGER_KINDS.join(", ")} (one key), got ${shown(raw)}`);
  }
  const [kind, spec] = Object.entries(raw)[0] as [string, unknown];
  const here = `${at}.${kind}`;
  switch (kind) {
    case "alert":
      return parseAlert(spec ?? {}, here);
    case "kpi":
      return parseKpi(spec, here);
    case "regimeLoss":
      return parseRegimeLoss(spec, here);
    case "schedule":
      return parseSchedule(spec, here);
    case "files":
      return parseFiles(spec, here);
    case "manual":
      if (spec !== null && !(isPlainObject(spec) && Object.keys(spec).length === 0))
        throw invalidField(here, `takes no fields, got ${shown(spec)}`);
      return { kind: "manual" };
    default:
      throw invalidField(`${at}.${kind}`, `unknown trigger kind; expected ${TRIGGER_KINDS.join(", ")}`);
  }
}

function parseAlert(raw: unknown, at: string): AlertTrigger {
  const o = objectWith(raw, at, ["monitor", "router", "alertname", "severity", "deployment"]);
  const monitor = optionalName(o.monitor, `${at}.monitor`);
  const router = optionalName(o.router, `${at}.router`);
  const severity = optionalName(o.severity, `${at}.severity`);
  const deployment = optionalName(o.deployment, `${at}.deployment`);
  if (router !== undefined && monitor !== undefined)
    throw invalidField(at, "name a monitor or a router, not both (each trigger hears one source)");
  // A router's alerts carry no deployment label: the field could never match.
  if (router !== undefined && deployment !== undefined)
    throw invalidField(`${at}.deployment`, "a router's alerts name no deployment; leave it out with router");
  if (o.alertname !== undefined && router === undefined)
    throw invalidField(`${at}.alertname`, `names a router's alert; give the router too (router: <name>)`);
  if (o.alertname !== undefined && !(ROUTER_ALERTS as readonly unknown[]).includes(o.alertname))
    throw invalidField(
      `${at}.alertname`,
      `expected one of ${ROUTER_ALERTS.join(", ")}, got ${shown(o.alertname)}`,
    );
  const alertname = o.alertname as RouterAlert | undefined;
  return {
    kind: "alert",
    ...(monitor === undefined ? {} : { monitor }),
    ...(router === undefined ? {} : { router }),
    ...(alertname === undefined ? {} : { alertname }),
    ...(severity === undefined ? {} : { severity }),
    ...(deployment === undefined ? {} : { deployment }),
  };
}

function parseKpi(raw: unknown, at: string): KpiTrigger {
  const o = objectWith(raw, at, ["deployment", "metric", "event", "below", "above", "window", "minLabels"]);
  const deployment = requiredName(o.deployment, `${at}.deployment`);
  if (typeof o.metric !== "string")
    throw invalidField(`${at}.metric`, `expected a metric name, got ${shown(o.metric)}`);
  const alias = KPI_ALIASES[o.metric];
  const metric = alias?.metric ?? o.metric;
  if (!(PERFORMANCE_METRICS as readonly string[]).includes(metric)) {
    throw invalidField(
      `${at}.metric`,
      `expected one of ${[...PERFORMANCE_METRICS, ...Object.keys(KPI_ALIASES)].join(", ")}, got ${shown(o.metric)}`,
    );
  }
  const event = optionalName(o.event, `${at}.event`) ?? alias?.event;
  if (event !== undefined && metric !== "event_rate")
    throw invalidField(`${at}.event`, `only an event_rate (or ctr) KPI counts an event`);
  if ((o.below === undefined) === (o.above === undefined))
    throw invalidField(at, "expected exactly one of below or above");
  const bound =
    o.below !== undefined
      ? { below: finite(o.below, `${at}.below`) }
      : { above: finite(o.above, `${at}.above`) };
  if (o.window === undefined) throw invalidField(`${at}.window`, "required: a duration like 1h");
  const windowMs = durationOf(o.window, `${at}.window`);
  const minLabels = o.minLabels === undefined ? 1 : count(o.minLabels, `${at}.minLabels`);
  return {
    kind: "kpi",
    deployment,
    metric: metric as PerformanceMetric,
    ...(event === undefined ? {} : { event }),
    bound,
    windowMs,
    minLabels,
  };
}

/** The rounds a router keeps per regime by default: recent + baseline beyond it cannot be read. */
const MAX_REGIME_ROUNDS = 1000;

function parseRegimeLoss(raw: unknown, at: string): RegimeLossTrigger {
  const o = objectWith(raw, at, [
    "router",
    "specialist",
    "regime",
    "metric",
    "ratio",
    "recent",
    "baseline",
    "minSamples",
  ]);
  const router = requiredName(o.router, `${at}.router`);
  const specialist = optionalName(o.specialist, `${at}.specialist`);
  const regime = optionalName(o.regime, `${at}.regime`);
  const metric = o.metric ?? "qlike";
  if (typeof metric !== "string" || !(SCORE_LOSSES as readonly string[]).includes(metric))
    throw invalidField(`${at}.metric`, `expected one of ${SCORE_LOSSES.join(", ")}, got ${shown(metric)}`);
  const ratio = o.ratio === undefined ? 1.2 : finite(o.ratio, `${at}.ratio`);
  if (!(ratio > 1))
    throw invalidField(`${at}.ratio`, `expected a number above 1 (1.2: 20% worse), got ${shown(o.ratio)}`);
  const recent = o.recent === undefined ? 50 : count(o.recent, `${at}.recent`);
  const baseline = o.baseline === undefined ? 250 : count(o.baseline, `${at}.baseline`);
  if (recent + baseline > MAX_REGIME_ROUNDS)
    throw invalidField(
      at,
      `recent + baseline is ${recent + baseline} rounds; a router keeps the last ${MAX_REGIME_ROUNDS} per regime`,
    );
  const minSamples =
    o.minSamples === undefined ? Math.min(30, recent, baseline) : count(o.minSamples, `${at}.minSamples`);
  if (minSamples > Math.min(recent, baseline))
    throw invalidField(
      `${at}.minSamples`,
      `expected at most ${Math.min(recent, baseline)} (the shorter of recent and baseline), got ${minSamples}`,
    );
  return {
    kind: "regimeLoss",
    router,
    ...(specialist === undefined ? {} : { specialist }),
    ...(regime === undefined ? {} : { regime }),
    metric: metric as ScoreLoss,
    ratio,
    recent,
    baseline,
    minSamples,
  };
}

function parseSchedule(raw: unknown, at: string): ScheduleTrigger {
  const o = objectWith(raw, at, ["cron", "timezone"]);
  if (typeof o.cron !== "string" || o.cron.trim() === "")
    throw invalidField(`${at}.cron`, `expected a cron expression like "0 3 * * *", got ${shown(o.cron)}`);
  const timezone = o.timezone ?? "UTC";
  if (typeof timezone !== "string" || !validTimezone(timezone))
    throw invalidField(
      `${at}.timezone`,
      `expected an IANA time zone like UTC or Europe/Paris, got ${shown(timezone)}`,
    );
  try {
    // Paused and without a function: croner only parses and computes, it schedules nothing.
    const next = new Cron(o.cron, { timezone, paused: true }).nextRun(new Date(0));
    if (next === null) throw new Error("it never fires");
  } catch (error) {
    throw invalidField(`${at}.cron`, `not a valid cron expression (${messageOf(error)})`);
  }
  return { kind: "schedule", cron: o.cron.trim(), timezone };
}

function parseFiles(raw: unknown, at: string): FilesTrigger {
  const o = objectWith(raw, at, ["path"]);
  return { kind: "files", path: relativeGlob(o.path, `${at}.path`) };
}

/**
 * A glob that stays under the allowed root: relative, `/`-separated, no `..` or `.` segments, no
 * `**` (a poll walks one level per segment, so its cost follows the pattern).
 */
export function relativeGlob(raw: unknown, at: string): string {
  if (typeof raw !== "string" || raw === "")
    throw invalidField(at, `expected a path relative to the files root, got ${shown(raw)}`);
  if (raw.startsWith("/") || /^[a-z]:/i.test(raw) || raw.includes("\\") || raw.includes("\0"))
    throw invalidField(
      at,
      `must be a relative path with / separators, under the files root, got ${shown(raw)}`,
    );
  const segments = raw.split("/");
  for (const s of segments) {
    if (s === "" || s === "." || s === "..")
      throw invalidField(
        at,
        `must not contain empty, '.' or '..' segments (it must stay under the files root), got ${shown(raw)}`,
      );
    if (s.includes("**"))
      throw invalidField(at, `'**' is not supported; name each directory level, got ${shown(raw)}`);
  }
  return raw;
}

/** A stable key for one trigger of a pipeline: its state survives reordering the list. */
export function triggerKey(trigger: TriggerSpec): string {
  return canonicalJson(trigger);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isPlainObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

function objectWith(raw: unknown, at: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(raw))
    throw invalidField(at, `expected an object with ${allowed.join(", ")}, got ${shown(raw)}`);
  const unknown = Object.keys(raw).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw invalidField(`${at}.${unknown}`, `unknown field; expected ${allowed.join(", ")}`);
  return raw;
}

function optionalName(raw: unknown, at: string): string | undefined {
  return raw === undefined ? undefined : requiredName(raw, at);
}

function requiredName(raw: unknown, at: string): string {
  if (typeof raw !== "string" || !NAME.test(raw))
    throw invalidField(at, `expected a name, got ${shown(raw)}`);
  return raw;
}

function finite(raw: unknown, at: string): number {
  if (typeof raw !== "number" || !Number.isFinite(raw))
    throw invalidField(at, `expected a number, got ${shown(raw)}`);
  return raw;
}

function count(raw: unknown, at: string): number {
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < 1)
    throw invalidField(at, `expected a whole number of at least 1, got ${shown(raw)}`);
  return raw;
}

function durationOf(raw: unknown, at: string): number {
  if (typeof raw !== "string")
    throw invalidField(at, `expected a duration like 30m or 1h, got ${shown(raw)}`);
  try {
    const ms = parseDuration(raw, at);
    if (ms < 1000) throw new Error("too short");
    return ms;
  } catch {
    throw invalidField(at, `expected a duration of at least 1s like 30m or 1h, got ${shown(raw)}`);
  }
}

function validTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
