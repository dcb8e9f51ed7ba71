/**
 * The life of one alert identity (monitor, deployment, feature, test), as a pure function of
 * (state, observation, rule): inactive → pending → firing → resolved, with the notifications to
 * send returned as actions. No clock, no I/O: the caller passes `at` and carries out the actions.
 *
 * Against flapping, two guards:
 * - Hysteresis by consecutive clear observations (`clearAfter`): a firing alert resolves only
 *   after that many non-breached observations in a row. Chosen over a `resolveBelow` fraction of
 *   the threshold because the monitor already decides `breached`, and "worse" is higher for
 *   distances (PSI, Wasserstein) but lower for p-values (KS, chi-square); counting clears works
 *   for both without knowing the direction.
 * - Cooldown (`cooldownMs`) after a resolve: a new breach goes to pending as usual but cannot fire
 *   before `resolvedAt + cooldownMs`.
 *
 * Defaults (`defaultAlertRule`) damp flapping, since a monitor may close a window every second
 * at high traffic: fire at the first breached window (a window already aggregates many rows),
 * resolve after 3 clear windows in a row, no new firing for 10 minutes after a resolve, and a
 * still-firing alert re-sent every 4 hours (Alertmanager's `repeat_interval`). So one identity
 * sends at most one firing and one resolve per 10 minutes however fast windows close, and an
 * alert that stays firing is not sent again per window.
 *
 * Pending is Prometheus' `for`: the breach must hold for `forMs` before the alert fires; one clear
 * observation while pending drops it back at once (nobody was told, so there is nothing to
 * smooth). Observations older than the last one seen are stale and change nothing.
 */
import { invalid } from "../domain/errors.js";

export type AlertPhase = "inactive" | "pending" | "firing" | "resolved";

export interface AlertRule {
  /** How long a breach must last before the alert fires (Prometheus' `for`); 0 fires at once. */
  readonly forMs: number;
  /** Consecutive non-breached observations needed to resolve a firing alert (≥ 1). */
  readonly clearAfter: number;
  /** After a resolve, no new firing before this much time has passed. */
  readonly cooldownMs: number;
  /**
   * While firing, re-send this often. Firing notifications say when the next re-send is due
   * (`renewBy`), which the Alertmanager notifier sends as `endsAt`, so Alertmanager keeps the
   * alert that long instead of ending it after its `resolve_timeout`.
   */
  readonly repeatIntervalMs: number;
}

export const defaultAlertRule: AlertRule = {
  forMs: 0,
  clearAfter: 3,
  cooldownMs: 10 * 60_000,
  repeatIntervalMs: 4 * 3_600_000,
};

export interface AlertObservation {
  readonly breached: boolean;
  readonly value: number;
  readonly threshold: number;
  /** Epoch milliseconds of the observation (the end of the window it was computed on). */
  readonly at: number;
}

export interface AlertState {
  readonly phase: AlertPhase;
  /** When the current phase began. */
  readonly since: number;
  /** When the current breach began (start of pending); undefined when not breaching. */
  readonly activeAt: number | undefined;
  /** When the alert last fired; the `startsAt` of its notifications. */
  readonly firedAt: number | undefined;
  /** When the last firing ended; the cooldown runs from here. */
  readonly resolvedAt: number | undefined;
  /** When a firing or repeat notification was last asked for. */
  readonly notifiedAt: number | undefined;
  /** Non-breached observations in a row while firing. */
  readonly clearStreak: number;
  readonly value: number;
  readonly threshold: number;
  readonly observedAt: number;
}

export type AlertActionType = "notify-firing" | "renotify" | "notify-resolved";

export interface AlertAction {
  readonly type: AlertActionType;
  /** When the alert began firing. */
  readonly startsAt: number;
  /** Set on `notify-resolved`: when it stopped. */
  readonly endsAt?: number;
  /** Set on `notify-firing` and `renotify`: by when the alert will be re-sent if still firing. */
  readonly renewBy?: number;
  readonly value: number;
  readonly threshold: number;
}

export interface AlertEvaluation {
  readonly state: AlertState;
  readonly actions: AlertAction[];
}

