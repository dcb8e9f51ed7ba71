/**
 * What each kind's spec may hold, checked without the server (so `ballast apply` and `ballast
 * diff` catch mistakes before anything is sent), and each kind's canonical spec: defaults filled
 * in, one spelling per value, so declared and live state compare field by field.
 */
import type { Deployment, Variant, VersionRef } from "../domain/model.js";
import { isPlainObject } from "../domain/json-value.js";
import { parseNotifierConfig, type NotifierConfig } from "../alerts/notifiers/index.js";
import { checkDeployment, variantsFromDocs, type DeploymentInput } from "../registry/deployment-spec.js";
import { parseStrategy } from "../rollout/strategy.js";
import { invalidField, shown } from "../registry/field.js";
import { REGISTRY_REASONS } from "../registry/registry-events.js";
import { parseAnyMonitorSpec, type AnyMonitorSpec } from "../monitoring/monitor-spec.js";
import { parsePipelineSpec } from "../pipelines/pipeline-spec.js";
import { parseTriggers, type TriggerSpec } from "../pipelines/triggers/trigger-spec.js";
import { parseRouterSpec } from "../markets/router-spec.js";
import type { Kind, Manifest } from "./manifest.js";

export type Spec = Readonly<Record<string, unknown>>;

/** A resource this one needs: it must exist, in the same batch or already applied. */
export interface Reference {
  readonly kind: Kind;
  readonly name: string;
  /** Where in the spec it is named (`deployment`, `notifiers[0]`). */
  readonly field: string;
}

export interface KindRules {
  readonly kind: Kind;
  /** Accepted on the command line: `deployment`, `deployments`, `deploy`. */
  readonly names: readonly string[];
  /** Checks the spec and returns it canonical; errors name the field inside the spec. */
  canonical(name: string, spec: Spec): Spec;
  references(spec: Spec): Reference[];
}

// ---------------------------------------------------------------- Deployment

const DEPLOYMENT_FIELDS = ["variants", "timeoutMs", "resilience", "routing", "strategy"];

/** A variant as YAML writes it: `version: 3` or `alias: champion` rather than a nested ref. */
interface VariantDoc {
  name: string;
  model: string;
  version?: number;
  alias?: string;
  weight: number;
  shadow?: true;
}

/** The deployment store's input for a canonical Deployment spec. */
export function deploymentInput(name: string, spec: Spec): DeploymentInput {
  const variants = (spec.variants as VariantDoc[]).map((v): Variant => ({
    name: v.name,
    model: v.model,
    ref: v.version !== undefined ? { version: v.version } : { alias: v.alias ?? "latest" },
    weight: v.weight,
    ...(v.shadow === true ? { shadow: true } : {}),
  }));
  return { ...spec, name, variants } as DeploymentInput;
}

/** A stored deployment as a canonical spec, to compare with what was declared. */
export function deploymentSpecOf(deployment: Deployment): Spec {
  const { name: _name, createdAt: _c, updatedAt: _u, variants, ...rest } = deployment;
  return { ...rest, variants: variants.map(variantDoc) };
}

function variantDoc(v: Variant): VariantDoc {
  const ref: VersionRef = v.ref;
  return {
    name: v.name,
    model: v.model,
    ...("version" in ref ? { version: ref.version } : { alias: ref.alias }),
    weight: v.weight,
    ...(v.shadow === true ? { shadow: true as const } : {}),
  };
}

const deploymentRules: KindRules = {
  kind: "Deployment",
  names: ["deployment", "deployments", "deploy"],
  canonical(name, spec) {
    unknownFields(spec, DEPLOYMENT_FIELDS, "a Deployment spec");
    const variants = variantsFromDocs(spec.variants);
    // Notifier names in the strategy are resolved when applied; the configurations are checked here.
    const strategy = withoutNotifierNames(spec.strategy);
    const checked = checkDeployment(
      { ...spec, name, variants, ...(strategy === undefined ? {} : { strategy }) },
      { strategy: parseStrategy },
    );
    const { name: _name, variants: checkedVariants, ...checkedRest } = checked;
    const rest = spec.strategy === undefined ? checkedRest : { ...checkedRest, strategy: spec.strategy };
    if (rest.strategy !== undefined && checkedVariants.filter((v) => v.shadow !== true).length !== 1) {
      throw invalidField(
        "variants",
        "with a strategy, declare the one stable variant (the version you want); the rollout adds the canary",
      );
    }
    return { ...rest, variants: checkedVariants.map(variantDoc) };
  },
  references: (spec) => notifierReferences(notifierLists(spec.strategy)),
};

