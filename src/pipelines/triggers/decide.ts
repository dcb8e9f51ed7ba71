/**
 * Whether a trigger that fired starts a run or is coalesced into the one before it, and the
 * reason texts people read in the event log and on the run. Pure: the trigger service gathers
 * the facts and carries the answer out.
 */
import type { JsonValue } from "../../domain/json-value.js";
import type { AlertTransition } from "../../alerts/alerting.js";
import type {
  AlertTrigger,
  KpiTrigger,
  RegimeLossTrigger,
  ScheduleTrigger,
  TriggerKind,
} from "./trigger-spec.js";

/** A trigger that fired: which kind, why (one sentence), and the facts behind it. */
export interface TriggerFiring {
  readonly kind: TriggerKind;
  readonly reason: string;
  readonly details: Readonly<Record<string, JsonValue>>;
}

/** What is known of the pipeline's runs when a trigger fires. */
export interface RunFacts {
  /** After a run starts, triggers within this many ms are coalesced into it (0: none). */
  readonly cooldownMs: number;
  /** Epoch ms the latest run started; null when there has been none. */
  readonly lastRunStart: number | null;
  /** A run is pending or running now. */
  readonly runActive: boolean;
  readonly now: number;
}

export type TriggerDecision =
  | { readonly action: "start"; readonly reason: string }
  | { readonly action: "coalesce"; readonly reason: string };

/**
 * A run going on takes every trigger in (the data it reads is already on its way); a run started
 * within the cooldown does too. A person's manual start is never held back by the cooldown, but
 * still waits for the active run (one run per pipeline is the orchestrator's rule as well).
 */
export function decide(firing: TriggerFiring, facts: RunFacts): TriggerDecision {
  if (facts.runActive) {
    return { action: "coalesce", reason: `coalesced: a run is already active; ${firing.reason}` };
  }
  if (firing.kind !== "manual" && facts.lastRunStart !== null && facts.cooldownMs > 0) {
    const since = facts.now - facts.lastRunStart;
    if (since < facts.cooldownMs) {
      return {
        action: "coalesce",
        reason: `coalesced: the last run started ${durationText(since)} ago, within the cooldown of ${durationText(facts.cooldownMs)}; ${firing.reason}`,
      };
    }
  }
  return { action: "start", reason: firing.reason };
}

/**
 * Whether an alert transition is one the trigger starts on: a monitor's firing (a router's when
 * the trigger names one) matching every field named.
 */
export function alertMatches(trigger: AlertTrigger, transition: AlertTransition): boolean {
  if (transition.type !== "fired") return false;
  const { source } = transition;
  const labels = transition.notification.labels;
  if (trigger.router !== undefined) {
    if (source.kind !== "router" || source.name !== trigger.router) return false;
    if (trigger.alertname !== undefined && trigger.alertname !== labels.alertname) return false;
  } else {
    // Monitors' alerts unless a router is named: a rollout's or the registry's events are not
    // what retraining answers.
    if (source.kind !== "drift" && source.kind !== "performance") return false;
    if (trigger.monitor !== undefined && trigger.monitor !== source.name) return false;
  }
  if (trigger.severity !== undefined && trigger.severity !== labels.severity) return false;
  if (trigger.deployment !== undefined && trigger.deployment !== labels.deployment) return false;
  return true;
}

/**
 * "alert fraud-drift firing (critical) on deployment fraud: 3 of 5 features drifted …", or for a
 * router "alert RegimeChanged of router vol firing (info): spx turned turbulent (from calm)".
 */
export function alertFiring(transition: AlertTransition): TriggerFiring {
  const { labels, annotations } = transition.notification;
  const who =
    transition.source.kind === "router"
      ? `${labels.alertname ?? "alert"} of router ${transition.source.name}`
      : transition.source.name;
  const where = labels.deployment === undefined ? "" : ` on deployment ${labels.deployment}`;
  const what = annotations.summary ?? labels.alertname ?? transition.identity;
  const score =
    annotations.score === undefined
      ? ""
      : ` (score ${annotations.score}${annotations.threshold === undefined ? "" : `, threshold ${annotations.threshold}`})`;
  return {
    kind: "alert",
    reason: `alert ${who} firing (${labels.severity ?? "no severity"})${where}: ${what}${score}`,
    details: {
      source: { kind: transition.source.kind, name: transition.source.name },
      identity: transition.identity,
      labels: { ...labels },
      annotations: { ...annotations },
      startsAt: transition.notification.startsAt,
    },
  };
}

/** The KPI over the window, as judged from a monitor's buckets. */
export interface KpiReading {
  /** Null when the window had too few labels to judge. */
  readonly value: number | null;
  readonly labelled: number;
  readonly buckets: number;
  /** The performance monitor read. */
  readonly monitor: string;
}

