/**
 * The shape rules of a deployment, checked without the database: names, weights, references.
 * Whether the referenced versions exist is checked by the deployment store, in a transaction.
 */
import type { Variant, VersionRef } from "../domain/model.js";
import { isPlainObject } from "../domain/json-value.js";
import { invalidField, shown } from "./field.js";
import { checkResilience } from "./resilience-spec.js";
import { checkRouting } from "./routing-spec.js";
import {
  checkAliasName,
  checkModelName,
  checkVariantName,
  checkVersionNumber,
  isLatest,
  LATEST,
} from "./names.js";
import type { DeploymentSpec } from "./rows.js";

export const DEFAULT_TIMEOUT_MS = 10_000;
/** A model call longer than this is a misconfiguration, not a slow model. */
export const MAX_TIMEOUT_MS = 600_000;

export interface DeploymentInput {
  readonly name: string;
  readonly variants: readonly Variant[];
  readonly timeoutMs?: number;
  /** Checked here; see resilience-spec.ts for its shape. */
  readonly resilience?: unknown;
  /** Checked here; see serving/routing.ts. */
  readonly routing?: unknown;
  /** Kept as declared; checked by the `strategy` check the layer above gives (rollout/strategy.ts). */
  readonly strategy?: unknown;
}

/**
 * Checks of a deployment's parts the registry stores but does not interpret, given by the
 * composition root (the registry knows nothing of rollouts). Each throws, naming the field.
 */
export interface DeploymentChecks {
  readonly strategy?: (declared: unknown) => unknown;
}

const VARIANT_FIELDS = ["name", "model", "version", "alias", "weight", "shadow"];

/**
 * Variants as people write them (YAML manifests and the HTTP API alike): `version: 3` or
 * `alias: champion` rather than a nested ref, and no name or weight for a single variant (it is
 * the stable one and takes everything). Returns what checkDeployment takes; it checks the rest.
 */
export function variantsFromDocs(raw: unknown): Array<Record<string, unknown>> {
  if (!Array.isArray(raw) || raw.length === 0)
    throw invalidField("variants", `expected a non-empty list of variants, got ${shown(raw)}`);
  return raw.map((v: unknown, i) => {
    const field = `variants[${i}]`;
    if (!isPlainObject(v))
      throw invalidField(field, `expected {name, model, version|alias, weight}, got ${shown(v)}`);
    const unknown = Object.keys(v).find((k) => !VARIANT_FIELDS.includes(k));
    if (unknown !== undefined)
      throw invalidField(`${field}.${unknown}`, `unknown field; a variant has ${VARIANT_FIELDS.join(", ")}`);
    const { version, alias, ...rest } = v;
    if (version !== undefined && alias !== undefined)
      throw invalidField(field, "give version or alias, not both");
    return {
      ...(raw.length === 1 ? { name: "stable", weight: 100 } : {}),
      ...rest,
      ref: version !== undefined ? { version } : { alias: alias ?? "latest" },
    };
  });
}

/** Floating-point weights such as 33.3 + 33.3 + 33.4 must still count as 100. */
const WEIGHT_TOLERANCE = 1e-9;

export function checkDeployment(
  input: unknown,
  checks: DeploymentChecks = {},
): { name: string } & DeploymentSpec {
  if (!isPlainObject(input)) throw invalidField("deployment", `expected an object, got ${shown(input)}`);
  const name = checkModelName(input.name, "name");
  const timeoutMs = checkTimeout(input.timeoutMs);
  if (!Array.isArray(input.variants) || input.variants.length === 0) {
    throw invalidField("variants", `expected a non-empty list of variants, got ${shown(input.variants)}`);
  }
  const variants = input.variants.map((v: unknown, i) => checkVariant(v, `variants[${i}]`));

  const seen = new Map<string, number>();
  variants.forEach((variant, i) => {
    const first = seen.get(variant.name);
    if (first !== undefined) {
      throw invalidField(
        `variants[${i}].name`,
        `"${variant.name}" is already the name of variants[${first}]`,
      );
    }
    seen.set(variant.name, i);
  });

  const live = variants.filter((v) => v.shadow !== true);
  if (live.length === 0) {
    throw invalidField("variants", "at least one variant must take live traffic (shadow: false)");
  }
  const total = live.reduce((sum, v) => sum + v.weight, 0);
  if (Math.abs(total - 100) > WEIGHT_TOLERANCE) {
    throw invalidField(
      "variants",
      `weights of the live variants must sum to 100, got ${live.map((v) => `${v.name}=${v.weight}`).join(" + ")} = ${total}`,
      { weights: Object.fromEntries(live.map((v) => [v.name, v.weight])) },
    );
  }
  const resilience = checkResilience(input.resilience, variants, checkRef);
  const routing = checkRouting(
    input.routing,
    variants.map((v) => v.name),
  );
  const strategy = checkStrategyDoc(input.strategy, checks);
  return {
    name,
    variants,
    timeoutMs,
    ...(resilience === undefined ? {} : { resilience }),
    ...(routing === undefined ? {} : { routing }),
    ...(strategy === undefined ? {} : { strategy }),
  };
}

/** The declared strategy, kept as written once the injected check has passed it. */
function checkStrategyDoc(value: unknown, checks: DeploymentChecks): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  checks.strategy?.(value);
  if (!isPlainObject(value)) throw invalidField("strategy", `expected an object, got ${shown(value)}`);
  return value;
}

function checkTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS) {
    throw invalidField(
      "timeoutMs",
      `${shown(value)} is not a timeout: use whole milliseconds from 1 to ${MAX_TIMEOUT_MS}`,
    );
  }
  return value;
}

function checkVariant(value: unknown, field: string): Variant {
  if (!isPlainObject(value))
    throw invalidField(field, `expected {name, model, ref, weight}, got ${shown(value)}`);
  const name = checkVariantName(value.name, `${field}.name`);
  const model = checkModelName(value.model, `${field}.model`);
  const ref = checkRef(value.ref, `${field}.ref`);
  if (value.shadow !== undefined && typeof value.shadow !== "boolean") {
    throw invalidField(`${field}.shadow`, `expected true or false, got ${shown(value.shadow)}`);
  }
  const shadow = value.shadow === true;
  const weight = value.weight;
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0 || weight > 100) {
    throw invalidField(
      `${field}.weight`,
      `${shown(weight)} is not a weight: use a number from 0 to 100 ` +
        (shadow
          ? "(the percentage of requests mirrored to this shadow)"
          : "(the percentage of live traffic)"),
    );
  }
  return shadow ? { name, model, ref, weight, shadow } : { name, model, ref, weight };
}

function checkRef(value: unknown, field: string): VersionRef {
  if (!isPlainObject(value))
    throw invalidField(field, `expected {version: N} or {alias: "name"}, got ${shown(value)}`);
  const hasVersion = value.version !== undefined;
  const hasAlias = value.alias !== undefined;
  if (hasVersion === hasAlias) {
    throw invalidField(field, `give exactly one of version or alias, got ${shown(value)}`);
  }
  if (hasVersion) return { version: checkVersionNumber(value.version, `${field}.version`) };
  // `latest` is allowed here (it follows the newest version), though it cannot be set as an alias.
  if (typeof value.alias === "string" && isLatest(value.alias)) return { alias: LATEST };
  return { alias: checkAliasName(value.alias, `${field}.alias`) };
}
