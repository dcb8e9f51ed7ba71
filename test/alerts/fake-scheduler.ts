/** A scheduler whose time moves only when the test says so. */
import type { Scheduler, TimerHandle } from "../../src/alerts/scheduler.js";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class FakeScheduler implements Scheduler {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];
  /** Every delay asked for, in order, so tests can check backoff. */
  readonly delays: number[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + ms, seq: this.#seq++, callback, cancelled: false };
    this.delays.push(ms);
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  get pending(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  /** Moves time forward, running due timers in order, letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    while (true) {
      const due = this.#timers
        .filter((timer) => !timer.cancelled && timer.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((timer) => timer !== due);
      this.#now = due.at;
      due.callback();
      await settle();
    }
    this.#now = end;
  }
}

/** Lets every queued promise callback run (a turn of the event loop, not a timed wait). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
