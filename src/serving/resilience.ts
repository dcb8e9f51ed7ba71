/**
 * The effectful half of graceful degradation: the breaker state of each served variant, the
 * requests in flight per deployment, and which errors count as the model failing. The decisions
 * themselves are the pure functions of circuit-breaker.ts.
 */
import { isBallastError } from "../domain/errors.js";
import type { ModelFailure } from "../domain/model.js";
import {
  admit,
  settle,
  CLOSED,
  type Admission,
  type BreakerPhase,
  type BreakerPolicy,
  type BreakerState,
  type CallResult,
} from "./circuit-breaker.js";
import type { ServedVariant } from "./endpoints.js";

/** Why a fallback answered: the chosen variant's failure, or its circuit being open. */
export type FallbackReason = ModelFailure | "circuit_open";

/** Required rather than optional, so an observer wired by hand cannot drop them unnoticed. */
export interface ResilienceEvents {
  fallbackAnswered(deployment: string, reason: FallbackReason): void;
  requestShed(deployment: string): void;
  circuitChanged(deployment: string, variant: string, phase: BreakerPhase): void;
}

export const IGNORE_RESILIENCE_EVENTS: ResilienceEvents = {
  fallbackAnswered: () => {},
  requestShed: () => {},
  circuitChanged: () => {},
};

/**
 * How a failed call is classed, or null when the caller is to blame (a request the model
 * refused): a client's bad input must neither open a circuit for everyone nor be papered over
 * by a fallback.
 */
export function failureOf(error: unknown): ModelFailure | null {
  if (!isBallastError(error)) return "error";
  if (error.code === "invalid_argument" || error.code === "payload_too_large") return null;
  if (error.code === "timeout") return "timeout";
  if (error.details?.failure === "nan") return "nan";
  return "error";
}

/**
 * One breaker per (deployment, variant, version): a variant moved to a new version starts
 * closed rather than inheriting the old version's failures.
 */
export class Breakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(private readonly events: ResilienceEvents) {}

  admit(deployment: string, target: ServedVariant, policy: BreakerPolicy, now: number): Admission {
    const key = keyOf(deployment, target);
    const admission = admit(this.stateOf(key, deployment, target), policy, now);
    this.update(key, deployment, target, admission.state);
    return admission;
  }

  settle(
    deployment: string,
    target: ServedVariant,
    policy: BreakerPolicy,
    now: number,
    result: CallResult,
    probe: boolean,
  ): void {
    const key = keyOf(deployment, target);
    this.update(
      key,
      deployment,
      target,
      settle(this.stateOf(key, deployment, target), policy, now, result, probe),
    );
  }

  phase(deployment: string, target: ServedVariant): BreakerPhase {
    return this.states.get(keyOf(deployment, target))?.phase ?? "closed";
  }

  private stateOf(key: string, deployment: string, target: ServedVariant): BreakerState {
    const state = this.states.get(key);
    if (state !== undefined) return state;
    this.states.set(key, CLOSED);
    this.events.circuitChanged(deployment, target.variant.name, "closed");
    return CLOSED;
  }

  private update(key: string, deployment: string, target: ServedVariant, next: BreakerState): void {
    const before = this.states.get(key);
    if (before === next) return;
    this.states.set(key, next);
    if (before?.phase !== next.phase) this.events.circuitChanged(deployment, target.variant.name, next.phase);
  }
}

const keyOf = (deployment: string, target: ServedVariant): string =>
  `${deployment}\u0000${target.variant.name}\u0000${target.version.model}@${target.version.version}`;

/** Requests in flight per deployment, for load shedding. */
export class InFlight {
  private readonly counts = new Map<string, number>();

  /** Takes a slot, or returns false when `limit` are taken. */
  enter(deployment: string, limit: number): boolean {
    const count = this.counts.get(deployment) ?? 0;
    if (count >= limit) return false;
    this.counts.set(deployment, count + 1);
    return true;
  }

  leave(deployment: string): void {
    const count = (this.counts.get(deployment) ?? 1) - 1;
    if (count <= 0) this.counts.delete(deployment);
    else this.counts.set(deployment, count);
  }
}
