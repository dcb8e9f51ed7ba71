/**
 * Shadow comparisons: each shadow variant's answers compared with the live ones it was
 * mirrored from. Fed by the request path as an inference tap (registered by the composition
 * root); the tap's inputs are read structurally, so monitoring imports nothing of serving.
 */
import type { JsonTensor } from "../domain/tensor-json.js";
import { ShadowComparison, type OutputRows, type ShadowSnapshot } from "./shadow-comparison.js";

const SCORE_TYPES = new Set(["FP16", "FP32", "FP64"]);

export interface ShadowReport {
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly comparison: ShadowSnapshot;
}

/** Which shadow an event is about. */
interface ShadowRef {
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
}

/** What the book reads of a shadow's answer (the request path's ShadowAnswered). */
interface ShadowAnswer {
  readonly deployment: { readonly deployment: { readonly name: string } };
  readonly variant: {
    readonly variant: { readonly name: string };
    readonly version: { readonly model: string; readonly version: number };
  };
  readonly answer: { readonly outputs: readonly JsonTensor[]; readonly latencyMs: number };
  readonly live: { readonly outputs: readonly JsonTensor[] };
}

export class ShadowBook {
  private readonly comparisons = new Map<
    string,
    { report: Omit<ShadowReport, "comparison">; comparison: ShadowComparison }
  >();

  /** Tap: a shadow answered its copy of a request. */
  readonly shadowAnswered = (shadow: ShadowAnswer): void => {
    const comparison = this.of(
      shadow.deployment.deployment.name,
      shadow.variant.variant.name,
      shadow.variant.version.model,
      shadow.variant.version.version,
    );
    const rows = comparableRows(shadow.live.outputs, shadow.answer.outputs);
    if (rows !== null) comparison.record(rows.live, rows.shadow, shadow.answer.latencyMs, rows.scores);
  };

  /** Tap: a shadow failed its copy. */
  readonly shadowFailed = (s: ShadowRef): void =>
    this.of(s.deployment, s.variant, s.model, s.version).recordError();

  /** Tap: a mirror was skipped (too many in flight). */
  readonly shadowSkipped = (s: ShadowRef): void =>
    this.of(s.deployment, s.variant, s.model, s.version).recordSkipped();

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
