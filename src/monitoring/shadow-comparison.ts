/**
 * How a shadow's answers compare with the live ones on the same requests: the share of rows
 * where they agree, the distribution of score differences (shadow minus live), the shadow's
 * latency and its errors. Kept in quantile sketches, so memory does not grow with traffic.
 *
 * Agreement per row, on the first output: for a row of several scores (class probabilities)
 * both pick the same class; for one score, both fall on the same side of `threshold` (0.5,
 * a probability); for labels (strings, integers), they are equal.
 */
import { QuantileSketch } from "../math/sketches/quantile-sketch.js";

export interface ShadowSnapshot {
  /** Requests mirrored and answered by the shadow. */
  readonly compared: number;
  readonly rows: number;
  /** Share of rows where shadow and live agree; null before any row. */
  readonly agreement: number | null;
  /** Quantiles of shadow score minus live score over rows with numeric scores. */
  readonly scoreDifference: {
    readonly count: number;
    readonly mean: number | null;
    readonly p01: number | null;
    readonly p50: number | null;
    readonly p99: number | null;
    readonly maxAbs: number | null;
  };
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null };
  readonly errors: number;
  /** Mirrors not sent because too many were already in flight (counted, never queued without bound). */
  readonly skipped: number;
}

/** One request's outputs as rows: each row the values of the first output tensor for that row. */
export type OutputRows = ReadonlyArray<ReadonlyArray<number | string | boolean>>;

export class ShadowComparison {
  private compared = 0;
  private rows = 0;
  private agreed = 0;
  private diffSum = 0;
  private maxAbs = 0;
  private errors = 0;
  private skipped = 0;
  private readonly differences = new QuantileSketch();
  private readonly latency = new QuantileSketch();

  constructor(private readonly threshold = 0.5) {}

  /** `scores`: the output holds floating-point scores (FP16/32/64), not labels. */
  record(live: OutputRows, shadow: OutputRows, latencyMs: number, scores: boolean): void {
    this.compared++;
    this.latency.update(latencyMs);
    const n = Math.min(live.length, shadow.length);
    for (let i = 0; i < n; i++) {
      const a = live[i] as ReadonlyArray<number | string | boolean>;
      const b = shadow[i] as ReadonlyArray<number | string | boolean>;
      this.rows++;
      if (this.agree(a, b, scores)) this.agreed++;
      const diff = scoreOf(b) - scoreOf(a);
      if (Number.isFinite(diff)) {
        this.differences.update(diff);
        this.diffSum += diff;
        this.maxAbs = Math.max(this.maxAbs, Math.abs(diff));
      }
    }
    // Rows one side has and the other lacks count as disagreement.
    this.rows += Math.abs(live.length - shadow.length);
  }

  recordError(): void {
    this.errors++;
  }

  recordSkipped(): void {
    this.skipped++;
  }

  snapshot(): ShadowSnapshot {
    const n = this.differences.count;
    const q = (sketch: QuantileSketch, p: number): number | null =>
      sketch.count === 0 ? null : sketch.quantile(p);
    return {
      compared: this.compared,
      rows: this.rows,
      agreement: this.rows === 0 ? null : this.agreed / this.rows,
      scoreDifference: {
        count: n,
        mean: n === 0 ? null : this.diffSum / n,
        p01: q(this.differences, 0.01),
        p50: q(this.differences, 0.5),
        p99: q(this.differences, 0.99),
        maxAbs: n === 0 ? null : this.maxAbs,
      },
      latencyMs: { p50: q(this.latency, 0.5), p99: q(this.latency, 0.99) },
      errors: this.errors,
      skipped: this.skipped,
    };
  }

  private agree(
    a: ReadonlyArray<number | string | boolean>,
    b: ReadonlyArray<number | string | boolean>,
    scores: boolean,
  ): boolean {
    if (a.length !== b.length) return false;
    if (!scores) return a.every((v, i) => v === b[i]);
    if (a.length === 1) {
      const [x, y] = [a[0] as number, b[0] as number];
      return x >= this.threshold === y >= this.threshold;
    }
    return argmax(a) === argmax(b);
  }
}

/** The row's score: its only value, or for several the last (the positive class's probability). */
function scoreOf(row: ReadonlyArray<number | string | boolean>): number {
  const v = row[row.length - 1];
  return typeof v === "number" ? v : Number.NaN;
}

function argmax(row: ReadonlyArray<number | string | boolean>): number {
  let best = -1;
  let bestValue = -Infinity;
  row.forEach((v, i) => {
    if (typeof v === "number" && v > bestValue) {
      bestValue = v;
      best = i;
    }
  });
  return best;
}
