/**
 * What a change to a deployment's served versions should do, decided from resolved facts: switch
 * at once, or go out through the deployment's rollout strategy. Every door (HTTP, manifest, alias
 * move, rollout step, pipeline) asks the same question here, so which door was used never
 * decides whether the canary runs; the caller's `strategy` choice does.
 */
import { invalid } from "../domain/errors.js";

/** One model version, as a rollout names its stable and canary. */
export interface VersionPin {
  readonly model: string;
  readonly version: number;
}

/** `follow`: a version change goes through the declared strategy; `skip`: switch at once. */
export type StrategyChoice = "follow" | "skip";

export const STRATEGY_CHOICES: readonly StrategyChoice[] = ["follow", "skip"];

/** `follow` (the default) or `skip` (switch at once, no rollout), as a request or flag says it. */
export function strategyChoice(raw: string | undefined): StrategyChoice {
  if (raw === undefined) return "follow";
  if ((STRATEGY_CHOICES as readonly string[]).includes(raw)) return raw as StrategyChoice;
  throw invalid(`strategy must be one of ${STRATEGY_CHOICES.join(", ")}, got '${raw}'`, {
    field: "strategy",
  });
}

export interface ChangeFacts {
  readonly choice: StrategyChoice;
  /** Whether the deployment (as it will be declared) has a strategy that rolls versions out. */
  readonly hasStrategy: boolean;
  /** The stable version served now; undefined for a new deployment. */
  readonly servedStable: VersionPin | undefined;
  /** The stable version the change asks for. */
  readonly declaredStable: VersionPin | undefined;
  /** The version a running rollout is taking the deployment to, if one runs. */
  readonly rollingTo: VersionPin | undefined;
}

export type ChangePlan =
  /** Store the change as given and serve it now. */
  | { readonly kind: "switch" }
  /** Store everything but the versions, then roll `to` out from `from`. */
  | { readonly kind: "rollout"; readonly from: VersionPin; readonly to: VersionPin }
  /** A rollout to this very version runs already: store everything but the versions. */
  | { readonly kind: "continue" }
  /** A rollout to another version runs: refuse, naming both. */
  | { readonly kind: "conflict"; readonly rollingTo: VersionPin; readonly to: VersionPin };

export function planChange(facts: ChangeFacts): ChangePlan {
  const { servedStable: from, declaredStable: to, rollingTo } = facts;
  if (facts.choice === "skip" || !facts.hasStrategy) return { kind: "switch" };
  // A new deployment has nothing to compare a canary with; it starts on its version.
  if (from === undefined || to === undefined) return { kind: "switch" };
  if (samePin(from, to)) return rollingTo === undefined ? { kind: "switch" } : { kind: "continue" };
  if (rollingTo !== undefined)
    return samePin(rollingTo, to) ? { kind: "continue" } : { kind: "conflict", rollingTo, to };
  return { kind: "rollout", from, to };
}

export function samePin(a: VersionPin, b: VersionPin): boolean {
  return a.model === b.model && a.version === b.version;
}
