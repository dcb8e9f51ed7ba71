/**
 * What a deployment serves once resolved: each variant with its loaded version and signature,
 * and who answers when it fails. Endpoints builds these; the plan and the executor read them.
 */
import type { Deployment, ModelVersion, Signature, StaticValue, Variant } from "../domain/model.js";

export interface ServedVariant {
  readonly variant: Variant;
  readonly version: ModelVersion;
  /** The registered signature (it carries feature names), else what the runtime read. */
  readonly signature: Signature;
}

/**
 * Who answers when a variant fails: a loaded version (another variant, or a version named only
 * as the fallback, served under the label FALLBACK_VERSION), or a fixed answer.
 */
export type ServedFallback =
  | { readonly kind: "model"; readonly target: ServedVariant }
  | { readonly kind: "static"; readonly outputs: Readonly<Record<string, StaticValue>> };

/**
 * Labels (in responses' `served_by` and the log's variant column) for answers that no variant
 * gave. They cannot clash with variant names, which never contain '@'.
 */
export const FALLBACK_VERSION = "@fallback";
export const STATIC_FALLBACK = "@static";

export interface ServedDeployment {
  readonly deployment: Deployment;
  readonly variants: readonly ServedVariant[];
  readonly fallback?: ServedFallback;
  /** Some variant mirrors traffic (checked once here rather than on every request). */
  readonly hasShadows?: true;
}
