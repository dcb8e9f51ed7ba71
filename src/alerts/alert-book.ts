/**
 * The states of all alerts, one per identity, so that the same breach reported twice (by two
 * windows, or after a restart that replays observations) never notifies twice. Still free of
 * clocks and I/O: time arrives with each observation.
 */
import { invalid } from "../domain/errors.js";
import {
  evaluate,
  type AlertAction,
  type AlertObservation,
  type AlertRule,
  type AlertState,
} from "./lifecycle.js";

/**
 * A stable key for a set of labels: the same labels in any order give the same identity, and
 * different labels never collide (JSON quoting keeps `a=b,c` apart from `a=b` + `c`).
 */
export function alertIdentity(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) throw invalid("alert labels: at least one label is needed to identify an alert");
  return JSON.stringify(names.map((name) => [name, labels[name]]));
}

export interface IdentifiedAction extends AlertAction {
  readonly identity: string;
}

export class AlertBook {
  readonly #states = new Map<string, AlertState>();

  /** Feeds one observation to the identity's lifecycle; returns what to notify. */
  observe(identity: string, observation: AlertObservation, rule: AlertRule): IdentifiedAction[] {
    const { state, actions } = evaluate(this.#states.get(identity), observation, rule);
    this.#states.set(identity, state);
    return actions.map((action) => ({ ...action, identity }));
  }

  get(identity: string): AlertState | undefined {
    return this.#states.get(identity);
  }

  get size(): number {
    return this.#states.size;
  }

  entries(): IterableIterator<[string, AlertState]> {
    return this.#states.entries();
  }

  /** Each alert's identity, phase and since when, as status pages show them. */
  summary(): Array<{ identity: string; phase: AlertState["phase"]; since: number }> {
    return [...this.#states].map(([identity, state]) => ({
      identity,
      phase: state.phase,
      since: state.since,
    }));
  }

  /** Puts back states saved elsewhere (after a restart), so firing alerts are not fired again. */
  restore(identity: string, state: AlertState): void {
    this.#states.set(identity, state);
  }

  /**
   * Forgets identities that are at rest (inactive, or resolved with the cooldown over) and were
   * last observed before `olderThan`, so a book fed by changing features stays bounded.
   * Returns how many were forgotten.
   */
  prune(olderThan: number, rule: AlertRule): number {
    let forgotten = 0;
    for (const [identity, state] of this.#states) {
      const atRest =
        state.phase === "inactive" ||
        (state.phase === "resolved" && (state.resolvedAt ?? -Infinity) + rule.cooldownMs <= olderThan);
      if (atRest && state.observedAt < olderThan) {
        this.#states.delete(identity);
        forgotten += 1;
      }
    }
    return forgotten;
  }
}
