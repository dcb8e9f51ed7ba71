/**
 * The shape rules of a deployment's `resilience`: fallback, the failures it answers for, the
 * circuit breaker and the concurrency limit. Unknown keys are refused, because a misspelt
 * safety setting that is silently ignored is worse than none.
 */
import {
  MODEL_FAILURES,
  type CircuitBreakerSpec,
  type Fallback,
  type ModelFailure,
  type Resilience,
  type StaticValue,
  type Variant,
} from "../domain/model.js";
import { isPlainObject } from "../domain/json-value.js";
import { invalidField, shown } from "./field.js";
import { checkModelName, checkVariantName } from "./names.js";

export const DEFAULT_BREAKER: CircuitBreakerSpec = { failures: 5, openMs: 30_000, halfOpenProbes: 1 };
const MAX_OPEN_MS = 3_600_000;
const MAX_CONCURRENCY = 100_000;
/** Values per row of a static output; a default answer is a few numbers, not a payload. */
const MAX_STATIC_WIDTH = 1024;

/**
 * `checkRef` is the deployment's own reference check, passed in so both stay one rule.
 * Returns undefined when there is nothing to configure.
 */
export function checkResilience(
  value: unknown,
  variants: readonly Variant[],
  checkRef: (value: unknown, field: string) => Variant["ref"],
): Resilience | undefined {
  if (value === undefined || value === null) return undefined;
  const field = "resilience";
  if (!isPlainObject(value)) {
    throw invalidField(
      field,
      `expected {fallback?, fallbackOn?, circuitBreaker?, maxConcurrency?}, got ${shown(value)}`,
    );
  }
  onlyKeys(value, field, ["fallback", "fallbackOn", "circuitBreaker", "maxConcurrency"]);
  const fallback =
    value.fallback === undefined ? undefined : checkFallback(value.fallback, variants, checkRef);
  let fallbackOn: ModelFailure[] | undefined;
  if (value.fallbackOn !== undefined) {
    if (fallback === undefined) {
      throw invalidField(`${field}.fallbackOn`, "has no effect without resilience.fallback");
    }
    fallbackOn = checkFailures(value.fallbackOn, `${field}.fallbackOn`);
  }
  const circuitBreaker = value.circuitBreaker === undefined ? undefined : checkBreaker(value.circuitBreaker);
  const maxConcurrency =
    value.maxConcurrency === undefined
      ? undefined
      : wholeNumber(
          value.maxConcurrency,
          `${field}.maxConcurrency`,
          1,
          MAX_CONCURRENCY,
          "requests in flight",
        );
  const out: { -readonly [K in keyof Resilience]: Resilience[K] } = {};
  if (fallback !== undefined) out.fallback = fallback;
  if (fallbackOn !== undefined) out.fallbackOn = fallbackOn;
  if (circuitBreaker !== undefined) out.circuitBreaker = circuitBreaker;
  if (maxConcurrency !== undefined) out.maxConcurrency = maxConcurrency;
  return Object.keys(out).length === 0 ? undefined : out;
}

function checkFallback(
  value: unknown,
  variants: readonly Variant[],
  checkRef: (value: unknown, field: string) => Variant["ref"],
): Fallback {
  const field = "resilience.fallback";
  const forms = `{variant: "name"}, {model, ref: {version} or {alias}} or {response: {outputs: {name: value}}}`;
  if (!isPlainObject(value)) throw invalidField(field, `expected ${forms}, got ${shown(value)}`);
  const given = ["variant", "model", "response"].filter((k) => value[k] !== undefined);
  if (given.length !== 1) throw invalidField(field, `give exactly one of ${forms}, got ${shown(value)}`);
  if (value.variant !== undefined) {
    onlyKeys(value, field, ["variant"]);
    const name = checkVariantName(value.variant, `${field}.variant`);
    if (!variants.some((v) => v.name === name)) {
      throw invalidField(
        `${field}.variant`,
        `"${name}" is not a variant of this deployment; variants: ${variants.map((v) => v.name).join(", ")}`,
      );
    }
    if (variants.length === 1) {
      throw invalidField(`${field}.variant`, `"${name}" is the only variant: it cannot stand in for itself`);
    }
    return { variant: name };
  }
  if (value.model !== undefined) {
    onlyKeys(value, field, ["model", "ref"]);
    const model = checkModelName(value.model, `${field}.model`);
    return { model, ref: checkRef(value.ref, `${field}.ref`) };
  }
  onlyKeys(value, field, ["response"]);
  return { response: checkStaticResponse(value.response, `${field}.response`) };
}

