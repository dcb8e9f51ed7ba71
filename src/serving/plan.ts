/**
 * What runs for one request, decided before anything runs: the variant that answers (by the
 * deployment's routing: header rules, sticky key, weights), who answers when it fails (the
 * fallback chain), and which shadow variants get a copy. Pure: the request's attributes and a
 * random source go in, a plan comes out; the executor carries it out.
 *
 * A deployment's live variants and their split are worked out once per served generation
 * (each sync gives a new ServedDeployment), not on every request.
 */
import { invalid, notFound } from "../domain/errors.js";
import type { ServedDeployment, ServedFallback, ServedVariant } from "./served.js";
import { route, type RequestAttributes, type WeightedVariant } from "./routing.js";

/** Merges the members' answers of an ensemble (the ensemble issue; no combiner exists yet). */
export interface Combiner {
  readonly name: string;
}

export interface InferencePlan {
  readonly deployment: ServedDeployment;
  /** The variant chosen to answer; the one the outcome and the metrics are about. */
  readonly primary: ServedVariant;
  /** Who answers, in order, when the primary fails (empty when nothing may stand in). */
  readonly fallbacks: readonly ServedFallback[];
  /** Shadow variants drawn to receive a copy of this request once the answer is known. */
  readonly shadows: readonly ServedVariant[];
  /**
   * Several models whose answers a combiner merges. Typed for the ensemble issue; no plan
   * has one yet, and the executor refuses one.
   */
  readonly ensemble?: { readonly members: readonly ServedVariant[]; readonly combiner: Combiner };
}

/** What the plan reads from a request. */
export interface PlanRequest extends RequestAttributes {
  /** A version named in the path: only that version answers, with no fallback and no shadows. */
  readonly version?: string;
}

/** The per-generation facts the plan needs, computed once per ServedDeployment. */
interface Prepared {
  readonly live: readonly ServedVariant[];
  readonly weighted: readonly WeightedVariant[];
  readonly totalWeight: number;
  readonly shadows: readonly ServedVariant[];
  readonly fallbacks: readonly ServedFallback[];
}

const prepared = new WeakMap<ServedDeployment, Prepared>();

function prepare(served: ServedDeployment): Prepared {
  let facts = prepared.get(served);
  if (facts !== undefined) return facts;
  const live = served.variants.filter((v) => v.variant.shadow !== true);
  const stable = live.some((v) => v.variant.name === "stable") ? "stable" : live[0]?.variant.name;
  facts = {
    live,
    weighted: live.map((v) => ({
      name: v.variant.name,
      weight: v.variant.weight,
      stable: v.variant.name === stable,
    })),
    totalWeight: live.reduce((sum, v) => sum + v.variant.weight, 0),
    shadows: served.variants.filter((v) => v.variant.shadow === true),
    fallbacks: served.fallback === undefined ? [] : [served.fallback],
  };
  prepared.set(served, facts);
  return facts;
}

const NONE: readonly never[] = [];

/** The plan for one request to `served`. `random` gives uniform numbers in [0, 1). */
export function plan(served: ServedDeployment, request: PlanRequest, random: () => number): InferencePlan {
  const facts = prepare(served);
  if (request.version !== undefined) {
    // A version named in the path is what the client asked for: no other version answers it.
    return {
      deployment: served,
      primary: findVersion(served, request.version),
      fallbacks: NONE,
      shadows: NONE,
    };
  }
  const primary = pickVariant(served, request, random);
  // A fallback that is the primary itself cannot stand in for it.
  const fallbacks =
    facts.fallbacks.length === 0
      ? NONE
      : facts.fallbacks.filter((f) => f.kind !== "model" || f.target !== primary);
  return { deployment: served, primary, fallbacks, shadows: drawShadows(facts.shadows, random) };
}

/**
 * The variant that answers: by the deployment's routing (header rules, sticky key) when it has
 * one, else a live (non-shadow) variant at random by weight.
 */
export function pickVariant(
  served: ServedDeployment,
  request: RequestAttributes | undefined,
  random: () => number,
): ServedVariant {
  const { live, weighted, totalWeight } = prepare(served);
  const routing = served.deployment.routing;
  if (routing !== undefined) {
    const chosen = route(weighted, routing, request ?? { headers: {} }, random());
    // A rule may name a variant with weight 0 (a preview); never a shadow.
    return live.find((v) => v.variant.name === chosen.variant) ?? (live[0] as ServedVariant);
  }
  if (live.length === 1) return live[0] as ServedVariant;
  let point = random() * totalWeight;
  for (const v of live) {
    point -= v.variant.weight;
    if (point < 0) return v;
  }
  return live[live.length - 1] as ServedVariant;
}

/** Each shadow mirrors its weight's share of requests, in percent. */
function drawShadows(shadows: readonly ServedVariant[], random: () => number): readonly ServedVariant[] {
  if (shadows.length === 0) return NONE;
  let drawn: ServedVariant[] | undefined;
  for (const shadow of shadows) {
    if (random() * 100 >= shadow.variant.weight) continue;
    (drawn ??= []).push(shadow);
  }
  return drawn ?? NONE;
}

function findVersion(served: ServedDeployment, raw: string): ServedVariant {
  const version = Number(raw);
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || !Number.isSafeInteger(version)) {
    throw invalid(`version must be a positive integer, got '${raw}'`);
  }
  const found = served.variants.find((v) => v.version.version === version);
  if (found === undefined) {
    const deployed = served.variants.map((v) => v.version.version).join(", ");
    throw notFound(
      `version ${version} of '${served.deployment.name}' is not deployed; deployed: ${deployed}`,
    );
  }
  return found;
}
