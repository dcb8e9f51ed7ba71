/**
 * Requests, errors and latency per variant of the deployments being rolled out, counted on the
 * request path (a map lookup and a sketch update) for the analysis to read. Counts live in
 * memory: after a restart they start again, while the sequential tests' state, which is
 * persisted with the rollout, carries the evidence gathered so far.
 */
import { QuantileSketch } from "../monitoring/sketches/quantile-sketch.js";
import type { InferenceObserver, InferenceOutcome } from "../serving/inference.js";

interface VariantCounts {
  requests: number;
  errors: number;
  readonly latencyMs: QuantileSketch;
}

/** Outcomes that are the caller's fault do not count against a model. */
const CLIENT_ERRORS = new Set(["invalid_argument", "not_found", "payload_too_large", "unauthenticated"]);

export class TrafficMeter implements InferenceObserver {
  private readonly watched = new Map<string, Map<string, VariantCounts>>();

  /** Starts counting for a deployment (again from zero). */
  watch(deployment: string): void {
    this.watched.set(deployment, new Map());
  }

  unwatch(deployment: string): void {
    this.watched.delete(deployment);
  }

  observe(outcome: InferenceOutcome): void {
    const variants = this.watched.get(outcome.deployment);
    if (variants === undefined || CLIENT_ERRORS.has(outcome.code)) return;
    let counts = variants.get(outcome.variant);
    if (counts === undefined) {
      counts = { requests: 0, errors: 0, latencyMs: new QuantileSketch() };
      variants.set(outcome.variant, counts);
    }
    counts.requests++;
    // A fallback's answer hides the variant's failure from the client, not from the analysis.
    if (outcome.code !== "ok" || outcome.fallback !== undefined) counts.errors++;
    counts.latencyMs.update(outcome.seconds * 1000);
  }

  read(
    deployment: string,
    variant: string,
  ): { requests: number; errors: number; p50: number | null; p99: number | null } {
    const counts = this.watched.get(deployment)?.get(variant);
    if (counts === undefined || counts.requests === 0)
      return { requests: 0, errors: 0, p50: null, p99: null };
    return {
      requests: counts.requests,
      errors: counts.errors,
      p50: counts.latencyMs.quantile(0.5),
      p99: counts.latencyMs.quantile(0.99),
    };
  }
}