/** Breached, healthy, or not judged (too few labels: the previous state is kept). */
export function kpiBreached(trigger: KpiTrigger, reading: KpiReading): boolean | null {
  if (reading.value === null || reading.labelled < trigger.minLabels) return null;
  return "below" in trigger.bound ? reading.value < trigger.bound.below : reading.value > trigger.bound.above;
}

/**
 * A KPI fires when it enters the breach (from healthy or from never judged), not on every tick
 * while it stays there: like an alert, it fires again only after it has recovered.
 */
export function kpiFires(previous: boolean | null, now: boolean | null): boolean {
  return now === true && previous !== true;
}

export function kpiFiring(trigger: KpiTrigger, reading: KpiReading): TriggerFiring {
  const name = trigger.event === undefined ? trigger.metric : `${trigger.metric} of ${trigger.event}`;
  const [side, bound] =
    "below" in trigger.bound ? ["below", trigger.bound.below] : ["above", trigger.bound.above];
  return {
    kind: "kpi",
    reason: `KPI ${name} on deployment ${trigger.deployment} is ${fmt(reading.value as number)}, ${side} ${bound} over the last ${durationText(trigger.windowMs)} (${reading.labelled} labelled rows, monitor ${reading.monitor})`,
    details: {
      deployment: trigger.deployment,
      metric: trigger.metric,
      ...(trigger.event === undefined ? {} : { event: trigger.event }),
      value: reading.value,
      [side]: bound,
      windowMs: trigger.windowMs,
      labelled: reading.labelled,
      monitor: reading.monitor,
    },
  };
}

/** One specialist in one regime: its recent mean loss against the stretch before it. */
export interface RegimeLossJudgement {
  readonly specialist: string;
  readonly regime: string;
  /** Rounds in each stretch (the recent one is the latest `recent`, the baseline the `baseline` before). */
  readonly nRecent: number;
  readonly nBaseline: number;
  readonly recentLoss: number | null;
  readonly baselineLoss: number | null;
  /** recentLoss / baselineLoss; Infinity when the baseline loss is 0 and the recent one is not. */
  readonly ratio: number | null;
  /** Null when a stretch is short of minSamples rounds (the last verdict holds). */
  readonly breached: boolean | null;
}

/**
 * Splits a model's losses in a regime (oldest first) into the latest `recent` rounds and the
 * `baseline` rounds before them, and judges the recent mean against `ratio` times the baseline's.
 */
export function judgeRegimeLoss(
  trigger: RegimeLossTrigger,
  specialist: string,
  regime: string,
  losses: readonly number[],
): RegimeLossJudgement {
  const recent = losses.slice(Math.max(0, losses.length - trigger.recent));
  const before = losses.slice(0, losses.length - recent.length);
  const baseline = before.slice(Math.max(0, before.length - trigger.baseline));
  const mean = (xs: readonly number[]) =>
    xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length;
  const recentLoss = mean(recent);
  const baselineLoss = mean(baseline);
  const ratio =
    recentLoss === null || baselineLoss === null
      ? null
      : baselineLoss > 0
        ? recentLoss / baselineLoss
        : recentLoss > 0
          ? Infinity
          : 1;
  const judged = recent.length >= trigger.minSamples && baseline.length >= trigger.minSamples;
  return {
    specialist,
    regime,
    nRecent: recent.length,
    nBaseline: baseline.length,
    recentLoss,
    baselineLoss,
    ratio,
    breached: judged && ratio !== null ? ratio >= trigger.ratio : null,
  };
}

/** The key a pair's breach is remembered under in the trigger's state. */
export function regimeLossKey(j: { specialist: string; regime: string }): string {
  return `${j.specialist}/${j.regime}`;
}

/** The pairs entering the breach now (from healthy or never judged); a breach held stays quiet. */
export function regimeLossEntering(
  previous: Readonly<Record<string, JsonValue>>,
  judgements: readonly RegimeLossJudgement[],
): RegimeLossJudgement[] {
  return judgements.filter((j) => kpiFires(asVerdict(previous[regimeLossKey(j)]), j.breached));
}

/** The breach map after this evaluation: unjudged pairs keep their last verdict. */
export function regimeLossVerdicts(
  previous: Readonly<Record<string, JsonValue>>,
  judgements: readonly RegimeLossJudgement[],
): Record<string, JsonValue> {
  const next: Record<string, JsonValue> = { ...previous };
  for (const j of judgements) if (j.breached !== null) next[regimeLossKey(j)] = j.breached;
  return next;
}

