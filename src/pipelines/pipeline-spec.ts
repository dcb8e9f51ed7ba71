/**
 * A Pipeline resource's spec, checked (errors name the field as written: `steps[2].train.input`)
 * and with its defaults filled in. Each step's own spec is checked by its kind's `parse` after
 * the parameters' defaults are put in, so a spec that is wrong for every run is refused at
 * apply; a run substitutes its own parameters again (`resolveSteps`) and the kind checks again.
 */
import { invalid, isBallastError } from "../domain/errors.js";
import { parseDuration } from "../domain/duration.js";
import { isPlainObject, type JsonValue } from "../domain/json-value.js";
import { invalidField, shown } from "../registry/field.js";
import { checkDag, stepOfRef, type DagNode } from "./dag.js";
import { stepKinds, type StepKinds } from "./steps/index.js";
import { parseTriggers, type TriggerSpec } from "./triggers/trigger-spec.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly limit: number;
  /** Wait before the first retry; doubled for each one after, up to maxBackoffMs. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
}

export interface PipelineStep {
  readonly name: string;
  /** The kind key (`source`, `train`, …). */
  readonly kind: string;
  /** The kind's spec as declared, `${params.x}` not yet substituted. */
  readonly spec: JsonValue;
  readonly needs: readonly string[];
  readonly retries: RetryPolicy;
  readonly timeoutMs: number;
  /** False: never taken from the cache (`cache: false`). */
  readonly cache: boolean;
}

export interface PipelineSpec {
  /** Defaults; a run may override them, never add to them. */
  readonly params: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly cooldownMs: number;
  readonly retries: RetryPolicy;
  readonly timeoutMs: number;
  readonly steps: readonly PipelineStep[];
  readonly triggers: readonly TriggerSpec[];
}

/** A step with this run's parameters in its spec, its inputs and what it waits for. */
export interface ResolvedStep extends PipelineStep {
  readonly spec: JsonValue;
  /** The references the spec reads (`split.train`), by the name the step sees them under. */
  readonly inputs: readonly string[];
  /** Upstream steps: those its inputs come from, and those it `needs`. */
  readonly upstream: readonly string[];
}

export const DEFAULT_RETRIES: RetryPolicy = { limit: 0, backoffMs: 10_000, maxBackoffMs: 300_000 };
export const DEFAULT_STEP_TIMEOUT_MS = 3_600_000;
/** More steps than any pipeline needs; a bound on what one spec may ask the orchestrator to track. */
export const MAX_STEPS = 100;
const MAX_RETRIES = 100;

const PIPELINE_FIELDS = ["params", "concurrency", "cooldown", "retries", "timeout", "steps", "triggers"];
const STEP_FIELDS = ["name", "needs", "retries", "timeout", "cache"];
const RETRY_FIELDS = ["limit", "backoff", "maxBackoff"];
const STEP_NAME = /^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const PARAM_REF = /\$\{params\.([^}]*)\}/g;

/** Checks a Pipeline spec; errors name the field inside the spec. */
export function parsePipelineSpec(raw: unknown, kinds: StepKinds = stepKinds): PipelineSpec {
  if (!isPlainObject(raw)) throw invalid(`a Pipeline spec must be an object, got ${shown(raw)}`);
  unknownFields(raw, PIPELINE_FIELDS, "a Pipeline spec", "");
  const params = parseParams(raw.params);
  const concurrency = raw.concurrency === undefined ? 1 : count(raw.concurrency, "concurrency", 1, 100);
  const cooldownMs = raw.cooldown === undefined ? 0 : duration(raw.cooldown, "cooldown");
  const retries = parseRetries(raw.retries, "retries", DEFAULT_RETRIES);
  const timeoutMs =
    raw.timeout === undefined ? DEFAULT_STEP_TIMEOUT_MS : positiveDuration(raw.timeout, "timeout");
  if (!Array.isArray(raw.steps) || raw.steps.length === 0)
    throw invalidField("steps", `expected a list of steps, got ${shown(raw.steps)}`);
  if (raw.steps.length > MAX_STEPS)
    throw invalidField("steps", `at most ${MAX_STEPS} steps, got ${raw.steps.length}`);
  const steps = raw.steps.map((s: unknown, i) => parseStep(s, `steps[${i}]`, { retries, timeoutMs }, kinds));
  let triggers: TriggerSpec[];
  try {
    triggers = parseTriggers(raw.triggers, "triggers");
  } catch (error) {
    throw asInvalid(error, "triggers");
  }
  const spec: PipelineSpec = { params, concurrency, cooldownMs, retries, timeoutMs, steps, triggers };
  // The graph and every kind's spec, with the parameters' defaults.
  resolveSteps(spec, params, kinds);
  return spec;
}

