/**
 * The one way to change what a deployment serves. HTTP, manifests, alias moves, rollout steps
 * and (next) pipelines all come here, and every change follows the same sequence: decide
 * (switch or roll out, `change-plan.ts`), store, bring this replica's serving in line, tell the
 * other replicas, point the monitors at what is served now, and start the rollout if one is
 * due. Whether a direct change skips the strategy is the caller's explicit `strategy` choice.
 */
import { conflict } from "../domain/errors.js";
import type { Deployment, Variant } from "../domain/model.js";
import type { DeploymentInput } from "../registry/deployment-spec.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import type { SyncProblem } from "../serving/endpoints.js";
import { STABLE } from "../rollout/controller.js";
import type { RolloutState } from "../rollout/rollout-state.js";
import { planChange, type ChangePlan, type StrategyChoice, type VersionPin } from "./change-plan.js";

/** What the service needs of rollouts; bound late, since rollouts change deployments through here. */
export interface RolloutStarter {
  /** Whether this declared strategy rolls version changes out (canary, blue-green, A/B). */
  rollsOut(strategy: unknown): boolean;
  /** The version a running rollout is taking the deployment to. */
  rollingTo(deployment: string): Promise<VersionPin | undefined>;
  /** Rolls `to` out on the deployment with the strategy it has stored now. */
  start(deployment: string, to: VersionPin): Promise<RolloutState>;
}

export interface DeploymentChangeParts {
  readonly deployments: DeploymentStore;
  readonly registry: Registry;
  /** This replica's serving: loads what is stored, then switches (Endpoints.sync). */
  readonly serve: () => Promise<SyncProblem[]>;
  /** Points a deployment's monitors at the versions it serves now. */
  readonly pointMonitors: (deployment: string) => void;
  /** Tells the other replicas that deployments changed (a no-op on one node). */
  readonly announce: () => Promise<void>;
  readonly rollouts: () => RolloutStarter;
}

export interface ChangeOptions {
  readonly strategy: StrategyChoice;
}

export interface ChangeResult {
  readonly deployment: Deployment;
  /** The rollout this change started, when it went out through the strategy. */
  readonly rollout: RolloutState | null;
  /** True when a running rollout to the same version keeps the split. */
  readonly continuing: boolean;
  readonly problems: SyncProblem[];
}

export interface AliasMoveResult {
  readonly problems: SyncProblem[];
  /** Deployments following the alias that now roll the new version out instead of switching. */
  readonly rollouts: Array<{ deployment: string; rollout: RolloutState }>;
}

export class DeploymentChanges {
  constructor(private readonly parts: DeploymentChangeParts) {}

  /** Creates or replaces a deployment. */
  async apply(input: DeploymentInput, options: ChangeOptions): Promise<ChangeResult> {
    const current = await this.parts.deployments.get(input.name).catch(() => null);
    const plan = await this.planFor(input.name, current, input, options.strategy);
    if (plan.kind === "conflict") throw rollingConflict(input.name, plan.rollingTo, plan.to);
    // During a rollout the rollout owns the versions: everything else is stored now.
    const stored =
      plan.kind === "switch"
        ? input
        : { ...input, variants: (current as Deployment).variants as readonly Variant[] };
    const deployment = await this.parts.deployments.put(stored);
    const problems = await this.served(input.name);
    const rollout = plan.kind === "rollout" ? await this.parts.rollouts().start(input.name, plan.to) : null;
    return {
      deployment: rollout === null ? deployment : await this.parts.deployments.get(input.name),
      rollout,
      continuing: plan.kind === "continue",
      problems,
    };
  }

  async remove(name: string): Promise<void> {
    await this.parts.deployments.delete(name);
    await this.served(undefined);
  }

