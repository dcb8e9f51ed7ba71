/**
 * `ballast serve --model name=path`: what the flag may do to the deployment `name`. It is a
 * convenience for a first start and for a model file edited between restarts, so it may create
 * the deployment, and move it to the file's new version only while the deployment is still as
 * --model left it. A deployment that a resource declares, a rollout manages, or anyone changed
 * since (`ballast deploy`, the API, a promotion) is left alone: a restart must never undo them.
 *
 * Ownership is recorded as a `ServedFromFile` event holding the deployment's updatedAt as the
 * flag left it; any later write to the deployment moves updatedAt on.
 */
import type { Ballast } from "../ballast.js";
import type { Deployment } from "../domain/model.js";
import { isBallastError } from "../domain/errors.js";
import { isFinished, type RolloutState } from "../rollout/rollout-state.js";
import { MAX_EVENTS_PER_READ } from "../events/event-log.js";

export const SERVED_FROM_FILE = "ServedFromFile";

/** What --model last did to the deployment, as its event recorded it. */
export interface FlagRecord {
  readonly version: number;
  readonly updatedAt: number;
}

export interface DeploymentFacts {
  readonly deployment: Deployment | null;
  /** A Deployment resource declares it (ballast apply, a watched folder or repository). */
  readonly declared: boolean;
  /** Its latest rollout, running or ended. */
  readonly rollout: RolloutState | null;
  readonly lastSetByFlag: FlagRecord | null;
}

export type ModelFlagDecision =
  | { readonly action: "create" }
  | { readonly action: "update"; readonly from: number }
  | { readonly action: "unchanged" }
  | { readonly action: "leave"; readonly why: string };

/** Pure: what --model may do, given the deployment as it is and the version the file is. */
export function decideModelFlag(facts: DeploymentFacts, version: number): ModelFlagDecision {
  const { deployment, rollout, lastSetByFlag } = facts;
  if (facts.declared) return { action: "leave", why: "a Deployment resource declares it" };
  if (deployment === null) return { action: "create" };
  if (rollout !== null && !isFinished(rollout)) {
    return {
      action: "leave",
      why: `a rollout of ${rollout.canary.model} v${rollout.canary.version} is ${rollout.phase} at ${rollout.weight}%`,
    };
  }
  if (deployment.strategy !== undefined) {
    return {
      action: "leave",
      why: "it declares a rollout strategy (new versions go out with `ballast rollout start`)",
    };
  }
  const pinned = pinnedVersion(deployment);
  if (lastSetByFlag === null || lastSetByFlag.updatedAt !== deployment.updatedAt || pinned === null) {
    return {
      action: "leave",
      why: "it was set or changed by something other than --model (ballast deploy, the API, a rollout)",
    };
  }
  return pinned === version ? { action: "unchanged" } : { action: "update", from: pinned };
}

/** The version of a deployment that serves one pinned version and nothing else, as --model makes it. */
function pinnedVersion(deployment: Deployment): number | null {
  const [only, ...rest] = deployment.variants;
  if (only === undefined || rest.length > 0 || !("version" in only.ref)) return null;
  return only.model === deployment.name ? only.ref.version : null;
}

/**
 * Registers the file (the existing version when the same bytes were registered before), then
 * creates or moves the deployment when decideModelFlag allows it. Returns a line saying what was
 * left alone, or null when the deployment now serves the file.
 */
export async function applyModelFlag(ballast: Ballast, name: string, path: string): Promise<string | null> {
  const { version, created } = await ballast.registry.registerVersion({
    model: name,
    artifactPath: path,
    source: path,
  });
  const facts = await factsAbout(ballast, name);
  const decision = decideModelFlag(facts, version.version);
  if (decision.action === "leave") {
    const serving = (facts.deployment?.variants ?? [])
      .map(
        (v) =>
          `${v.name} ${v.model} ${"version" in v.ref ? `v${v.ref.version}` : `@${v.ref.alias}`} ${v.weight}%`,
      )
      .join(", ");
    return (
      `deployment ${name} left as it is${serving === "" ? "" : ` (${serving})`}: ${decision.why}; ` +
      `--model ${created ? "registered the file as" : "found the file already registered as"} ${name} v${version.version}`
    );
  }
  if (decision.action === "unchanged") return null;
  // The operator named this file on the command line: it is served as is, never canaried.
  const { deployment } = await ballast.changes.apply(
    {
      name,
      ...(facts.deployment === null ? {} : { timeoutMs: facts.deployment.timeoutMs }),
      variants: [{ name: "stable", model: name, ref: { version: version.version }, weight: 100 }],
    },
    { strategy: "skip" },
  );
  await ballast.events.record({
    kind: "Deployment",
    name,
    reason: SERVED_FROM_FILE,
    message:
      decision.action === "create"
        ? `--model: created, serving ${name} v${version.version} from ${path}`
        : `--model: the file changed, serving ${name} v${version.version} instead of v${decision.from}`,
    details: { version: version.version, path, updatedAt: deployment.updatedAt },
  });
  return null;
}

async function factsAbout(ballast: Ballast, name: string): Promise<DeploymentFacts> {
  const deployment = await ballast.deployments.get(name).catch(orNull);
  const declared = await ballast.resources
    .get("Deployment", name)
    .then((view) => view.status.sync !== "Unmanaged")
    .catch((error: unknown) => orNull(error) ?? false);
  const rollout = deployment === null ? null : (await ballast.rollouts.describe(name)).rollout;
  const events = await ballast.events.list({ kind: "Deployment", name, limit: MAX_EVENTS_PER_READ });
  const last = events.findLast((e) => e.reason === SERVED_FROM_FILE);
  const record =
    last !== undefined &&
    typeof last.details.updatedAt === "number" &&
    typeof last.details.version === "number"
      ? { updatedAt: last.details.updatedAt, version: last.details.version }
      : null;
  return { deployment, declared, rollout, lastSetByFlag: record };
}

function orNull(error: unknown): null {
  if (isBallastError(error) && error.code === "not_found") return null;
  throw error;
}