/** A rollout strategy's notifier lists (canary, blueGreen, abTest), with where they sit. */
function notifierLists(strategy: unknown): Array<{ field: string; list: unknown[] }> {
  if (!isPlainObject(strategy)) return [];
  return ["canary", "blueGreen", "abTest"].flatMap((k) => {
    const part = strategy[k];
    return isPlainObject(part) && Array.isArray(part.notifiers)
      ? [{ field: `strategy.${k}.notifiers`, list: part.notifiers as unknown[] }]
      : [];
  });
}

function notifierReferences(lists: Array<{ field: string; list: unknown[] }>): Reference[] {
  return lists.flatMap(({ field, list }) =>
    list.flatMap((n, i) =>
      typeof n === "string" ? [{ kind: "Notifier" as const, name: n, field: `${field}[${i}]` }] : [],
    ),
  );
}

/** The strategy with Notifier names left out of its notifier lists (names are checked as references). */
function withoutNotifierNames(strategy: unknown): unknown {
  return mapNotifierLists(strategy, (list) => list.filter((n) => typeof n !== "string"));
}

function mapNotifierLists(strategy: unknown, map: (list: unknown[]) => unknown[]): unknown {
  if (!isPlainObject(strategy)) return strategy;
  const out: Record<string, unknown> = { ...strategy };
  for (const k of ["canary", "blueGreen", "abTest"]) {
    const part = strategy[k];
    if (isPlainObject(part) && Array.isArray(part.notifiers))
      out[k] = { ...part, notifiers: map(part.notifiers) };
  }
  return out;
}

/** A canonical Deployment spec with the Notifier names in its strategy replaced by their configurations. */
export function deploymentSpecWith(spec: Spec, notifier: (name: string) => NotifierConfig): Spec {
  if (spec.strategy === undefined) return spec;
  const strategy = mapNotifierLists(spec.strategy, (list) =>
    list.map((n) => (typeof n === "string" ? notifier(n) : n)),
  );
  return { ...spec, strategy };
}

/** The Notifier names a canonical spec of this kind uses. */
export function notifierNamesOf(kind: Kind, spec: Spec): string[] {
  const lists =
    kind === "Monitor"
      ? [{ field: "notifiers", list: spec.notifiers as unknown[] }]
      : kind === "Deployment"
        ? notifierLists(spec.strategy)
        : [];
  return [...new Set(notifierReferences(lists).map((r) => r.name))];
}

// ---------------------------------------------------------------- Notifier

const notifierRules: KindRules = {
  kind: "Notifier",
  names: ["notifier", "notifiers"],
  canonical(name, spec) {
    // `events`: the registry and pipeline events this receiver is told of, beside the alerts
    // of the monitors and rollouts that name it.
    const { events, ...config } = spec;
    const subscribed = events === undefined ? [] : parseEventSubscriptions(events, "spec.events");
    return {
      ...parseNotifierConfig({ name, ...config }, "spec"),
      ...(subscribed.length === 0 ? {} : { events: subscribed }),
    } as Spec;
  },
  references: () => [],
};

function parseEventSubscriptions(raw: unknown, field: string): string[] {
  if (!Array.isArray(raw)) throw invalidField(field, `expected a list of ${REGISTRY_REASONS.join(", ")}`);
  return [
    ...new Set(
      raw.map((e: unknown, i) => {
        if (typeof e !== "string" || !(REGISTRY_REASONS as readonly string[]).includes(e))
          throw invalidField(
            `${field}[${i}]`,
            `expected one of ${REGISTRY_REASONS.join(", ")}, got ${shown(e)}`,
          );
        return e;
      }),
    ),
  ];
}

// ---------------------------------------------------------------- Monitor

/**
 * A monitor's notifiers are inline configurations or names of Notifier resources; the names
 * are resolved when it is applied, so one Notifier serves many monitors.
 */
const monitorRules: KindRules = {
  kind: "Monitor",
  names: ["monitor", "monitors", "mon"],
  canonical(name, spec) {
    const notifiers = spec.notifiers ?? [];
    if (!Array.isArray(notifiers))
      throw invalidField(
        "notifiers",
        `expected a list of Notifier names or configurations, got ${shown(notifiers)}`,
      );
    notifiers.forEach((n: unknown, i) => {
      if (typeof n === "string" && n.length > 0) return;
      if (!isPlainObject(n))
        throw invalidField(
          `notifiers[${i}]`,
          `expected a Notifier's name or a configuration, got ${shown(n)}`,
        );
    });
    const inline = notifiers.filter((n): n is Record<string, unknown> => typeof n !== "string");
    const parsed = parseAnyMonitorSpec({ ...spec, notifiers: inline }, name);
    let next = 0;
    const canonicalNotifiers = notifiers.map((n: unknown) =>
      typeof n === "string" ? n : (parsed.notifiers[next++] as NotifierConfig),
    );
    const { name: _name, ...rest } = parsed;
    return { ...rest, notifiers: canonicalNotifiers };
  },
  references(spec) {
    const refs: Reference[] = [{ kind: "Deployment", name: String(spec.deployment), field: "deployment" }];
    (spec.notifiers as unknown[]).forEach((n, i) => {
      if (typeof n === "string") refs.push({ kind: "Notifier", name: n, field: `notifiers[${i}]` });
    });
    return refs;
  },
};

