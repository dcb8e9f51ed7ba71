/**
 * Shadow traffic: a copy of a share of requests (the shadow variant's weight, in percent, drawn
 * by the plan) goes to each shadow variant after the live answer is on its way. The shadow's
 * answer is never returned; the taps hear of it (compared with the live one, logged under the
 * shadow's variant name with the same request id, so labels that arrive later score both).
 * Mirrors in flight are bounded; beyond the bound a mirror is skipped and the taps told.
 */

/** At most this many mirrored calls run at once (all deployments together). */
export const MAX_SHADOWS_IN_FLIGHT = 64;

export class Mirrors {
  private inFlight = 0;
  private readonly idleWaiters: Array<() => void> = [];

  /** Whether another mirror may start now. */
  admit(): boolean {
    if (this.inFlight >= MAX_SHADOWS_IN_FLIGHT) return false;
    this.inFlight++;
    return true;
  }

  settled(): void {
    this.inFlight--;
    if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves once no mirror is running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
