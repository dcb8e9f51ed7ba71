/**
 * Rollouts as the rest of Ballast sees them: start one from a deployment's declared strategy,
 * act on it, undo a promotion, describe where it stands. The controller does the stepping;
 * this module finds the versions and the strategy and keeps the traffic meter pointed at the
 * deployments being rolled out.
 */
import { conflict, invalid } from "../domain/errors.js";
import type { VersionRef } from "../domain/model.js";
import type { EventRecorder } from "../events/event-log.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import type { ManualAction, RolloutState, VersionPin } from "./rollout-state.js";
import { STABLE, type RolloutController } from "./controller.js";
import type { RolloutTargets } from "./controller.js";
import type { KindView } from "./kind.js";
import { kindOf } from "./kinds/index.js";
import { RolloutReason } from "./reasons.js";
import { StrategyCache, type ChallengerStrategy, type RolloutStrategy } from "./strategy.js";
import type { TrafficMeter } from "./traffic-meter.js";
import type { Clock } from "../domain/clock.js";
import type { PerformanceLog } from "../monitoring/log-performance.js";
import {
  challengerSettings,
  challengersDue,
  challengerToPromote,
  evaluateChallengers,
  type ChallengerReport,
} from "./kinds/challenger.js";

export interface RolloutView extends KindView {
  readonly deployment: string;
  /** With its conditions (Progressing, Paused, Healthy, Completed, Aborted). */
  readonly rollout: RolloutState | null;
}

export class Rollouts {
  private readonly challengersCheckedAt = new Map<string, number>();
  /** Each deployment's declared strategy, parsed again only when the declaration changes. */
  private readonly strategies = new StrategyCache();

  constructor(
    private readonly controller: RolloutController,
    private readonly deployments: DeploymentStore,
    private readonly registry: Registry,
    private readonly targets: RolloutTargets,
    private readonly meter: TrafficMeter,
    private readonly events: EventRecorder,
    private readonly log: PerformanceLog & { flush(): Promise<void> },
    private readonly clock: Clock,
  ) {}

  /** Resumes the rollouts a restart interrupted. */
  async resume(): Promise<void> {
    await this.controller.resume();
    for (const d of await this.deployments.list())
      if (this.controller.isRolling(d.name)) this.meter.watch(d.name);
  }

  async tick(): Promise<void> {
    await this.controller.tick();
    await this.promoteBetterChallengers();
  }

  /** Every variant but the champion, judged against it on labelled requests. */
  async challengers(
    deployment: string,
    overrides: Partial<ChallengerStrategy> = {},
  ): Promise<ChallengerReport[]> {
    const current = await this.deployments.get(deployment);
    const declared = this.strategies.of(current);
    const settings = challengerSettings(
      declared?.kind === "canary" ? declared.challengers : undefined,
      overrides,
    );
    const live = current.variants.filter((v) => v.shadow !== true);
    const champion = live.find((v) => v.name === STABLE)?.name ?? live[0]?.name ?? STABLE;
    await this.log.flush();
    const now = this.clock.now();
    return evaluateChallengers(this.log, {
      deployment,
      since: now - settings.windowMs,
      until: now + 1,
      champion,
      score: settings.score,
      threshold: settings.threshold,
      regression: settings.regression,
      alpha: settings.alpha,
    });
  }

  /** A challenger significantly better than the champion goes out through the declared canary. */
  private async promoteBetterChallengers(): Promise<void> {
    const now = this.clock.now();
    for (const d of await this.deployments.list()) {
      const strategy = this.strategies.of(d);
      if (strategy?.kind !== "canary" || strategy.challengers === undefined || this.isRolling(d.name))
        continue;
      if (!challengersDue(this.challengersCheckedAt.get(d.name), strategy.challengers, now)) continue;
      this.challengersCheckedAt.set(d.name, now);
      const reports = await this.challengers(d.name);
      if (!reports.some((r) => r.significantlyBetter)) continue;
      const live = d.variants.filter((v) => v.shadow !== true);
      const stable = live.find((v) => v.name === STABLE) ?? live[0];
      if (stable === undefined) continue;
      const from = await this.registry.resolve(stable.model, stable.ref);
      const better = challengerToPromote(reports, from);
      if (better === undefined) continue;
      await this.events.record({
        kind: "Deployment",
        name: d.name,
        reason: RolloutReason.ChallengerBetter,
        message: `challenger ${better.variant} (${better.model} v${better.version}) beats the champion: ${better.summary}; rolling it out through the canary`,
        details: { challenger: better },
      });
      await this.begin(
        d.name,
        { model: from.model, version: from.version },
        { model: better.model, version: better.version },
        strategy,
      );
    }
  }

