/**
 * A deployment's `routing` as declared: sticky key and header rules, checked against the
 * variants it may name. Serving's routing.ts applies what this accepts.
 */
import { invalidField, shown } from "./field.js";
import { isPlainObject } from "../domain/json-value.js";
import type { RoutingRule, RoutingSpec } from "../domain/model.js";

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
