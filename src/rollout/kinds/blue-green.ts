/**
 * Blue-green: the new version is loaded at 0% and reached by its preview header, analysed on
 * that preview, switched to 100% at once and analysed again; a failed analysis switches back.
 * Its steps are derived when the strategy is parsed and walked by the canary's machine.
 */
import type { RolloutKind } from "../kind.js";
import type { BlueGreenStrategy } from "../strategy.js";
import { manual } from "../transitions.js";
import { advanceCanary, analysisDue, describeSteps, gateNeeds, startCanary } from "./canary.js";

export const blueGreen: RolloutKind<BlueGreenStrategy> = {
  start: (rollout, stable, next, strategy, now) =>
    startCanary(rollout.id, rollout.deployment, stable, next, strategy, now),
  due: analysisDue,
  next: advanceCanary,
  act: (state, action, strategy, now) => manual(state, action, now, strategy.steps.length),
  previewHeader: (strategy) => strategy.previewHeader,
  promoteAlias: (strategy) => strategy.promoteAlias,
  needs: gateNeeds,
  describe: describeSteps,
};