/**
 * The run's parameters: the defaults with `overrides` on top. A parameter the pipeline does not
 * declare is refused, so a typo in `--param` does not silently run with the default.
 */
export function runParams(
  spec: PipelineSpec,
  overrides: Readonly<Record<string, string>> = {},
): Record<string, string> {
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.prototype.hasOwnProperty.call(spec.params, name))
      throw invalidField(
        `params.${name}`,
        `not a parameter of this pipeline; it has ${namesOr(Object.keys(spec.params))}`,
      );
    if (typeof value !== "string")
      throw invalidField(`params.${name}`, `expected a string, got ${shown(value)}`);
  }
  return { ...spec.params, ...overrides };
}

/**
 * The steps with `params` substituted and each spec checked by its kind, in an order where
 * every step comes after its upstream ones. Throws naming the field (`steps[1].split.input`).
 */
export function resolveSteps(
  spec: PipelineSpec,
  params: Readonly<Record<string, string>>,
  kinds: StepKinds = stepKinds,
): ResolvedStep[] {
  const resolved = spec.steps.map((step, i): ResolvedStep => {
    const field = `steps[${i}].${step.kind}`;
    const kind = kinds.get(step.kind);
    if (kind === undefined) throw invalidField(field, `unknown step kind '${step.kind}'`);
    const substituted = substituteParams(step.spec, params, field);
    let inputs: readonly string[];
    try {
      inputs = kind.inputs(kind.parse(substituted, field));
    } catch (error) {
      throw asInvalid(error, field);
    }
    const upstream = [...new Set([...inputs.map(stepOfRef), ...step.needs])];
    return { ...step, spec: substituted, inputs, upstream };
  });
  const nodes: DagNode[] = resolved.map((step, i) => ({
    name: step.name,
    field: `steps[${i}]`,
    upstream: [
      ...step.inputs.map((ref) => ({ step: stepOfRef(ref), field: `steps[${i}].${step.kind}` })),
      ...step.needs.map((n, j) => ({ step: n, field: `steps[${i}].needs[${j}]` })),
    ],
  }));
  const order = checkDag(nodes);
  const byName = new Map(resolved.map((s) => [s.name, s]));
  return order.map((name) => byName.get(name) as ResolvedStep);
}

/**
 * `${params.x}` in every string of `value` replaced by the parameter's value. Pure; a name that
 * is not a parameter is refused with the field it is in.
 */
