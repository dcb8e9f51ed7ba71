/**
 * What a rollout does to the world, carried out through the deployment-change service (strategy
 * skipped: the rollout is the strategy): the deployment's variants (stable and canary, with their
 * weights), the alias that follows the promoted version, and a `rollout` tag on a version that
 * failed. Everything else in the deployment's spec (timeouts, fallbacks, shadows) is kept.
 */
import type { Variant } from "../domain/model.js";
import type { DeploymentInput } from "../registry/deployment-spec.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import type { VersionPin } from "../rollout/rollout-state.js";
import { CANARY, STABLE, type RolloutTargets } from "../rollout/controller.js";
import type { DeploymentChanges } from "./deployment-changes.js";

const SKIP = { strategy: "skip" } as const;

export function rolloutTargets(parts: {
  deployments: DeploymentStore;
  registry: Registry;
  changes: DeploymentChanges;
}): RolloutTargets {
  const { deployments, registry, changes } = parts;
  const pinned = (name: string, pin: VersionPin, weight: number): Variant => ({
    name,
    model: pin.model,
    ref: { version: pin.version },
    weight,
  });
  const put = async (deployment: string, live: Variant[], previewHeader?: string): Promise<void> => {
    const current = await deployments.get(deployment);
    const { createdAt: _c, updatedAt: _u, variants, routing, ...rest } = current;
    const shadows = variants.filter((v) => v.shadow === true);
    const names = new Set([...live, ...shadows].map((v) => v.name));
    // Rules naming a variant the rollout removed go with it; a preview rule comes first.
    const rules = [
      ...(previewHeader === undefined ? [] : [{ header: previewHeader, variant: CANARY }]),
      ...(routing?.rules ?? []).filter((r) => names.has(r.variant) && r.header !== previewHeader),
    ];
    const nextRouting =
      routing?.sticky === undefined && rules.length === 0
        ? undefined
        : {
            ...(routing?.sticky === undefined ? {} : { sticky: routing.sticky }),
            ...(rules.length === 0 ? {} : { rules }),
          };
    const input = {
      ...rest,
      variants: [...live, ...shadows],
      ...(nextRouting === undefined ? {} : { routing: nextRouting }),
    } as DeploymentInput;
    await changes.apply(input, SKIP);
  };
  return {
    async split(deployment, stable, canary, weight, previewHeader) {
      // At weight 0 the canary stays deployed (loaded, warm) but takes no traffic but previews.
      await put(
        deployment,
        [pinned(STABLE, stable, 100 - weight), pinned(CANARY, canary, weight)],
        previewHeader,
      );
    },
    async promote(deployment, canary, alias) {
      if (alias !== undefined) await changes.moveAlias(canary.model, alias, canary.version, SKIP);
      await put(deployment, [pinned(STABLE, canary, 100)]);
    },
    async rollback(deployment, stable, canary, reason) {
      await put(deployment, [pinned(STABLE, stable, 100)]);
      const version = await registry.getVersion(canary.model, canary.version);
      await registry.updateVersion(canary.model, canary.version, {
        tags: { ...version.tags, rollout: "failed", "rollout.reason": reason.slice(0, 250) },
      });
    },
  };
}
