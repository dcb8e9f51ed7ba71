/**
 * Shadow traffic: a copy of a share of requests (the shadow variant's weight, in percent) goes
 * to each shadow variant after the live answer is on its way. The shadow's answer is never
 * returned; it is compared with the live one, and logged under the shadow's variant name with
 * the same request id, so labels that arrive later score both. Mirrors in flight are bounded;
 * beyond the bound a mirror is skipped and counted.
 */
import type { JsonTensor } from "../domain/tensor-json.js";
import { ShadowComparison, type OutputRows, type ShadowSnapshot } from "./shadow-comparison.js";

/** At most this many mirrored calls run at once (all deployments together). */
export const MAX_SHADOWS_IN_FLIGHT = 64;

const SCORE_TYPES = new Set(["FP16", "FP32", "FP64"]);

export interface ShadowReport {
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly comparison: ShadowSnapshot;
}

export class ShadowBook {
  private readonly comparisons = new Map<
    string,
    { report: Omit<ShadowReport, "comparison">; comparison: ShadowComparison }
  >();
  private inFlight = 0;
  private readonly idleWaiters: Array<() => void> = [];

  /** Whether another mirror may start now; when not, the skip is counted for the shadow. */
  admit(deployment: string, variant: string, model: string, version: number): boolean {
    if (this.inFlight < MAX_SHADOWS_IN_FLIGHT) {
      this.inFlight++;
      return true;
    }
    this.of(deployment, variant, model, version).recordSkipped();
    return false;
  }

  settled(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  of(deployment: string, variant: string, model: string, version: number): ShadowComparison {
    // A shadow moved to another version starts a new comparison.
    const key = `${deployment}\u0000${variant}\u0000${model}\u0000${version}`;
    let entry = this.comparisons.get(key);
    if (entry === undefined) {
      for (const [k, e] of this.comparisons) {
        if (e.report.deployment === deployment && e.report.variant === variant) this.comparisons.delete(k);
      }
      entry = { report: { deployment, variant, model, version }, comparison: new ShadowComparison() };
      this.comparisons.set(key, entry);
    }
    return entry.comparison;
  }

  reports(deployment?: string): ShadowReport[] {
    return [...this.comparisons.values()]
      .filter((e) => deployment === undefined || e.report.deployment === deployment)
      .map((e) => ({ ...e.report, comparison: e.comparison.snapshot() }));
  }

  /** Resolves once no mirror is running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** The first output's rows (matched by name in the shadow's outputs), and whether they are scores. */
export function comparableRows(
  live: readonly JsonTensor[],
  shadow: readonly JsonTensor[],
): { live: OutputRows; shadow: OutputRows; scores: boolean } | null {
  const first = live[0];
  if (first === undefined) return null;
  const other = shadow.find((t) => t.name === first.name) ?? shadow[0];
  if (other === undefined) return null;
  return { live: rowsOf(first), shadow: rowsOf(other), scores: SCORE_TYPES.has(first.datatype) };
}

function rowsOf(t: JsonTensor): OutputRows {
  const rows = t.shape[0] ?? 1;
  const data = t.data as ReadonlyArray<number | string | boolean>;
  const width = rows === 0 ? 0 : Math.max(1, Math.floor(data.length / rows));
  return Array.from({ length: rows }, (_, i) => data.slice(i * width, (i + 1) * width));
}