/** "regime loss degraded on router vol: garch in turbulent, QLIKE 0.84 over the last 50 rounds is 1.43× its 0.59 over the 250 before (threshold 1.2×)". */
export function regimeLossFiring(
  trigger: RegimeLossTrigger,
  degraded: readonly RegimeLossJudgement[],
): TriggerFiring {
  const worst = [...degraded].sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0));
  const metric = trigger.metric === "qlike" ? "QLIKE" : "MSE";
  const text = worst
    .map(
      (j) =>
        `${j.specialist} in ${j.regime}, ${metric} ${fmt(j.recentLoss as number)} over the last ${j.nRecent} rounds is ${ratioText(j.ratio as number)} its ${fmt(j.baselineLoss as number)} over the ${j.nBaseline} before`,
    )
    .join("; ");
  return {
    kind: "regimeLoss",
    reason: `regime loss degraded on router ${trigger.router}: ${text} (threshold ${trigger.ratio}×)`,
    details: {
      router: trigger.router,
      metric: trigger.metric,
      threshold: trigger.ratio,
      degraded: worst.map((j) => ({
        specialist: j.specialist,
        regime: j.regime,
        recentLoss: j.recentLoss,
        baselineLoss: j.baselineLoss,
        ratio: j.ratio === null || Number.isFinite(j.ratio) ? j.ratio : "Infinity",
        recentRounds: j.nRecent,
        baselineRounds: j.nBaseline,
      })),
    },
  };
}

function asVerdict(value: JsonValue | undefined): boolean | null {
  return typeof value === "boolean" ? value : null;
}

function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "infinitely above";
}

/**
 * The schedule's occurrences in (since, now]: croner's next run from the last evaluation, so a
 * server down over several occurrences fires once on return and says how many it missed.
 */
export function scheduleDue(
  next: (from: number) => number | null,
  since: number,
  now: number,
  maxCounted = 1000,
): { readonly due: number; readonly first: number | null; readonly last: number | null } {
  let due = 0;
  let first: number | null = null;
  let last: number | null = null;
  let at = next(since);
  while (at !== null && at <= now && due < maxCounted) {
    due += 1;
    first ??= at;
    last = at;
    at = next(at);
  }
  return { due, first, last };
}

export function scheduleFiring(
  trigger: ScheduleTrigger,
  occurrence: { due: number; last: number },
): TriggerFiring {
  const missed =
    occurrence.due > 1 ? ` (${occurrence.due - 1} earlier occurrences missed while not evaluated)` : "";
  return {
    kind: "schedule",
    reason: `schedule "${trigger.cron}" (${trigger.timezone}) due at ${new Date(occurrence.last).toISOString()}${missed}`,
    details: {
      cron: trigger.cron,
      timezone: trigger.timezone,
      dueAt: occurrence.last,
      occurrences: occurrence.due,
    },
  };
}

/** A file as a poll saw it; a changed size or mtime makes it new again. */
export interface SeenFile {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** The files of this poll not seen before with the same size and mtime. */
export function newFiles(seen: readonly SeenFile[], now: readonly SeenFile[]): SeenFile[] {
  const known = new Set(seen.map(fileKey));
  return now.filter((f) => !known.has(fileKey(f)));
}

export function filesFiring(path: string, arrived: readonly SeenFile[], maxListed = 20): TriggerFiring {
  const names = arrived.map((f) => f.name).sort();
  const listed = names.slice(0, maxListed).join(", ");
  const more = names.length > maxListed ? ` and ${names.length - maxListed} more` : "";
  const bytes = arrived.reduce((s, f) => s + f.size, 0);
  return {
    kind: "files",
    reason: `${names.length} new file${names.length === 1 ? "" : "s"} matching ${path}: ${listed}${more} (${bytes} bytes)`,
    details: { path, files: names.slice(0, maxListed), count: names.length, bytes },
  };
}

export function manualFiring(
  by: string | undefined,
  params: Readonly<Record<string, string>>,
): TriggerFiring {
  const keys = Object.keys(params).sort();
  const with_ = keys.length === 0 ? "" : ` with ${keys.map((k) => `${k}=${params[k]}`).join(", ")}`;
  return {
    kind: "manual",
    reason: `started by hand${by === undefined ? "" : ` by ${by}`}${with_}`,
    details: { ...(by === undefined ? {} : { by }), params: { ...params } },
  };
}

function fileKey(f: SeenFile): string {
  return JSON.stringify([f.name, f.size, f.mtimeMs]);
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4).replace(/\.?0+$/, "");
}

/** 90000 -> "1m30s"; 3600000 -> "1h". */
export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const parts: string[] = [];
  let s = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("");
}
