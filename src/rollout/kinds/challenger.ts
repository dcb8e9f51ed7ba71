/**
 * Champion/challenger: every other variant of a deployment (shadows included: their answers
 * are logged under their own name with the live request's id) is scored against the champion
 * on the same labelled requests. Classifiers are compared with McNemar's test on which of the
 * two got each request right; regressions with a paired t-test on per-request squared errors.
 * Read from the prediction log and its joined labels, so late labels always count. A challenger
 * significantly better than the champion is not rolled out here: it goes out through the
 * deployment's canary (rollouts.ts starts it; kinds/canary.ts steps it).
 */
import { isPlainObject } from "../../domain/json-value.js";
import { binaryLabel, type PerformanceLog } from "../../monitoring/log-performance.js";
import {
  addLossPair,
  addPairedOutcome,
  EMPTY_MOMENTS,
  mcnemarTest,
  NO_PAIRED_OUTCOMES,
  pairedTTest,
  type McNemarOutcome,
  type PairedOutcomes,
  type PairedTOutcome,
} from "../../math/experiments/index.js";
import type { Moments } from "../../math/experiments/moments.js";
import type { VersionPin } from "../rollout-state.js";
import type { ChallengerStrategy } from "../strategy.js";

/** Champion/challenger settings when a deployment declares none (`rollout challengers` asks anyway). */
export const DEFAULT_CHALLENGERS: ChallengerStrategy = {
  evaluateEveryMs: 600_000,
  windowMs: 86_400_000,
  alpha: 0.01,
  score: "probability",
  threshold: 0.5,
  regression: false,
};

/** The declared settings over the defaults, a request's overrides over both. */
export function challengerSettings(
  declared: ChallengerStrategy | undefined,
  overrides: Partial<ChallengerStrategy> = {},
): ChallengerStrategy {
  return { ...DEFAULT_CHALLENGERS, ...declared, ...overrides };
}

/** Whether the challengers are judged again: never yet, or `evaluateEvery` ago. */
export function challengersDue(
  lastCheckedAt: number | undefined,
  settings: ChallengerStrategy,
  now: number,
): boolean {
  return lastCheckedAt === undefined || now - lastCheckedAt >= settings.evaluateEveryMs;
}

/** The challenger to roll out: the first significantly better one that is not the champion's version. */
export function challengerToPromote(
  reports: readonly ChallengerReport[],
  champion: VersionPin,
): ChallengerReport | undefined {
  const better = reports.find((r) => r.significantlyBetter);
  if (better === undefined) return undefined;
  return better.model === champion.model && better.version === champion.version ? undefined : better;
}

export interface ChallengerQuery {
  readonly deployment: string;
  readonly since: number;
  readonly until: number;
  /** The champion's variant name. */
  readonly champion: string;
  /** The output holding P(positive) (classifiers) or the prediction (regression). */
  readonly score: string;
  readonly threshold: number;
  readonly regression: boolean;
  /** The label value meaning positive; absent, labels are 0/1 or booleans. */
  readonly positive?: unknown;
  readonly alpha: number;
}

export interface ChallengerReport {
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  /** Labelled requests both answered. */
  readonly pairs: number;
  readonly test: "mcnemar" | "paired-t";
  readonly outcome: McNemarOutcome | PairedTOutcome | null;
  /** The challenger is better at `alpha`: a candidate for a canary. */
  readonly significantlyBetter: boolean;
  readonly summary: string;
}

/** At most this many requests are held while pairing (the oldest in the period are read first). */
export const MAX_PAIRED_REQUESTS = 200_000;

interface Seen {
  champion?: unknown;
  others: Map<string, { outputs: unknown; model: string; version: number }>;
}