function checkStaticResponse(value: unknown, field: string): { outputs: Record<string, StaticValue> } {
  if (!isPlainObject(value) || !isPlainObject(value.outputs)) {
    throw invalidField(field, `expected {outputs: {<output name>: <value per row>}}, got ${shown(value)}`);
  }
  onlyKeys(value, field, ["outputs"]);
  const entries = Object.entries(value.outputs);
  if (entries.length === 0) throw invalidField(`${field}.outputs`, "name at least one output");
  const outputs: Record<string, StaticValue> = {};
  for (const [name, v] of entries) {
    const at = `${field}.outputs.${name}`;
    if (Array.isArray(v)) {
      if (v.length === 0 || v.length > MAX_STATIC_WIDTH) {
        throw invalidField(at, `a list per row needs 1 to ${MAX_STATIC_WIDTH} values, got ${v.length}`);
      }
      const kinds = new Set(v.map((x, i) => scalarKind(x, `${at}[${i}]`)));
      if (kinds.size > 1)
        throw invalidField(at, `mixes ${[...kinds].join(" and ")}; use one kind per output`);
      outputs[name] = v as Array<number | boolean | string>;
    } else {
      scalarKind(v, at);
      outputs[name] = v as number | boolean | string;
    }
  }
  return { outputs };
}

function scalarKind(value: unknown, field: string): "number" | "boolean" | "string" {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalidField(field, `${shown(value)} is not a finite number`);
    return "number";
  }
  if (typeof value === "boolean" || typeof value === "string") return typeof value as "boolean" | "string";
  throw invalidField(field, `expected a number, boolean or string (or a list of them), got ${shown(value)}`);
}

function checkFailures(value: unknown, field: string): ModelFailure[] {
  const allowed = MODEL_FAILURES as readonly unknown[];
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidField(
      field,
      `expected a non-empty list of ${MODEL_FAILURES.join(", ")}, got ${shown(value)}`,
    );
  }
  value.forEach((v: unknown, i) => {
    if (!allowed.includes(v)) {
      throw invalidField(`${field}[${i}]`, `${shown(v)} is not one of ${MODEL_FAILURES.join(", ")}`);
    }
    if (value.indexOf(v) !== i) throw invalidField(`${field}[${i}]`, `${shown(v)} is listed twice`);
  });
  return value as ModelFailure[];
}

function checkBreaker(value: unknown): CircuitBreakerSpec {
  const field = "resilience.circuitBreaker";
  if (!isPlainObject(value)) {
    throw invalidField(field, `expected {failures?, openMs?, halfOpenProbes?}, got ${shown(value)}`);
  }
  onlyKeys(value, field, ["failures", "openMs", "halfOpenProbes"]);
  const pick = (key: keyof CircuitBreakerSpec, max: number, what: string): number =>
    value[key] === undefined
      ? DEFAULT_BREAKER[key]
      : wholeNumber(value[key], `${field}.${key}`, 1, max, what);
  return {
    failures: pick("failures", 1000, "consecutive failures"),
    openMs: pick("openMs", MAX_OPEN_MS, "milliseconds"),
    halfOpenProbes: pick("halfOpenProbes", 100, "probe requests"),
  };
}

function wholeNumber(value: unknown, field: string, min: number, max: number, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidField(field, `${shown(value)} is out of range: use whole ${what} from ${min} to ${max}`);
  }
  return value;
}

function onlyKeys(value: Record<string, unknown>, field: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidField(`${field}.${key}`, `unknown setting; known: ${known.join(", ")}`);
    }
  }
}
