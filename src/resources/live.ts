/**
 * The actual state behind each kind: what is stored and served now. Deployments and monitors
 * have their own stores (they can also be changed through their HTTP routes and `ballast
 * deploy`); a Notifier exists only as declared, so its live state is its declaration.
 */
import { conflict, isBallastError } from "../domain/errors.js";
import type { Variant } from "../domain/model.js";
import type { DeploymentInput } from "../registry/deployment-spec.js";
import { parseStrategy } from "../rollout/strategy.js";
import { STABLE } from "../rollout/controller.js";
import type { Rollouts } from "../rollout/rollouts.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import type { Endpoints } from "../serving/endpoints.js";
import type { Monitors } from "../monitoring/monitors.js";
import type { MonitorStore } from "../monitoring/monitor-store.js";
import { parseAnyMonitorSpec, type AnyMonitorSpec } from "../monitoring/monitor-spec.js";
import { invalidField } from "../registry/field.js";
import type { Kind } from "./manifest.js";
import { deploymentInput, deploymentSpecOf, monitorSpecOf, type Spec } from "./kinds.js";
import type { ResourceStore } from "./resource-store.js";

export interface LiveState {
  /** The canonical live spec, or null when there is none. */
  get(kind: Kind, name: string): Promise<Spec | null>;
  names(kind: Kind): Promise<string[]>;
  /** Checks what only the server can (that versions exist); errors name the field in the spec. */
  check(kind: Kind, name: string, spec: Spec): Promise<void>;
  /**
   * Makes it so; for a Monitor, `spec` has its Notifier names already resolved. A Deployment
   * with a canary strategy whose stable version changes is rolled out rather than switched.
   */
  put(kind: Kind, name: string, spec: Spec): Promise<void>;
  /** A deployment's rollout, when it explains why live differs from declared. */
  progress(kind: Kind, name: string): Promise<"Progressing" | "Degraded" | null>;
  delete(kind: Kind, name: string): Promise<void>;
}

export interface LiveParts {
  readonly registry: Registry;
  readonly deployments: DeploymentStore;
  readonly endpoints: Endpoints;
  readonly monitors: Monitors;
  readonly monitorStore: MonitorStore;
  readonly resources: ResourceStore;
  /** Points a deployment's monitors at what it serves now. */
  readonly prepareMonitors: (deployment: string) => void;
  readonly rollouts: Rollouts;
}

export function liveState(parts: LiveParts): LiveState {
  const { deployments, endpoints, monitors, monitorStore, resources } = parts;
  const storedMonitor = async (name: string): Promise<AnyMonitorSpec | undefined> =>
    (await monitorStore.listAll()).find((s) => s.name === name);

  /** A rollout when the declaration changes the stable version of a deployment with a canary strategy. */
  const rolloutNeeded = async (name: string, input: DeploymentInput) => {
    const strategy = parseStrategy((input as { strategy?: unknown }).strategy);
    if (strategy === undefined) return null;
    const current = await deployments.get(name).catch(() => null);
    if (current === null) return null; // a new deployment starts on its version directly
    const liveVariants = current.variants.filter((v) => v.shadow !== true);
    const declared = input.variants.find((v) => v.shadow !== true);
    const liveStable = liveVariants.find((v) => v.name === STABLE) ?? liveVariants[0];
    if (declared === undefined || liveStable === undefined) return null;
    const [from, to] = await Promise.all([
      parts.registry.resolve(liveStable.model, liveStable.ref),
      parts.registry.resolve(declared.model, declared.ref),
    ]);
    if (from.model === to.model && from.version === to.version) return null;
    const running = parts.rollouts.isRolling(name) ? (await parts.rollouts.describe(name)).rollout : null;
    if (running !== null && (running.canary.model !== to.model || running.canary.version !== to.version)) {
      throw conflict(
        `deployment ${name} is rolling out v${running.canary.version}; promote or abort that rollout before declaring v${to.version}`,
      );
    }
    return {
      // Already rolling out this very version: leave the split to the rollout.
      start: running === null,
      liveVariants: current.variants as Variant[],
      stable: { model: from.model, version: from.version },
      canary: { model: to.model, version: to.version },
      strategy,
    };
  };

  return {
    async progress(kind, name) {
      if (kind !== "Deployment") return null;
      if (parts.rollouts.isRolling(name)) return "Progressing";
      const view = await parts.rollouts.describe(name).catch(() => null);
      return view?.rollout?.phase === "Aborted" ? "Degraded" : null;
    },

    async get(kind, name) {
      switch (kind) {
        case "Deployment":
          return deployments.get(name).then(deploymentSpecOf, (error: unknown) => {
            if (isBallastError(error) && error.code === "not_found") return null;
            throw error;
          });
        case "Monitor": {
          const spec = await storedMonitor(name);
          return spec === undefined ? null : monitorSpecOf(spec);
        }
        case "Notifier":
          return (await resources.get("Notifier", name))?.manifest.spec ?? null;
      }
    },

    async names(kind) {
      switch (kind) {
        case "Deployment":
          return (await deployments.list()).map((d) => d.name);
        case "Monitor":
          return (await monitorStore.listAll()).map((s) => s.name);
        case "Notifier":
          return (await resources.list("Notifier")).map((r) => r.manifest.metadata.name);
      }
    },

    async check(kind, name, spec) {
      if (kind !== "Deployment") return;
      const input = deploymentInput(name, spec);
      for (const [i, variant] of input.variants.entries()) {
        await parts.registry.resolve(variant.model, variant.ref).catch((error: unknown) => {
          if (isBallastError(error) && error.code === "not_found")
            throw invalidField(`variants[${i}]`, error.message);
          throw error;
        });
      }
    },

    async put(kind, name, spec) {
      switch (kind) {
        case "Deployment": {
          const input = deploymentInput(name, spec);
          const rollout = await rolloutNeeded(name, input);
          if (rollout !== null) {
            // Everything but the versions now; the versions through the canary.
            await deployments.put({ ...input, variants: rollout.liveVariants });
            await endpoints.sync();
            if (rollout.start)
              await parts.rollouts.begin(name, rollout.stable, rollout.canary, rollout.strategy);
            return;
          }
          await deployments.put(input);
          await endpoints.sync();
          parts.prepareMonitors(name);
          return;
        }
        case "Monitor": {
          const monitor = parseAnyMonitorSpec(spec, name);
          monitors.checkAccess(monitor);
          await monitorStore.put(monitor);
          monitors.put(monitor);
          parts.prepareMonitors(monitor.deployment);
          await monitors.settled();
          return;
        }
        case "Notifier":
          return; // its declaration is its state; monitors using it are re-applied by the caller
      }
    },

    async delete(kind, name) {
      switch (kind) {
        case "Deployment":
          await deployments.delete(name);
          await endpoints.sync();
          return;
        case "Monitor":
          if ((await storedMonitor(name)) === undefined) return;
          monitors.delete(name);
          await monitorStore.delete(name);
          return;
        case "Notifier":
          return;
      }
    },
  };
}