/** Builds a rule from partial input, with defaults, naming the field that is wrong. */
export function alertRule(input: Partial<AlertRule> = {}): AlertRule {
  const rule = { ...defaultAlertRule, ...input };
  nonNegative("forMs", rule.forMs);
  nonNegative("cooldownMs", rule.cooldownMs);
  if (!Number.isFinite(rule.repeatIntervalMs) || rule.repeatIntervalMs <= 0) {
    throw invalid(
      `repeatIntervalMs: must be a positive number of milliseconds, got ${rule.repeatIntervalMs}`,
      {
        field: "repeatIntervalMs",
      },
    );
  }
  if (!Number.isInteger(rule.clearAfter) || rule.clearAfter < 1) {
    throw invalid(`clearAfter: must be a whole number of observations ≥ 1, got ${rule.clearAfter}`, {
      field: "clearAfter",
    });
  }
  return rule;
}

function nonNegative(field: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw invalid(`${field}: must be a number of milliseconds ≥ 0, got ${value}`, { field });
  }
}

export function evaluate(
  previous: AlertState | undefined,
  observation: AlertObservation,
  rule: AlertRule,
): AlertEvaluation {
  const { at, breached, value, threshold } = observation;
  if (!Number.isFinite(at)) {
    throw invalid(`observation.at: must be epoch milliseconds, got ${at}`, { field: "at" });
  }
  if (previous !== undefined && at < previous.observedAt) return { state: previous, actions: [] };

  const state: AlertState = previous ?? {
    phase: "inactive",
    since: at,
    activeAt: undefined,
    firedAt: undefined,
    resolvedAt: undefined,
    notifiedAt: undefined,
    clearStreak: 0,
    value,
    threshold,
    observedAt: at,
  };
  const seen = { ...state, value, threshold, observedAt: at };

  switch (state.phase) {
    case "inactive":
    case "resolved": {
      if (!breached) return { state: seen, actions: [] };
      return fireIfDue({ ...seen, phase: "pending", since: at, activeAt: at }, rule, at);
    }
    case "pending": {
      if (!breached) {
        const resting = state.resolvedAt === undefined ? "inactive" : "resolved";
        return { state: { ...seen, phase: resting, since: at, activeAt: undefined }, actions: [] };
      }
      return fireIfDue(seen, rule, at);
    }
    case "firing": {
      const clearStreak = breached ? 0 : state.clearStreak + 1;
      const firedAt = state.firedAt ?? state.since;
      if (clearStreak >= rule.clearAfter) {
        return {
          state: {
            ...seen,
            phase: "resolved",
            since: at,
            activeAt: undefined,
            resolvedAt: at,
            clearStreak: 0,
          },
          actions: [{ type: "notify-resolved", startsAt: firedAt, endsAt: at, value, threshold }],
        };
      }
      const notifiedAt = state.notifiedAt ?? firedAt;
      if (at - notifiedAt >= rule.repeatIntervalMs) {
        return {
          state: { ...seen, clearStreak, notifiedAt: at },
          actions: [
            { type: "renotify", startsAt: firedAt, renewBy: at + rule.repeatIntervalMs, value, threshold },
          ],
        };
      }
      return { state: { ...seen, clearStreak }, actions: [] };
    }
  }
}

/** A pending state fires once the breach has lasted `forMs` and any cooldown has passed. */
function fireIfDue(pending: AlertState, rule: AlertRule, at: number): AlertEvaluation {
  const activeAt = pending.activeAt ?? at;
  const cooledAt = pending.resolvedAt === undefined ? -Infinity : pending.resolvedAt + rule.cooldownMs;
  if (at - activeAt < rule.forMs || at < cooledAt) return { state: pending, actions: [] };
  return {
    state: { ...pending, phase: "firing", since: at, firedAt: at, notifiedAt: at, clearStreak: 0 },
    actions: [
      {
        type: "notify-firing",
        startsAt: at,
        renewBy: at + rule.repeatIntervalMs,
        value: pending.value,
        threshold: pending.threshold,
      },
    ],
  };
}