export async function evaluateChallengers(
  log: PerformanceLog,
  q: ChallengerQuery,
): Promise<ChallengerReport[]> {
  const requests = new Map<string, Seen>();
  scan: for await (const page of log.scan(q.deployment, q.since, q.until)) {
    for (const p of page) {
      let seen = requests.get(p.requestId);
      if (seen === undefined) {
        if (requests.size >= MAX_PAIRED_REQUESTS) break scan;
        seen = { others: new Map() };
        requests.set(p.requestId, seen);
      }
      if (p.variant === q.champion) seen.champion = p.outputs;
      else if (!p.variant.startsWith("@"))
        seen.others.set(p.variant, { outputs: p.outputs, model: p.model, version: p.modelVersion });
    }
  }
  const paired = [...requests].filter(([, s]) => s.champion !== undefined && s.others.size > 0);
  const tables = new Map<
    string,
    { model: string; version: number; table: PairedOutcomes; losses: Moments; pairs: number }
  >();
  for (let i = 0; i < paired.length; i += 500) {
    const chunk = paired.slice(i, i + 500);
    const feedback = await log.feedbackFor(chunk.map(([id]) => id));
    for (const [id, seen] of chunk) {
      for (const f of feedback.get(id) ?? []) {
        if (f.kind !== "label") continue;
        const truth = q.regression ? numeric(f.label ?? f.value) : binaryLabel(f.label, q.positive);
        if (truth === null) continue;
        const championValue = valueAt(seen.champion, q.score, f.row);
        if (championValue === null) continue;
        for (const [variant, other] of seen.others) {
          const value = valueAt(other.outputs, q.score, f.row);
          if (value === null) continue;
          const t = tables.get(variant) ?? {
            model: other.model,
            version: other.version,
            table: NO_PAIRED_OUTCOMES,
            losses: EMPTY_MOMENTS,
            pairs: 0,
          };
          t.pairs++;
          if (q.regression) {
            t.losses = addLossPair(t.losses, (championValue - truth) ** 2, (value - truth) ** 2);
          } else {
            const right = (score: number) => (score >= q.threshold ? 1 : 0) === truth;
            t.table = addPairedOutcome(t.table, right(championValue), right(value));
          }
          tables.set(variant, t);
        }
      }
    }
  }
  return [...tables].sort(([a], [b]) => a.localeCompare(b)).map(([variant, t]) => report(variant, t, q));
}

function report(
  variant: string,
  t: { model: string; version: number; table: PairedOutcomes; losses: Moments; pairs: number },
  q: ChallengerQuery,
): ChallengerReport {
  const base = { variant, model: t.model, version: t.version, pairs: t.pairs };
  if (q.regression) {
    const outcome = t.pairs < 2 ? null : pairedTTest(t.losses);
    const better = outcome !== null && outcome.better === "challenger" && outcome.pValue <= q.alpha;
    return {
      ...base,
      test: "paired-t",
      outcome,
      significantlyBetter: better,
      summary:
        outcome === null
          ? `${t.pairs} labelled pairs: too few to compare`
          : `squared error challenger − champion ${outcome.meanDifference.toPrecision(3)} over ${t.pairs} pairs, p = ${outcome.pValue.toPrecision(3)}${better ? ": challenger better" : ""}`,
    };
  }
  const outcome = t.pairs === 0 ? null : mcnemarTest(t.table);
  const better = outcome !== null && outcome.better === "challenger" && outcome.pValue <= q.alpha;
  return {
    ...base,
    test: "mcnemar",
    outcome,
    significantlyBetter: better,
    summary:
      outcome === null
        ? "no labelled pairs yet"
        : `accuracy challenger − champion ${(outcome.accuracyDifference * 100).toFixed(2)} points over ${t.pairs} pairs (McNemar ${outcome.method}, p = ${outcome.pValue.toPrecision(3)})${better ? ": challenger better" : ""}`,
  };
}

/** The number at `row` of the logged output `name`, or null. */
export function valueAt(outputs: unknown, name: string, row: number): number | null {
  if (!Array.isArray(outputs)) return null;
  const output = outputs.find((o) => isPlainObject(o) && o.name === name) as { data?: unknown } | undefined;
  const value = Array.isArray(output?.data) ? output.data[row] : undefined;
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function numeric(label: unknown): number | null {
  return typeof label === "number" && Number.isFinite(label) ? label : null;
}
