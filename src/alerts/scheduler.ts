/**
 * Time for code that waits (retry backoff, attempt deadlines). Injected so tests drive it with a
 * fake and never sleep.
 */
import type { Clock } from "../domain/clock.js";

export interface TimerHandle {
  cancel(): void;
}

export interface Scheduler extends Clock {
  setTimeout(callback: () => void, ms: number): TimerHandle;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    // A pending retry must not keep the process alive on shutdown.
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
