/**
 * The rollout kinds, one line each: what a strategy's `kind` names, the controller runs.
 * (Champion/challenger, kinds/challenger.ts, is no kind of its own: it starts a canary.)
 */
import type { RolloutKind } from "../kind.js";
import type { RolloutKindName, RolloutStrategy } from "../strategy.js";
import { abTest } from "./ab-test.js";
import { blueGreen } from "./blue-green.js";
import { canary } from "./canary.js";

const KINDS: { readonly [K in RolloutKindName]: RolloutKind<Extract<RolloutStrategy, { kind: K }>> } = {
  canary,
  blueGreen,
  abTest,
};

/** The kind that runs `strategy`, taking it as its own strategy type. */
export function kindOf<S extends RolloutStrategy>(strategy: S): RolloutKind<S> {
  // The table pairs each kind with its own strategy type; `strategy.kind` picks the entry.
  return KINDS[strategy.kind] as unknown as RolloutKind<S>;
}
