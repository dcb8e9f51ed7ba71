/**
 * Which live variant answers a request: header rules first (a cohort sent to a variant), then
 * the weighted split, by a hash of a sticky key when there is one (so a user keeps seeing the
 * same variant), else at random. Pure: the caller hands in the request's attributes and a
 * random draw.
 */
import { invalidField, shown } from "../registry/field.js";
import { isPlainObject } from "../domain/json-value.js";
import type { RoutingRule, RoutingSpec } from "../domain/model.js";

export type { RoutingRule, RoutingSpec } from "../domain/model.js";

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

/**
 * A key's place in [0, 1): 32-bit FNV-1a, then a murmur3 finaliser so that keys differing in
 * one character (user-1, user-2) land far apart.
 */
export function unitHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

const HEADER = /^[a-z0-9-]{1,64}$/i;
const FIELD = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Checks a deployment's `routing`; `variants` are the names it may refer to. */
export function checkRouting(raw: unknown, variants: readonly string[]): RoutingSpec | undefined {
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw)) throw invalidField("routing", `expected {sticky?, rules?}, got ${shown(raw)}`);
  const unknown = Object.keys(raw).find((k) => k !== "sticky" && k !== "rules");
  if (unknown !== undefined)
    throw invalidField(`routing.${unknown}`, "unknown field; routing has sticky, rules");
  let sticky: RoutingSpec["sticky"];
  if (raw.sticky !== undefined) {
    const s = raw.sticky;
    if (
      !isPlainObject(s) ||
      (s.header === undefined) === (s.field === undefined) ||
      Object.keys(s).length !== 1
    ) {
      throw invalidField("routing.sticky", `expected {header: name} or {field: name}, got ${shown(s)}`);
    }
    if (s.header !== undefined) {
      if (typeof s.header !== "string" || !HEADER.test(s.header))
        throw invalidField("routing.sticky.header", `expected a header name, got ${shown(s.header)}`);
      sticky = { header: s.header.toLowerCase() };
    } else {
      if (typeof s.field !== "string" || !FIELD.test(s.field))
        throw invalidField("routing.sticky.field", `expected a field name, got ${shown(s.field)}`);
      sticky = { field: s.field };
    }
  }
  let rules: RoutingRule[] | undefined;
  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules))
      throw invalidField("routing.rules", `expected a list, got ${shown(raw.rules)}`);
    rules = raw.rules.map((r: unknown, i): RoutingRule => {
      const at = `routing.rules[${i}]`;
      if (!isPlainObject(r)) throw invalidField(at, `expected {header, value?, variant}, got ${shown(r)}`);
      const extra = Object.keys(r).find((k) => !["header", "value", "variant"].includes(k));
      if (extra !== undefined)
        throw invalidField(`${at}.${extra}`, "unknown field; a rule has header, value, variant");
      if (typeof r.header !== "string" || !HEADER.test(r.header))
        throw invalidField(`${at}.header`, `expected a header name, got ${shown(r.header)}`);
      if (r.value !== undefined && typeof r.value !== "string")
        throw invalidField(`${at}.value`, `expected a string, got ${shown(r.value)}`);
      if (typeof r.variant !== "string" || !variants.includes(r.variant))
        throw invalidField(
          `${at}.variant`,
          `expected one of the variants (${variants.join(", ")}), got ${shown(r.variant)}`,
        );
      return {
        header: r.header.toLowerCase(),
        ...(r.value === undefined ? {} : { value: r.value as string }),
        variant: r.variant,
      };
    });
  }
  return { ...(sticky === undefined ? {} : { sticky }), ...(rules === undefined ? {} : { rules }) };
}
