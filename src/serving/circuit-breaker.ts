/**
 * A circuit breaker as a pure state machine: every transition takes the state, the policy and
 * `now`, and returns the next state, so tests drive it without timers.
 *
 * Policy: `failures` *consecutive* model failures open the circuit. Consecutive rather than a
 * failure rate over a window, because a rate needs a sliding window per variant on the request
 * path and a minimum-traffic rule to mean anything; a run of failures is cheap to count and is
 * exactly the pattern of a model that hangs or crashes. After `openMs` the circuit half-opens
 * and lets `halfOpenProbes` requests through; it closes once all of them succeed and opens
 * again (for another `openMs`) on the first probe that fails.
 */

export interface BreakerPolicy {
  /** Consecutive failures that open the circuit. */
  readonly failures: number;
  /** How long the circuit stays open before probing, in milliseconds. */
  readonly openMs: number;
  /** Requests let through while half-open; all must succeed to close the circuit. */
  readonly halfOpenProbes: number;
}

export type BreakerState =
  | { readonly phase: "closed"; readonly failures: number }
  | { readonly phase: "open"; readonly since: number }
  | { readonly phase: "half-open"; readonly probing: number; readonly passed: number };

export type BreakerPhase = BreakerState["phase"];

export const CLOSED: BreakerState = { phase: "closed", failures: 0 };

export type Admission =
  | { readonly admitted: true; readonly probe: boolean; readonly state: BreakerState }
  | { readonly admitted: false; readonly retryAfterMs: number; readonly state: BreakerState };

/** How a call admitted by the breaker ended; `ignored` is the caller's own fault (a bad request). */
export type CallResult = "success" | "failure" | "ignored";

/** Whether a call may go to the model now. */
export function admit(state: BreakerState, policy: BreakerPolicy, now: number): Admission {
  switch (state.phase) {
    case "closed":
      return { admitted: true, probe: false, state };
    case "open": {
      const reopensAt = state.since + policy.openMs;
      if (now < reopensAt) return { admitted: false, retryAfterMs: reopensAt - now, state };
      return { admitted: true, probe: true, state: { phase: "half-open", probing: 1, passed: 0 } };
    }
    case "half-open":
      if (state.probing + state.passed < policy.halfOpenProbes) {
        return { admitted: true, probe: true, state: { ...state, probing: state.probing + 1 } };
      }
      // Probes are out; the earliest news is when one of them settles. A second is the
      // smallest Retry-After a client can act on.
      return { admitted: false, retryAfterMs: 1000, state };
  }
}

/**
 * The state after an admitted call ended. Results of calls admitted before the circuit opened
 * (`probe` false) that end while it is open or half-open change nothing: only probes decide.
 */
export function settle(
  state: BreakerState,
  policy: BreakerPolicy,
  now: number,
  result: CallResult,
  probe: boolean,
): BreakerState {
  switch (state.phase) {
    case "closed":
      if (probe || result === "ignored") return state;
      if (result === "success") return state.failures === 0 ? state : CLOSED;
      return state.failures + 1 >= policy.failures
        ? { phase: "open", since: now }
        : { phase: "closed", failures: state.failures + 1 };
    case "open":
      return state;
    case "half-open": {
      if (!probe) return state;
      const probing = state.probing - 1;
      if (result === "failure") return { phase: "open", since: now };
      if (result === "ignored") return { ...state, probing };
      const passed = state.passed + 1;
      return passed >= policy.halfOpenProbes ? CLOSED : { phase: "half-open", probing, passed };
    }
  }
}