  isRolling(deployment: string): boolean {
    return this.controller.isRolling(deployment);
  }

  /** Rolls `target` out on the deployment with its declared canary strategy. */
  async start(deployment: string, target: { model?: string; ref: VersionRef }): Promise<RolloutState> {
    const current = await this.deployments.get(deployment);
    const strategy = this.strategyOf(current);
    const live = current.variants.filter((v) => v.shadow !== true);
    const stableVariant = live.find((v) => v.name === STABLE) ?? (live.length === 1 ? live[0] : undefined);
    if (stableVariant === undefined || live.length !== 1)
      throw conflict(
        `deployment ${deployment} serves ${live.length} live variants; a canary starts from one stable variant`,
      );
    const stableVersion = await this.registry.resolve(stableVariant.model, stableVariant.ref);
    const model = target.model ?? stableVariant.model;
    const canaryVersion = await this.registry.resolve(model, target.ref);
    return this.begin(
      deployment,
      { model: stableVersion.model, version: stableVersion.version },
      { model, version: canaryVersion.version },
      strategy,
    );
  }

  async begin(
    deployment: string,
    stable: VersionPin,
    canary: VersionPin,
    strategy: RolloutStrategy,
  ): Promise<RolloutState> {
    this.meter.watch(deployment);
    try {
      return await this.controller.start(deployment, stable, canary, strategy);
    } catch (error) {
      if (!this.controller.isRolling(deployment)) this.meter.unwatch(deployment);
      throw error;
    }
  }

  async act(deployment: string, action: ManualAction): Promise<RolloutState> {
    const state = await this.controller.act(deployment, action);
    if (!this.controller.isRolling(deployment)) this.meter.unwatch(deployment);
    return state;
  }

  /**
   * Back to the version that was stable before the last promotion (instant: it is kept
   * registered). Returns what it did, in words, since "undo" means two things.
   */
  async undo(deployment: string): Promise<string> {
    if (this.controller.isRolling(deployment)) {
      const state = await this.act(deployment, "abort");
      return `rollout of ${state.canary.model} v${state.canary.version} aborted: all traffic on v${state.stable.version}`;
    }
    const last = await this.controller.status(deployment);
    if (last === null || last.state.phase !== "Succeeded")
      throw conflict(
        `deployment ${deployment} has no promotion to undo (its last rollout: ${last?.state.phase ?? "none"})`,
      );
    return this.controller.serialized(async () => {
      const { stable, canary } = last.state;
      const alias = kindOf(last.strategy).promoteAlias(last.strategy);
      await this.targets.promote(deployment, stable, alias);
      const message = `promotion of ${canary.model} v${canary.version} undone: v${stable.version} is stable again${alias === undefined ? "" : ` and ${alias} points at it`}`;
      await this.events.record({
        kind: "Deployment",
        name: deployment,
        type: "Warning",
        reason: RolloutReason.Undone,
        message,
        details: { rollout: last.state.id },
      });
      return message;
    });
  }

  async describe(deployment: string): Promise<RolloutView> {
    await this.deployments.get(deployment); // 404 for an unknown deployment
    const stored = await this.controller.status(deployment);
    if (stored === null) return { deployment, rollout: null, steps: 0, gates: [] };
    return {
      deployment,
      rollout: stored.state,
      ...kindOf(stored.strategy).describe(stored.state, stored.strategy),
    };
  }

  /** The deployment's declared strategy, which a rollout of it follows. */
  strategyOf(deployment: { readonly name: string; readonly strategy?: unknown }): RolloutStrategy {
    const strategy = this.strategies.of(deployment);
    if (strategy === undefined) {
      throw invalid(
        `deployment ${deployment.name} declares no rollout strategy; add strategy.canary (steps, analysis) or strategy.abTest to it first`,
      );
    }
    return strategy;
  }
}
