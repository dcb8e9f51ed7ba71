/**
 * Runs rollouts: on every tick each active rollout's state machine advances with fresh
 * measurements, its actions are carried out on the deployment, and the new state is saved
 * before anything else happens. At start the saved state is applied again, so a server killed
 * between writing the state and changing the weights comes back consistent, never half-way.
 * Manual actions and ticks go through one queue, so they never interleave.
 */
import { SerialQueue } from "../domain/serial-queue.js";
import { conflict, invalid, notFound } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { EventRecorder } from "../events/event-log.js";
import type { VariantMeasurement } from "./analysis.js";
import { withConditions } from "./conditions.js";
import type { RolloutNeeds } from "./kind.js";
import { kindOf } from "./kinds/index.js";
import { RolloutReason } from "./reasons.js";
import {
  isFinished,
  type ManualAction,
  type RolloutState,
  type Transition,
  type VersionPin,
} from "./rollout-state.js";
import type { StoredRollout } from "./rollout-store.js";
import type { Exclusive } from "../store/exclusive.js";
import type { RolloutStrategy } from "./strategy.js";

/** The variant names a canary rollout gives the deployment. */
export const STABLE = "stable";
export const CANARY = "canary";

/** What a rollout changes: the deployment's variants and the promoted alias. */
export interface RolloutTargets {
  /**
   * Stable at 100 - weight, canary at weight (0 keeps the canary loaded but idle); with a
   * preview header, requests carrying it go to the canary whatever the weights.
   */
  split(
    deployment: string,
    stable: VersionPin,
    canary: VersionPin,
    weight: number,
    previewHeader?: string,
  ): Promise<void>;
  /** The canary's version becomes the only, stable variant; the alias follows it. */
  promote(deployment: string, canary: VersionPin, alias: string | undefined): Promise<void>;
  /** Everything back on the stable version; the canary's version is tagged as failed. */
  rollback(deployment: string, stable: VersionPin, canary: VersionPin, reason: string): Promise<void>;
}

export interface MeasurementSource {
  /** What the variant served since `since` (epoch ms). */
  measure(deployment: string, variant: string, since: number): Promise<VariantMeasurement>;
}

/** Where rollout states are kept (the store; an array in simulations). */
export interface RolloutRecords {
  save(state: RolloutState, strategy: RolloutStrategy): Promise<void>;
  active(): Promise<StoredRollout[]>;
  history(deployment: string, limit?: number): Promise<StoredRollout[]>;
}

/** Told of every transition with its notes (events, alerts). */
export type RolloutListener = (
  state: RolloutState,
  notes: Transition["notes"],
  strategy: RolloutStrategy,
) => void;

export class RolloutController {
  private readonly running = new Map<string, StoredRollout>();
  private readonly queue = new SerialQueue();
  private nextId: number;

  constructor(
    private readonly store: RolloutRecords,
    private readonly targets: RolloutTargets,
    private readonly source: MeasurementSource,
    private readonly events: EventRecorder,
    private readonly clock: Clock,
    private readonly listener: RolloutListener = () => {},
    /**
     * Replicas sharing one store: every action runs under this cross-replica lock and starts
     * from the state in the store, so a promote through one replica and a tick on another
     * cannot both act on the same state. Absent: one process, the memory is the truth.
     */
    private readonly shared: Exclusive | undefined = undefined,
  ) {
    this.nextId = clock.now();
  }

  /** Loads active rollouts and puts their deployments where their state says they are. */
  async resume(): Promise<void> {
    await this.serialized(async () => {
      for (const r of await this.store.active()) {
        this.running.set(r.state.deployment, r);
        await this.targets.split(
          r.state.deployment,
          r.state.stable,
          r.state.canary,
          r.state.weight,
          kindOf(r.strategy).previewHeader(r.strategy),
        );
        await this.events.record({
          kind: "Deployment",
          name: r.state.deployment,
          reason: RolloutReason.RolloutResumed,
          message: `rollout of ${r.state.canary.model} v${r.state.canary.version} resumed after a restart at step ${r.state.step + 1}, canary weight ${r.state.weight}%`,
          details: { rollout: r.state.id },
        });
      }
    });
  }

  start(
    deployment: string,
    stable: VersionPin,
    canary: VersionPin,
    strategy: RolloutStrategy,
  ): Promise<RolloutState> {
    return this.serialized(async () => {
      const current = this.running.get(deployment);
      if (current !== undefined) {
        throw conflict(
          `deployment ${deployment} is already rolling out v${current.state.canary.version} (${current.state.phase}); promote or abort it first`,
        );
      }
      if (stable.model === canary.model && stable.version === canary.version)
        throw invalid(`v${canary.version} is already the stable version of ${deployment}`);
      const now = this.clock.now();
      const kind = kindOf(strategy);
      const id = `${deployment}-${(this.nextId++).toString(36)}`;
      const state = withConditions(kind.start({ id, deployment }, stable, canary, strategy, now), now);
      const entry = { state, strategy };
      this.running.set(deployment, entry);
      await this.store.save(state, strategy);
      await this.record(state, [{ reason: RolloutReason.RolloutStarted, message: state.message }], strategy);
      // Nothing has been served yet: a first analysis (blue-green's preview) starts from zero.
      await this.step(entry, (s) =>
        kind.next(s, strategy, now, () => ({ stable: NOTHING_SERVED, canary: NOTHING_SERVED })),
      );
      return (this.running.get(deployment) ?? entry).state;
    });
  }

