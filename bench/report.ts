/** Figures from load runs, the comparison against the targets, and plain-text tables. */
import type { LoadRun } from "./load.js";

/** Ballast must keep ≥ 90% of the bare server's throughput and ≤ 1.25× its p99 latency. */
export const TARGETS = { minThroughputRatio: 0.9, maxP99Ratio: 1.25 } as const;

export interface Figures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly completed: number;
  readonly seconds: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

/** Nearest-rank percentile (q in (0, 1]) of values sorted ascending. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Pools runs as if they were one: total responses over total time, percentiles over all latencies. */
export function figuresOf(runs: readonly LoadRun[]): Figures {
  const total = runs.reduce((n, r) => n + r.latenciesMs.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const r of runs) {
    all.set(r.latenciesMs, at);
    at += r.latenciesMs.length;
  }
  all.sort();
  const sum = (pick: (r: LoadRun) => number) => runs.reduce((n, r) => n + pick(r), 0);
  const seconds = sum((r) => r.seconds);
  const completed = sum((r) => r.completed);
  return {
    requestsPerSecond: seconds > 0 ? completed / seconds : 0,
    p50Ms: percentile(all, 0.5),
    p99Ms: percentile(all, 0.99),
    completed,
    seconds,
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    non2xx: sum((r) => r.non2xx),
  };
}

export interface Verdict {
  readonly throughputRatio: number;
  readonly p99Ratio: number;
  readonly throughputOk: boolean;
  readonly p99Ok: boolean;
  /** No connection errors, timeouts or non-2xx answers from either server. */
  readonly cleanOk: boolean;
  readonly pass: boolean;
}

export function verdict(ballast: Figures, bare: Figures): Verdict {
  const throughputRatio = ballast.requestsPerSecond / bare.requestsPerSecond;
  const p99Ratio = ballast.p99Ms / bare.p99Ms;
  const throughputOk = throughputRatio >= TARGETS.minThroughputRatio;
  const p99Ok = p99Ratio <= TARGETS.maxP99Ratio;
  const failures = (f: Figures) => f.errors + f.timeouts + f.non2xx;
  const cleanOk = failures(ballast) === 0 && failures(bare) === 0;
  return { throughputRatio, p99Ratio, throughputOk, p99Ok, cleanOk, pass: throughputOk && p99Ok && cleanOk };
}

export const passFail = (ok: boolean): string => (ok ? "PASS" : "FAIL");

/** Columns padded to their widest cell; the first row is the header, the first column is left-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const [header, ...body] = rows;
  if (header === undefined) return "";
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...body.map(line)].join("\n");
}

export const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : "n/a";

/** A positive integer from the environment, or the fallback; anything else stops the bench. */
export function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

/** The fraud model as a builtin logistic regression: cheap to score, so the server's own cost shows. */
export const FRAUD_BENCH_MODEL = {
  format: "ballast.builtin/v1",
  kind: "logistic_regression",
  features: ["amount", "hour", "night"],
  weights: [0.8, -0.05, 1.5],
  intercept: -3,
};