export function substituteParams(
  value: JsonValue,
  params: Readonly<Record<string, string>>,
  field: string,
): JsonValue {
  if (typeof value === "string") {
    return value.replace(PARAM_REF, (_match, name: string) => {
      if (!Object.prototype.hasOwnProperty.call(params, name))
        throw invalidField(
          field,
          `uses \${params.${name}}, which is not a parameter; declare it under params (it has ${namesOr(Object.keys(params))})`,
          { param: name },
        );
      return params[name] as string;
    });
  }
  if (Array.isArray(value))
    return value.map((v: JsonValue, i) => substituteParams(v, params, `${field}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteParams(v, params, `${field}.${k}`);
    return out;
  }
  return value;
}

function parseStep(
  raw: unknown,
  field: string,
  defaults: { retries: RetryPolicy; timeoutMs: number },
  kinds: StepKinds,
): PipelineStep {
  if (!isPlainObject(raw))
    throw invalidField(field, `expected a step {name, <kind>: {...}}, got ${shown(raw)}`);
  if (typeof raw.name !== "string" || !STEP_NAME.test(raw.name))
    throw invalidField(
      `${field}.name`,
      `expected a step name of letters, digits, '-' and '_' (no dots: they name outputs), got ${shown(raw.name)}`,
    );
  const kindKeys = Object.keys(raw).filter((k) => !STEP_FIELDS.includes(k));
  const known = kinds.names();
  const unknownKey = kindKeys.find((k) => kinds.get(k) === undefined);
  if (unknownKey !== undefined)
    throw invalidField(
      `${field}.${unknownKey}`,
      `unknown field; a step has ${STEP_FIELDS.join(", ")} and one kind of ${namesOr(known)}`,
    );
  if (kindKeys.length !== 1)
    throw invalidField(
      field,
      kindKeys.length === 0
        ? `a step needs one kind: ${namesOr(known)}`
        : `a step has exactly one kind, found ${kindKeys.join(" and ")}`,
    );
  const kind = kindKeys[0] as string;
  const needs = raw.needs === undefined ? [] : raw.needs;
  if (!Array.isArray(needs) || needs.some((n) => typeof n !== "string"))
    throw invalidField(`${field}.needs`, `expected a list of step names, got ${shown(raw.needs)}`);
  if (raw.cache !== undefined && typeof raw.cache !== "boolean")
    throw invalidField(`${field}.cache`, `expected true or false, got ${shown(raw.cache)}`);
  return {
    name: raw.name,
    kind,
    spec: (raw[kind] ?? {}) as JsonValue,
    needs: needs as string[],
    retries: parseRetries(raw.retries, `${field}.retries`, defaults.retries),
    timeoutMs:
      raw.timeout === undefined ? defaults.timeoutMs : positiveDuration(raw.timeout, `${field}.timeout`),
    cache: raw.cache !== false,
  };
}

function parseParams(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw invalidField("params", `expected name: default pairs, got ${shown(raw)}`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!PARAM_NAME.test(name))
      throw invalidField(`params.${name}`, "a parameter name is letters, digits, '_' and '-'");
    if (typeof value === "string") out[name] = value;
    else if (typeof value === "number" || typeof value === "boolean") out[name] = String(value);
    else
      throw invalidField(
        `params.${name}`,
        `expected a string, number or boolean default, got ${shown(value)}`,
      );
  }
  return out;
}

function parseRetries(raw: unknown, field: string, defaults: RetryPolicy): RetryPolicy {
  if (raw === undefined) return defaults;
  if (typeof raw === "number") return { ...defaults, limit: count(raw, field, 0, MAX_RETRIES) };
  if (!isPlainObject(raw))
    throw invalidField(field, `expected {limit, backoff, maxBackoff}, got ${shown(raw)}`);
  unknownFields(raw, RETRY_FIELDS, "retries", `${field}.`);
  const limit = raw.limit === undefined ? defaults.limit : count(raw.limit, `${field}.limit`, 0, MAX_RETRIES);
  const backoffMs =
    raw.backoff === undefined ? defaults.backoffMs : duration(raw.backoff, `${field}.backoff`);
  const maxBackoffMs =
    raw.maxBackoff === undefined
      ? Math.max(defaults.maxBackoffMs, backoffMs)
      : duration(raw.maxBackoff, `${field}.maxBackoff`);
  if (maxBackoffMs < backoffMs) throw invalidField(`${field}.maxBackoff`, "must be at least backoff");
  return { limit, backoffMs, maxBackoffMs };
}

function count(raw: unknown, field: string, min: number, max: number): number {
  if (typeof raw !== "number" || !Number.isSafeInteger(raw) || raw < min || raw > max)
    throw invalidField(field, `expected a whole number ${min}…${max}, got ${shown(raw)}`);
  return raw;
}

function duration(raw: unknown, field: string): number {
  if (typeof raw === "number" && Number.isSafeInteger(raw) && raw >= 0) return raw * 1000; // plain seconds
  if (typeof raw !== "string")
    throw invalidField(field, `expected a duration like 30s or 5m, got ${shown(raw)}`);
  try {
    return parseDuration(raw, field);
  } catch (error) {
    throw asInvalid(error, field);
  }
}

function positiveDuration(raw: unknown, field: string): number {
  const ms = duration(raw, field);
  if (ms <= 0) throw invalidField(field, "must be longer than 0");
  return ms;
}

function unknownFields(
  object: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
  prefix: string,
): void {
  const unknown = Object.keys(object).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw invalidField(`${prefix}${unknown}`, `unknown field; ${what} has ${allowed.join(", ")}`);
}

/** A step kind's parse may throw plain errors; they become field errors here. */
function asInvalid(error: unknown, field: string): unknown {
  if (isBallastError(error) && typeof error.details?.field === "string") return error;
  if (isBallastError(error) && error.code !== "invalid_argument") return error;
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(field) ? invalid(message, { field }) : invalidField(field, message);
}

function namesOr(names: readonly string[]): string {
  return names.length === 0 ? "none" : names.join(", ");
}
