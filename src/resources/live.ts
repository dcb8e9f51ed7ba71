/**
 * The actual state behind each kind: what is stored and served now. Deployments and monitors
 * have their own stores (they can also be changed through their HTTP routes and `ballast
 * deploy`); a Notifier or a Pipeline exists only as declared, so its live state is its declaration.
 */
import { checkOneNotifier, type NotifierConfig } from "../alerts/notifiers/index.js";
import { isBallastError } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { ANYWHERE, type RemoteAccess } from "../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../domain/secret-access.js";
import { checkStrategyNotifiers } from "../rollout/rollout-alerts.js";
import type { Rollouts } from "../rollout/rollouts.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import type { DeploymentChanges } from "../application/deployment-changes.js";
import type { MonitorChanges } from "../application/monitor-changes.js";
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
  /**
   * The declaration was written (or removed) in the store: what reads the declaration itself
   * (a Router) is told now, not at put/delete, which run before the write.
   */
  stored(kind: Kind, name: string): Promise<void>;
}

/** What the router service offers the resource layer. */
export interface RouterChecks {
  check(name: string, spec: Spec): Promise<void>;
  /** Read again at next use, here and (told through the change feed) on the other replicas. */
  changed(name: string): Promise<void>;
}

export interface LiveParts {
  readonly registry: Registry;
  readonly deployments: DeploymentStore;
  readonly changes: DeploymentChanges;
  readonly monitors: Monitors;
  readonly monitorStore: MonitorStore;
  /** Stores, runs and announces monitor changes. */
  readonly monitorChanges: MonitorChanges;
  readonly resources: ResourceStore;
  /** Points a deployment's monitors at what it serves now. */
  readonly prepareMonitors: (deployment: string) => void;
  readonly rollouts: Rollouts;
  /** Where notifiers may send (`--allow-remote`); anywhere when absent. */
  readonly remoteAccess?: RemoteAccess;
  /** Checks a Router against what is registered (its classifier) and hears of its changes. */
  readonly routers?: RouterChecks;
  /** What notifiers may read as secrets (`--secrets-dir`, `--secret-env`); the defaults when absent. */
  readonly secretAccess?: SecretAccess;
}

export function liveState(parts: LiveParts): LiveState {
  const { deployments, monitorStore, resources } = parts;
  const storedMonitor = async (name: string): Promise<AnyMonitorSpec | undefined> =>
    (await monitorStore.listAll()).find((s) => s.name === name);

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
        case "Pipeline":
        case "Router":
          return (await resources.get(kind, name))?.manifest.spec ?? null;
      }
    },

    async names(kind) {
      switch (kind) {
        case "Deployment":
          return (await deployments.list()).map((d) => d.name);
        case "Monitor":
          return (await monitorStore.listAll()).map((s) => s.name);
        case "Notifier":
        case "Pipeline":
        case "Router":
          return (await resources.list(kind)).map((r) => r.manifest.metadata.name);
      }
    },

    async check(kind, name, spec) {
      // Inline notifiers (and a Notifier itself) are refused here when they point where this
      // server may not send or at secrets it may not read; Notifier names were checked when applied.
      const remote = parts.remoteAccess ?? ANYWHERE;
      const secrets = parts.secretAccess ?? DEFAULT_SECRET_ACCESS;
      if (kind === "Notifier") checkOneNotifier(spec as unknown as NotifierConfig, remote, secrets, "spec");
      if (kind === "Monitor" && Array.isArray(spec.notifiers))
        spec.notifiers.forEach((n: unknown, i) => {
          if (isPlainObject(n))
            checkOneNotifier(n as unknown as NotifierConfig, remote, secrets, `notifiers[${i}]`);
        });
      // A Router and a Deployment both answer at /v2/models/{name}: one name, one of them.
      if (kind === "Router") {
        if ((await deployments.list()).some((d) => d.name === name))
          throw invalidField("metadata.name", `'${name}' is a Deployment; a Router needs a name of its own`);
        await parts.routers?.check(name, spec);
        return;
      }
      if (kind === "Deployment" && (await resources.get("Router", name)) !== null)
        throw invalidField("metadata.name", `'${name}' is a Router; a Deployment needs a name of its own`);
      if (kind !== "Deployment") return;
      checkStrategyNotifiers(spec.strategy, remote, secrets);
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
          // A declared version change goes out through the deployment's strategy, if it has one.
          await parts.changes.apply(deploymentInput(name, spec), { strategy: "follow" });
          return;
        }
        case "Monitor": {
          await parts.monitorChanges.put(parseAnyMonitorSpec(spec, name));
          return;
        }
        case "Notifier":
          return; // its declaration is its state; monitors using it are re-applied by the caller
        case "Pipeline":
          return; // its declaration is its state; a run reads it when it starts
        case "Router":
          return; // its declaration is its state: the router service rereads it once stored
      }
    },

    async delete(kind, name) {
      switch (kind) {
        case "Deployment":
          await parts.changes.remove(name);
          return;
        case "Monitor":
          if ((await storedMonitor(name)) === undefined) return;
          await parts.monitorChanges.remove(name);
          return;
        case "Notifier":
        case "Pipeline":
          return; // runs already started keep the spec they started with
        case "Router":
          return; // see stored
      }
    },

    async stored(kind, name) {
      if (kind === "Router") await parts.routers?.changed(name);
    },
  };
}
