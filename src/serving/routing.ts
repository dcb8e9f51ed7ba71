/**
 * Which live variant answers a request: header rules first (a cohort sent to a variant), then
 * the weighted split, by a hash of a sticky key when there is one (so a user keeps seeing the
 * same variant), else at random. Pure: the caller hands in the request's attributes and a
 * random draw.
 */
import { unitHash } from "../math/unit-hash.js";
import type { RoutingSpec } from "../domain/model.js";

export type { RoutingRule, RoutingSpec } from "../domain/model.js";
export { checkRouting } from "../registry/routing-spec.js";

export interface WeightedVariant {
  readonly name: string;
  readonly weight: number;
  /** The stable variant comes last in the split, so a growing canary keeps its users. */
  readonly stable: boolean;
}

export interface RequestAttributes {
  /** Lower-case header names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The sticky key when it comes from the body (read by the caller, which parsed it). */
  readonly stickyField?: string;
}

/** How the variant was chosen, for the response and the metrics. */
export type RouteReason = "rule" | "sticky" | "weight";

/**
 * The variant for this request. `draw` is a uniform number in [0, 1) used when no sticky key
 * is present. Variants with weight 0 are never chosen by the split (a rule can still name them).
 */
export function route(
  variants: readonly WeightedVariant[],
  spec: RoutingSpec | undefined,
  request: RequestAttributes,
  draw: number,
): { variant: string; reason: RouteReason } {
  for (const rule of spec?.rules ?? []) {
    const given = headerValue(request.headers, rule.header);
    if (given !== undefined && (rule.value === undefined || given === rule.value)) {
      return { variant: rule.variant, reason: "rule" };
    }
  }
  const key = stickyKey(spec, request);
  const point = key === undefined ? draw : unitHash(key);
  return { variant: split(variants, point), reason: key === undefined ? "weight" : "sticky" };
}

/** The variant owning `point` in [0, 1): non-stable variants first, in their order, then stable. */
export function split(variants: readonly WeightedVariant[], point: number): string {
  const ordered = [...variants.filter((v) => !v.stable), ...variants.filter((v) => v.stable)];
  const total = ordered.reduce((sum, v) => sum + v.weight, 0);
  let left = point * total;
  for (const v of ordered) {
    if (v.weight <= 0) continue;
    left -= v.weight;
    if (left < 0) return v.name;
  }
  const last = [...ordered].reverse().find((v) => v.weight > 0) ?? ordered[ordered.length - 1];
  return last?.name ?? "";
}

function stickyKey(spec: RoutingSpec | undefined, request: RequestAttributes): string | undefined {
  const sticky = spec?.sticky;
  if (sticky === undefined) return undefined;
  if ("header" in sticky) return headerValue(request.headers, sticky.header);
  return request.stickyField;
}

function headerValue(headers: RequestAttributes["headers"], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

export { unitHash };
