/**
 * The reconcilers that must run on one replica at a time, each under its lease: rollouts (their
 * steps and analyses), the watched source, retention, performance monitors, the evaluation of
 * drift monitors' windows merged from every replica's share, and pipeline runs. Every replica
 * serves; the one holding a lease also reconciles, and another takes over within the lease's
 * expiry when it dies. A replica without the rollouts lease follows the rollouts in the store.
 */
import type { LeaseKeeper } from "../store/leases.js";
import type { Rollouts } from "../rollout/rollouts.js";

export const LEASE = {
  rollouts: "rollouts",
  sourceSync: "source-sync",
  retention: "retention",
  performance: "performance-monitors",
  /** Drift monitors' time windows, merged from every replica's share and judged once. */
  monitors: "monitors",
  pipelines: "pipelines",
  /** Routers' outcome join: losses, learned weights and champions counted once. */
  routers: "routers",
} as const;

export type LeaseName = (typeof LEASE)[keyof typeof LEASE];

/** Work that runs only on the holder of `name`; elsewhere it is skipped. */
export function leased(leases: LeaseKeeper, name: LeaseName) {
  return async (work: () => Promise<unknown>): Promise<void> => {
    await leases.run(name, work);
  };
}

/** One rollout tick: step them on the holder, follow them from the store elsewhere. */
export function rolloutTick(leases: LeaseKeeper, rollouts: Rollouts): () => Promise<void> {
  return async () => {
    const stepped = await leases.run(LEASE.rollouts, () => rollouts.tick());
    if (!stepped.ran) await rollouts.follow();
  };
}

/**
 * At start: the holder puts interrupted rollouts' deployments where their state says (and
 * records that it resumed them); the others only read them.
 */
export async function resumeRollouts(leases: LeaseKeeper, rollouts: Rollouts): Promise<void> {
  if (await leases.contend(LEASE.rollouts)) await rollouts.resume();
  else await rollouts.follow();
}

/** One pipelines tick, on the holder of the pipelines lease only (the others serve reads). */
export function pipelineTick(leases: LeaseKeeper, pipelines: { tick(): Promise<void> }): () => Promise<void> {
  return async () => {
    await leases.run(LEASE.pipelines, () => pipelines.tick());
  };
}