  /** Advances every active rollout (called on a timer with the injected clock). */
  tick(): Promise<void> {
    return this.serialized(async () => {
      for (const entry of [...this.running.values()]) {
        const now = this.clock.now();
        // Measuring reads the store: only when the analysis is due.
        const s = entry.strategy;
        const kind = kindOf(s);
        const measured = kind.due(entry.state, s, now) ? await this.measurements(entry.state) : null;
        await this.step(entry, (state) => kind.next(state, s, now, () => measured ?? assertNoMeasure()));
      }
    });
  }

  act(deployment: string, action: ManualAction): Promise<RolloutState> {
    return this.serialized(async () => {
      const entry = this.running.get(deployment);
      if (entry === undefined) throw notFound(`deployment ${deployment} has no rollout in progress`);
      const result = kindOf(entry.strategy).act(entry.state, action, entry.strategy, this.clock.now());
      if (typeof result === "string")
        throw conflict(`cannot ${action} the rollout of ${deployment}: ${result}`);
      await this.step(entry, () => result);
      return result.state;
    });
  }

  /** The rollout in progress, else the latest one. */
  async status(deployment: string): Promise<StoredRollout | null> {
    return this.running.get(deployment) ?? (await this.store.history(deployment, 1))[0] ?? null;
  }

  /** The feedback events and monitors the running rollout's gates read. */
  needs(deployment: string): RolloutNeeds {
    const strategy = this.running.get(deployment)?.strategy;
    return strategy === undefined
      ? { events: [], monitors: [], labels: null }
      : kindOf(strategy).needs(strategy);
  }

  isRolling(deployment: string): boolean {
    return this.running.has(deployment);
  }

  /** Runs after every action queued before it (and, with replicas, under their shared lock). */
  serialized<T>(work: () => Promise<T>): Promise<T> {
    const shared = this.shared;
    if (shared === undefined) return this.queue.run(work);
    return this.queue.run(() =>
      shared(async () => {
        await this.reload();
        return work();
      }),
    );
  }

  /** Reads the running rollouts again (a replica that does not step them keeps its view current). */
  refresh(): Promise<void> {
    return this.serialized(async () => {});
  }

  private async reload(): Promise<void> {
    this.running.clear();
    for (const r of await this.store.active()) this.running.set(r.state.deployment, r);
  }

  private async step(entry: StoredRollout, next: (s: RolloutState) => Transition): Promise<void> {
    const transition = next(entry.state);
    if (transition.state === entry.state && transition.notes.length === 0) return;
    const state = withConditions(transition.state, this.clock.now());
    // The state first: if the process dies before the actions, resume() applies the weights.
    await this.store.save(state, entry.strategy);
    const updated = { state, strategy: entry.strategy };
    const kind = kindOf(entry.strategy);
    if (isFinished(state)) this.running.delete(state.deployment);
    else this.running.set(state.deployment, updated);
    for (const action of transition.actions) {
      switch (action.type) {
        case "setWeight":
          await this.targets.split(
            state.deployment,
            state.stable,
            state.canary,
            action.weight,
            kind.previewHeader(entry.strategy),
          );
          break;
        case "promote":
          await this.targets.promote(state.deployment, state.canary, kind.promoteAlias(entry.strategy));
          break;
        case "rollback":
          await this.targets.rollback(state.deployment, state.stable, state.canary, action.reason);
          break;
      }
    }
    await this.record(state, transition.notes, entry.strategy);
  }

  private async record(
    state: RolloutState,
    notes: Transition["notes"],
    strategy: RolloutStrategy,
  ): Promise<void> {
    for (const note of notes) {
      await this.events.record({
        kind: "Deployment",
        name: state.deployment,
        type: note.warning === true ? "Warning" : "Normal",
        reason: note.reason,
        message: note.message,
        // A tick may walk several steps: each event carries the step and weight it describes.
        details: {
          rollout: state.id,
          ...(note.at ?? { step: state.step, weight: state.weight, phase: state.phase }),
          ...note.details,
        },
      });
    }
    this.listener(state, notes, strategy);
  }

  private async measurements(
    state: RolloutState,
  ): Promise<{ stable: VariantMeasurement; canary: VariantMeasurement }> {
    const [stable, canary] = await Promise.all([
      this.source.measure(state.deployment, STABLE, state.startedAt),
      this.source.measure(state.deployment, CANARY, state.startedAt),
    ]);
    return { stable, canary };
  }
}

const NOTHING_SERVED: VariantMeasurement = {
  requests: 0,
  errors: 0,
  latencyMs: { p50: null, p99: null },
  exposures: 0,
  events: {},
  driftShare: {},
};

function assertNoMeasure(): never {
  throw new Error("measured when no analysis was due");
}
