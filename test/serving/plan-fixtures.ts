/** Served deployments built by hand, for the plan and executor tests (no pool, no store). */
import type { Deployment, ModelVersion, Resilience, Signature, Variant } from "../../src/domain/model.js";
import type { ServedDeployment, ServedFallback, ServedVariant } from "../../src/serving/endpoints.js";

export const SIGNATURE: Signature = {
  inputs: [{ name: "x", datatype: "FP32", shape: [-1] }],
  outputs: [{ name: "y", datatype: "FP64", shape: [-1] }],
};

export function servedVariant(variant: Omit<Variant, "ref"> & { version: number }): ServedVariant {
  const { version, ...rest } = variant;
  const modelVersion: ModelVersion = {
    model: rest.model,
    version,
    flavor: "builtin",
    artifactSha256: `${rest.model}-${version}`,
    artifactSize: 1,
    signature: SIGNATURE,
    tags: {},
    description: "",
    metrics: {},
    lineage: {},
    source: "",
    createdAt: 0,
  };
  return { variant: { ...rest, ref: { version } }, version: modelVersion, signature: SIGNATURE };
}

export function served(
  variants: readonly ServedVariant[],
  extra: { routing?: Deployment["routing"]; resilience?: Resilience; fallback?: ServedFallback } = {},
): ServedDeployment {
  const deployment: Deployment = {
    name: "d",
    timeoutMs: 1000,
    createdAt: 0,
    updatedAt: 0,
    variants: variants.map((v) => v.variant),
    ...(extra.routing === undefined ? {} : { routing: extra.routing }),
    ...(extra.resilience === undefined ? {} : { resilience: extra.resilience }),
  };
  return {
    deployment,
    variants,
    ...(extra.fallback === undefined ? {} : { fallback: extra.fallback }),
    ...(variants.some((v) => v.variant.shadow === true) ? { hasShadows: true as const } : {}),
  };
}

/** A seeded uniform source (mulberry32), so a test's draws are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
