import type { TensorSpec } from "./tensor.js";

export const FLAVORS = ["onnx", "builtin", "http"] as const;
export type Flavor = (typeof FLAVORS)[number];

/**
 * What a version takes and gives. `features` names the columns of the first input so that
 * named-feature requests ({"amount": 12.5, …}) map onto the tensor (column i = features[i]).
 */
export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly features?: readonly string[];
}

/** Where a version came from: enough to reproduce it or to find what it replaced. */
export interface Lineage {
  readonly dataFingerprint?: string;
  readonly parameters?: Record<string, unknown>;
  readonly parentVersion?: number;
  readonly runId?: string;
}

export interface RegisteredModel {
  readonly name: string;
  readonly description: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly latestVersion: number;
  readonly aliases: Record<string, number>;
  readonly tags: Record<string, string>;
}

export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly flavor: Flavor;
  /** sha256 of the artifact bytes (hex); the artifact lives at <data-dir>/artifacts/sha256/<aa>/<hash>. */
  readonly artifactSha256: string;
  readonly artifactSize: number;
  readonly signature: Signature | null;
  readonly tags: Record<string, string>;
  readonly description: string;
  readonly metrics: Record<string, number>;
  readonly lineage: Lineage;
  /** Where the artifact came from when registered (a path or URL); informational only. */
  readonly source: string;
  readonly createdAt: number;
  /**
   * The reference profile the version's traffic is compared against, stored as an artifact
   * (`sha256`), or null when none is attached. The registry always sets it; it is optional only
   * so that versions built by hand elsewhere need not.
   */
  readonly referenceProfile?: ReferenceSummary | null;
}

/** Enough about a version's reference profile to show it; the profile itself is fetched by hash. */
export interface ReferenceSummary {
  readonly sha256: string;
  readonly rows: number;
  readonly features: number;
}

/** A version picked either directly or through an alias that may move later. */
export type VersionRef = { readonly version: number } | { readonly alias: string };

/**
 * One weighted variant of a deployment. Today a deployment has one variant (`stable`) with
 * weight 100; canaries, shadows and A/B tests add more without changing this shape.
 */
export interface Variant {
  readonly name: string;
  readonly model: string;
  readonly ref: VersionRef;
  /** Share of live traffic in percent; variants of a deployment sum to 100. */
  readonly weight: number;
  /** A shadow gets a mirrored copy of requests; its answers are never returned. */
  readonly shadow?: boolean;
}

export interface Deployment {
  readonly name: string;
  readonly variants: readonly Variant[];
  /** Per-call deadline for the model, in milliseconds. */
  readonly timeoutMs: number;
  /** How the deployment degrades when a model fails or traffic exceeds what it can take. */
  readonly resilience?: Resilience;
  /** Sticky assignment and header rules for choosing a live variant. */
  readonly routing?: RoutingSpec;
  /** How a new version is rolled out (canary steps, A/B test), as declared; see rollout/strategy.ts. */
  readonly strategy?: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RoutingRule {
  /** Requests whose header has this value (or any value, when absent) go to `variant`. */
  readonly header: string;
  readonly value?: string;
  readonly variant: string;
}

export interface RoutingSpec {
  /** Where the sticky key comes from: a request header, or a field of the request body. */
  readonly sticky?: { readonly header: string } | { readonly field: string };
  readonly rules?: readonly RoutingRule[];
}

/** What makes a model call count as failed, for fallbacks. */
export const MODEL_FAILURES = ["error", "timeout", "nan"] as const;
export type ModelFailure = (typeof MODEL_FAILURES)[number];

/** One value per row of a static default answer: a scalar, or a fixed-width list of them. */
export type StaticValue = number | boolean | string | ReadonlyArray<number | boolean | string>;

/**
 * Who answers when the chosen variant cannot: another variant of the deployment, a version of
 * some model (the previous stable one, say), or a fixed answer per output name.
 */
export type Fallback =
  | { readonly variant: string }
  | { readonly model: string; readonly ref: VersionRef }
  | { readonly response: { readonly outputs: Readonly<Record<string, StaticValue>> } };

export interface CircuitBreakerSpec {
  readonly failures: number;
  readonly openMs: number;
  readonly halfOpenProbes: number;
}

export interface Resilience {
  readonly fallback?: Fallback;
  /** Failures the fallback answers for (all of them unless narrowed). */
  readonly fallbackOn?: readonly ModelFailure[];
  readonly circuitBreaker?: CircuitBreakerSpec;
  /** Requests in flight at most; beyond it requests are shed with 503 and Retry-After. */
  readonly maxConcurrency?: number;
}

export function refLabel(ref: VersionRef): string {
  return "version" in ref ? String(ref.version) : `@${ref.alias}`;
}