  /**
   * Moves an alias. Deployments that follow it switch with it, or, when they declare a strategy
   * and the caller follows it, stay pinned on what they serve and roll the new version out.
   */
  async moveAlias(
    model: string,
    alias: string,
    version: number,
    options: ChangeOptions,
  ): Promise<AliasMoveResult> {
    const to: VersionPin = { model, version };
    await this.parts.registry.getVersion(model, version); // 404 before anything moves
    const rollingOut: Array<{ deployment: Deployment; from: VersionPin }> = [];
    for (const deployment of await this.followers(model, alias)) {
      const served = await this.stableOf(deployment);
      const plan = await this.planFor(
        deployment.name,
        deployment,
        this.withStable(deployment, to),
        options.strategy,
      );
      if (plan.kind === "conflict") throw rollingConflict(deployment.name, plan.rollingTo, plan.to);
      if (plan.kind === "rollout" && served !== undefined) rollingOut.push({ deployment, from: served });
    }
    // Pinned first, so the alias moving does not switch them before their canary starts.
    for (const { deployment, from } of rollingOut) {
      await this.parts.deployments.put(this.withStable(deployment, from));
    }
    await this.parts.registry.setAlias(model, alias, version);
    const problems = await this.served(undefined);
    const rollouts = [];
    for (const { deployment } of rollingOut) {
      rollouts.push({
        deployment: deployment.name,
        rollout: await this.parts.rollouts().start(deployment.name, to),
      });
    }
    return { problems, rollouts };
  }

  /**
   * After a change stored by someone else in this process (a rollout's own split): serve it,
   * tell the other replicas, point the monitors.
   */
  async served(deployment: string | undefined): Promise<SyncProblem[]> {
    const problems = await this.parts.serve();
    await this.parts.announce();
    if (deployment !== undefined) this.parts.pointMonitors(deployment);
    else for (const d of await this.parts.deployments.list()) this.parts.pointMonitors(d.name);
    return problems;
  }

  /** Another replica changed deployments or aliases (or this one may have missed it): catch up. */
  async heard(): Promise<void> {
    await this.parts.serve();
    for (const d of await this.parts.deployments.list()) this.parts.pointMonitors(d.name);
  }

  private async planFor(
    name: string,
    current: Deployment | null,
    input: DeploymentInput,
    choice: StrategyChoice,
  ): Promise<ChangePlan> {
    const rollouts = this.parts.rollouts();
    const hasStrategy = rollouts.rollsOut(input.strategy);
    if (choice === "skip" || !hasStrategy || current === null)
      return planChange({
        choice,
        hasStrategy,
        servedStable: undefined,
        declaredStable: undefined,
        rollingTo: undefined,
      });
    const declared = input.variants.find((v) => v.shadow !== true);
    const [servedStable, declaredStable, rollingTo] = await Promise.all([
      this.stableOf(current),
      declared === undefined ? undefined : this.pin(declared),
      rollouts.rollingTo(name),
    ]);
    return planChange({ choice, hasStrategy, servedStable, declaredStable, rollingTo });
  }

  /** The stable variant's version: the one named stable, else the only live one. */
  private async stableOf(deployment: Deployment): Promise<VersionPin | undefined> {
    const live = deployment.variants.filter((v) => v.shadow !== true);
    const stable = live.find((v) => v.name === STABLE) ?? live[0];
    return stable === undefined ? undefined : this.pin(stable);
  }

  private async pin(variant: Variant): Promise<VersionPin> {
    const version = await this.parts.registry.resolve(variant.model, variant.ref);
    return { model: version.model, version: version.version };
  }

  private async followers(model: string, alias: string): Promise<Deployment[]> {
    const follows = (v: Variant) =>
      v.shadow !== true && v.model === model && "alias" in v.ref && v.ref.alias === alias;
    return (await this.parts.deployments.list()).filter((d) => d.variants.some(follows));
  }

  /** The deployment as stored, its stable variant pinned at `pin`. */
  private withStable(deployment: Deployment, pin: VersionPin): DeploymentInput {
    const { createdAt: _c, updatedAt: _u, ...rest } = deployment;
    const live = deployment.variants.filter((v) => v.shadow !== true);
    const stable = live.find((v) => v.name === STABLE) ?? live[0];
    return {
      ...rest,
      variants: deployment.variants.map((v) =>
        v === stable ? { ...v, model: pin.model, ref: { version: pin.version } } : v,
      ),
    } as DeploymentInput;
  }
}

function rollingConflict(deployment: string, rollingTo: VersionPin, to: VersionPin) {
  const named = (pin: VersionPin) =>
    pin.model === to.model && pin.model === rollingTo.model ? "" : `${pin.model} `;
  return conflict(
    `deployment ${deployment} is rolling out ${named(rollingTo)}v${rollingTo.version}; promote or abort that rollout before declaring ${named(to)}v${to.version}`,
  );
}