/** A canonical Monitor spec with its Notifier names replaced by their configurations. */
export function monitorSpecWith(
  name: string,
  spec: Spec,
  notifier: (name: string) => NotifierConfig,
): AnyMonitorSpec {
  const notifiers = (spec.notifiers as unknown[]).map((n) => (typeof n === "string" ? notifier(n) : n));
  return parseAnyMonitorSpec({ ...spec, notifiers }, name);
}

/** A stored monitor as a canonical spec (its notifiers inline). */
export function monitorSpecOf(spec: AnyMonitorSpec): Spec {
  const { name: _name, ...rest } = spec;
  return rest;
}

// ---------------------------------------------------------------- Pipeline

/**
 * A retraining pipeline: its declaration is its state (the orchestrator reads it when a run
 * starts). Kept as written, once its steps, graph and every step kind's spec are checked.
 */
const pipelineRules: KindRules = {
  kind: "Pipeline",
  names: ["pipeline", "pipelines", "pipe"],
  canonical(_name, spec) {
    parsePipelineSpec(spec);
    return spec;
  },
  references: routersHeard,
};

/**
 * The Routers a pipeline's triggers hear (an alert trigger's router, a regimeLoss trigger's): a
 * misspelt name would wait for alerts, or losses, that never come. A triggers list that does not
 * parse names none (canonical refuses it with the field).
 */
function routersHeard(spec: Spec): Reference[] {
  let triggers: TriggerSpec[];
  try {
    triggers = parseTriggers(spec.triggers, "triggers");
  } catch {
    return [];
  }
  return triggers.flatMap((t, i) => {
    if (t.kind === "alert" && t.router !== undefined)
      return [{ kind: "Router" as const, name: t.router, field: `triggers[${i}].alert.router` }];
    if (t.kind === "regimeLoss")
      return [{ kind: "Router" as const, name: t.router, field: `triggers[${i}].regimeLoss.router` }];
    return [];
  });
}

// ---------------------------------------------------------------- Router

/**
 * A regime router: its declaration is its state (the router service reads it when it answers).
 * Its specialists are Deployments; the classifier version is checked when applied (live.ts).
 */
const routerRules: KindRules = {
  kind: "Router",
  names: ["router", "routers", "rt"],
  canonical: (_name, spec) => parseRouterSpec(spec) as unknown as Spec,
  references: (spec) =>
    (spec.specialists as Array<{ deployment: string }>).map((s, i) => ({
      kind: "Deployment" as const,
      name: s.deployment,
      field: `specialists[${i}].deployment`,
    })),
};

// ---------------------------------------------------------------- the table

export const KIND_RULES: Readonly<Record<Kind, KindRules>> = {
  Deployment: deploymentRules,
  Monitor: monitorRules,
  Notifier: notifierRules,
  Pipeline: pipelineRules,
  Router: routerRules,
};

/** Applied in this order (what is referenced first), deleted in the reverse. */
export const APPLY_ORDER: readonly Kind[] = ["Notifier", "Deployment", "Monitor", "Pipeline", "Router"];

/** The kind a user typed (`deployments`, `Monitor`, `mon`). */
export function kindNamed(raw: string): Kind | undefined {
  const lower = raw.toLowerCase();
  return Object.values(KIND_RULES).find((r) => r.names.includes(lower) || r.kind.toLowerCase() === lower)
    ?.kind;
}

/** The manifest with its spec canonical (throws with the field inside the spec). */
export function canonicalManifest(manifest: Manifest): Manifest {
  return { ...manifest, spec: KIND_RULES[manifest.kind].canonical(manifest.metadata.name, manifest.spec) };
}

function unknownFields(
  object: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
  prefix = "",
): void {
  const unknown = Object.keys(object).find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    throw invalidField(`${prefix}${unknown}`, `unknown field; ${what} has ${allowed.join(", ")}`);
}
