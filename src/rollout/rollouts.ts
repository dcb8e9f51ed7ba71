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
import { parseStrategy, StrategyCache, type ChallengerStrategy, type RolloutStrategy } from "./strategy.js";
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
    for (const d of await this.deployments.list()) {
      const running = this.controller.isRolling(d.name) ? await this.controller.status(d.name) : null;
      if (running !== null) this.meter.watch(d.name, running.state.id);
    }
  }

  /**
   * On a replica that does not step rollouts: reads the running ones from the store, so what it
   * answers (and counts for the traffic meter) follows the replica that does.
   */
  async follow(): Promise<void> {
    await this.controller.refresh();
    for (const d of await this.deployments.list()) {
      const running = this.controller.isRolling(d.name) ? await this.controller.status(d.name) : null;
      // The same epoch keeps its counts: watching again on every tick is safe.
      if (running !== null) this.meter.watch(d.name, running.state.id);
      else if (this.meter.epochOf(d.name) !== undefined) this.meter.unwatch(d.name);
    }
  }

  async tick(): Promise<void> {
    await this.controller.tick();
    await this.forgetFinished();
    await this.promoteBetterChallengers();
  }

  /**
   * Counts of rollouts that ended are deleted: only of one this controller saw end (an epoch it
   * does not know may be a rollout it has not loaded yet). Best effort: rows a failed delete
   * leaves behind belong to an epoch nobody reads again, and are swept with age.
   */
  private async forgetFinished(deployment?: string): Promise<void> {
    for (const w of this.meter.watching()) {
      if (deployment !== undefined && w.deployment !== deployment) continue;
      if (this.controller.isRolling(w.deployment)) continue;
      if ((await this.controller.status(w.deployment))?.state.id !== w.epoch) continue;
      await this.meter.forget(w.deployment, w.epoch).catch(() => {});
    }
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

  /** Whether a declared strategy rolls version changes out (canary, blue-green, A/B). */
  rollsOut(strategy: unknown): boolean {
    return parseStrategy(strategy) !== undefined;
  }

  /** The version a running rollout is taking the deployment to. */
  async rollingTo(deployment: string): Promise<VersionPin | undefined> {
    if (!this.controller.isRolling(deployment)) return undefined;
    return (await this.controller.status(deployment))?.state.canary;
  }

  /** Rolls a version out with the strategy the deployment has stored now. */
  async startPinned(deployment: string, to: VersionPin): Promise<RolloutState> {
    return this.start(deployment, { model: to.model, ref: { version: to.version } });
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
    const state = await this.controller.start(deployment, stable, canary, strategy);
    // Its id is the epoch every replica counts it under. (Requests served between the first
    // weight change and here are counted only if the controller's listener watched it first.)
    if (this.controller.isRolling(deployment)) this.meter.watch(deployment, state.id);
    return state;
  }

  async act(deployment: string, action: ManualAction): Promise<RolloutState> {
    const state = await this.controller.act(deployment, action);
    await this.forgetFinished(deployment);
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
