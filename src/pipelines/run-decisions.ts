/**
 * What a run does next, decided from its steps' states alone: which steps start, which time
 * out, which are skipped because something upstream failed, when the run is over and why; and
 * after a failed attempt, whether to retry and when. Pure: the controller does what it says.
 * Delays are deterministic (no jitter): the same failures at the same clock give the same plan.
 */
import type { RetryPolicy } from "./pipeline-spec.js";
import type { StepRun, StepState } from "./run-store.js";

export type RunAction =
  | { readonly type: "start"; readonly step: string; readonly attempt: number }
  | { readonly type: "timeout"; readonly step: string; readonly attempt: number }
  | { readonly type: "skip"; readonly step: string; readonly reason: string }
  | { readonly type: "finish"; readonly state: "Succeeded" | "Failed"; readonly reason?: string };

export interface PlannedStep {
  readonly name: string;
  readonly upstream: readonly string[];
}

const DONE: ReadonlySet<StepState> = new Set(["Succeeded", "Cached"]);
const BROKEN: ReadonlySet<StepState> = new Set(["Failed", "Skipped", "Cancelled"]);

/** The actions for a run now; `plan` is in run order (upstream first). */
export function nextActions(
  plan: readonly PlannedStep[],
  steps: readonly StepRun[],
  now: number,
): RunAction[] {
  const byName = new Map(steps.map((s) => [s.step, s]));
  const state = new Map(steps.map((s) => [s.step, s.state]));
  const actions: RunAction[] = [];
  for (const { name, upstream } of plan) {
    const step = byName.get(name);
    if (step === undefined) continue;
    if (step.state === "Running") {
      if (step.deadlineAt !== undefined && step.deadlineAt <= now)
        actions.push({ type: "timeout", step: name, attempt: step.attempt });
      continue;
    }
    if (step.state !== "Pending") continue;
    const broken = upstream.find((u) => BROKEN.has(state.get(u) ?? "Pending"));
    if (broken !== undefined) {
      const reason = `not run: upstream step ${broken} ${(state.get(broken) as StepState).toLowerCase()}`;
      actions.push({ type: "skip", step: name, reason });
      state.set(name, "Skipped");
      continue;
    }
    const ready = upstream.every((u) => DONE.has(state.get(u) ?? "Pending"));
    if (ready && (step.notBefore === undefined || step.notBefore <= now))
      actions.push({ type: "start", step: name, attempt: step.attempt + 1 });
  }
  const open = [...state.values()].some((s) => s === "Pending" || s === "Running");
  if (!open) {
    const failed = plan.map((p) => byName.get(p.name)).find((s) => s !== undefined && s.state === "Failed");
    const cancelled = plan
      .map((p) => byName.get(p.name))
      .find((s) => s !== undefined && s.state === "Cancelled");
    if (failed !== undefined)
      actions.push({ type: "finish", state: "Failed", reason: failureReason(failed) });
    else if (cancelled !== undefined)
      actions.push({ type: "finish", state: "Failed", reason: `step ${cancelled.step} was cancelled` });
    else actions.push({ type: "finish", state: "Succeeded" });
  }
  return actions;
}

function failureReason(step: StepRun): string {
  const attempts = step.attempt > 1 ? ` after ${step.attempt} attempts` : "";
  return `step ${step.step} failed${attempts}: ${step.error ?? "no reason given"}`;
}

/** The wait before retry number `retry` (1 for the first): backoff doubled each time, capped. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const exponent = Math.max(0, retry - 1);
  // 2^exponent overflows to Infinity long after the cap; Math.min keeps the cap.
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** exponent);
}

export type AfterFailure =
  | { readonly state: "Pending"; readonly notBefore: number; readonly delayMs: number }
  | { readonly state: "Failed" };

/** After attempt `attempt` (1-based) failed: retry after the backoff, or give up. */
export function afterFailedAttempt(policy: RetryPolicy, attempt: number, now: number): AfterFailure {
  if (attempt > policy.limit) return { state: "Failed" };
  const delayMs = backoffDelay(policy, attempt);
  return { state: "Pending", notBefore: now + delayMs, delayMs };
}

/**
 * Restarts a step survives (its attempt was running when the server stopped) before the run
 * gives up on it: a step that kills its server every time must not restart it forever.
 */
export const MAX_INTERRUPTIONS = 3;

/** A step that was Running when the server stopped: run it again, or fail it. */
export function afterInterruption(attempt: number, policy: RetryPolicy): "retry" | "fail" {
  return attempt > policy.limit + 1 + MAX_INTERRUPTIONS ? "fail" : "retry";
}
