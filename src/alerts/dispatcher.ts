/**
 * Delivers notifications without ever making monitoring or serving wait. `dispatch` only
 * appends to a bounded queue per notifier and returns; each notifier drains its own queue, one
 * delivery at a time, so a slow or failing receiver delays nobody else, and a resolve never
 * overtakes the firing it ends. Each delivery is retried with exponential backoff and jitter; a
 * delivery that runs out of attempts, or that the receiver rejects outright, is recorded and
 * counted. A full queue drops the newest notification and counts it.
 */
import { BallastError, invalid, isBallastError } from "../domain/errors.js";
import type { AlertNotification, Notifier } from "./notifier.js";
import { systemScheduler, type Scheduler, type TimerHandle } from "./scheduler.js";

export interface DispatcherOptions {
  readonly notifiers: readonly Notifier[];
  readonly scheduler?: Scheduler;
  /** Uniform in [0, 1); injected so backoff jitter is reproducible in tests. */
  readonly random?: () => number;
  /** Notifications waiting per notifier (not counting the one being delivered). */
  readonly queueCapacity?: number;
  /** Attempts per delivery, the first included. */
  readonly maxAttempts?: number;
  /** Backoff before the 2nd attempt; doubles for each later one, up to maxDelayMs. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Deadline of one attempt; the notifier's signal aborts when it passes. */
  readonly attemptTimeoutMs?: number;
  /** How many final failures are kept for inspection. */
  readonly failureHistory?: number;
}

export interface DeliveryCounters {
  /** Deliveries the receiver accepted. */
  sent: number;
  /** Deliveries given up on (out of attempts, or rejected as not retryable). */
  failed: number;
  /** Retries scheduled (attempts after the first). */
  retried: number;
  /** Notifications not queued because the queue was full or the dispatcher closed. */
  dropped: number;
}

export interface NotifierStats extends DeliveryCounters {
  readonly kind: string;
  /** Waiting now, plus the one in delivery. */
  queued: number;
}

export interface DispatcherStats {
  readonly total: DeliveryCounters;
  readonly notifiers: Record<string, NotifierStats>;
}

export interface DeliveryFailure {
  readonly notifier: string;
  readonly kind: string;
  readonly identity: string;
  readonly status: AlertNotification["status"];
  readonly attempts: number;
  readonly reason: string;
  readonly at: number;
}

export const dispatcherDefaults = {
  queueCapacity: 1000,
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  attemptTimeoutMs: 10_000,
  failureHistory: 100,
} as const;

interface Lane {
  readonly notifier: Notifier;
  readonly queue: AlertNotification[];
  readonly stats: NotifierStats;
  /** The delivery in progress (attempting or waiting to retry). */
  current: { notification: AlertNotification; attempts: number } | undefined;
  /** The wait before the next retry. */
  timer: TimerHandle | undefined;
  /** The deadline of the attempt in progress. */
  deadline: TimerHandle | undefined;
  controller: AbortController | undefined;
}

export class Dispatcher {
  readonly #lanes = new Map<string, Lane>();
  readonly #scheduler: Scheduler;
  readonly #random: () => number;
  readonly #options: Required<Omit<DispatcherOptions, "notifiers" | "scheduler" | "random">>;
  readonly #failures: DeliveryFailure[] = [];
  readonly #idleWaiters: Array<() => void> = [];
  #closed = false;

  constructor(options: DispatcherOptions) {
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#random = options.random ?? Math.random;
    this.#options = {
      queueCapacity: count("queueCapacity", options.queueCapacity ?? dispatcherDefaults.queueCapacity, 1),
      maxAttempts: count("maxAttempts", options.maxAttempts ?? dispatcherDefaults.maxAttempts, 1),
      baseDelayMs: count("baseDelayMs", options.baseDelayMs ?? dispatcherDefaults.baseDelayMs, 0),
      maxDelayMs: count("maxDelayMs", options.maxDelayMs ?? dispatcherDefaults.maxDelayMs, 0),
      attemptTimeoutMs: count(
        "attemptTimeoutMs",
        options.attemptTimeoutMs ?? dispatcherDefaults.attemptTimeoutMs,
        1,
      ),
      failureHistory: count("failureHistory", options.failureHistory ?? dispatcherDefaults.failureHistory, 0),
    };
    for (const notifier of options.notifiers) {
      if (this.#lanes.has(notifier.name)) {
        throw invalid(`notifiers: two notifiers are named "${notifier.name}"; names must be unique`);
      }
      this.#lanes.set(notifier.name, {
        notifier,
        queue: [],
        stats: { kind: notifier.kind, sent: 0, failed: 0, retried: 0, dropped: 0, queued: 0 },
        current: undefined,
        timer: undefined,
        deadline: undefined,
        controller: undefined,
      });
    }
  }

  get notifierNames(): string[] {
    return [...this.#lanes.keys()];
  }

  /**
   * Queues the notification for the named notifiers (all of them when `to` is omitted) and
   * returns at once. Throws only for a name no notifier has, which is a configuration mistake.
   */
  dispatch(notification: AlertNotification, to?: readonly string[]): void {
    const lanes = (to ?? this.notifierNames).map((name) => {
      const lane = this.#lanes.get(name);
      if (!lane) {
        throw invalid(`no notifier is named "${name}"; known: ${this.notifierNames.join(", ") || "none"}`, {
          notifier: name,
        });
      }
      return lane;
    });
    for (const lane of lanes) {
      if (this.#closed || lane.queue.length >= this.#options.queueCapacity) {
        lane.stats.dropped += 1;
        continue;
      }
      lane.queue.push(notification);
      lane.stats.queued += 1;
      this.#pump(lane);
    }
  }

  stats(): DispatcherStats {
    const total: DeliveryCounters = { sent: 0, failed: 0, retried: 0, dropped: 0 };
    const notifiers: Record<string, NotifierStats> = {};
    for (const [name, { stats }] of this.#lanes) {
      notifiers[name] = { ...stats };
      total.sent += stats.sent;
      total.failed += stats.failed;
      total.retried += stats.retried;
      total.dropped += stats.dropped;
    }
    return { total, notifiers };
  }

  /** The most recent final failures, oldest first. */
  failures(): DeliveryFailure[] {
    return [...this.#failures];
  }

  /** Resolves once every queue is empty and no delivery is in progress (for shutdown and tests). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops delivering: aborts attempts in progress, cancels waiting retries and drops what is
   * still queued (counted as dropped). Later dispatches are dropped too.
   */
  close(): void {
    this.#closed = true;
    for (const lane of this.#lanes.values()) {
      const abandoned = lane.queue.length + (lane.current ? 1 : 0);
      lane.stats.dropped += abandoned;
      lane.stats.queued = 0;
      lane.queue.length = 0;
      lane.current = undefined;
      lane.timer?.cancel();
      lane.timer = undefined;
      lane.deadline?.cancel();
      lane.deadline = undefined;
      lane.controller?.abort(new BallastError("unavailable", "the alert dispatcher was closed"));
      lane.controller = undefined;
    }
    this.#notifyIdle();
  }

  #pump(lane: Lane): void {
    if (lane.current || this.#closed) return;
    const next = lane.queue.shift();
    if (!next) {
      this.#notifyIdle();
      return;
    }
    lane.current = { notification: next, attempts: 0 };
    this.#attempt(lane);
  }

  #attempt(lane: Lane): void {
    const delivery = lane.current;
    if (!delivery) return;
    delivery.attempts += 1;
    const controller = new AbortController();
    lane.controller = controller;
    let settled = false;
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      deadline.cancel();
      if (lane.deadline === deadline) lane.deadline = undefined;
      // close() may have abandoned this delivery meanwhile.
      if (lane.current !== delivery) return;
      lane.controller = undefined;
      if (error === undefined) this.#succeeded(lane);
      else this.#attemptFailed(lane, error);
    };
    const timeoutMs = this.#options.attemptTimeoutMs;
    const deadline = this.#scheduler.setTimeout(() => {
      const error = new BallastError(
        "timeout",
        `${lane.notifier.kind} ${lane.notifier.name}: no answer within ${timeoutMs} ms`,
      );
      controller.abort(error);
      // The attempt ends here even if the notifier ignores its signal.
      finish(error);
    }, timeoutMs);
    lane.deadline = deadline;
    let sending: Promise<void>;
    try {
      sending = lane.notifier.send(delivery.notification, controller.signal);
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(
      () => finish(undefined),
      (error: unknown) => finish(error ?? new Error("the notifier failed without a reason")),
    );
  }

  #succeeded(lane: Lane): void {
    lane.stats.sent += 1;
    this.#release(lane);
  }

  #attemptFailed(lane: Lane, error: unknown): void {
    const delivery = lane.current;
    if (!delivery) return;
    if (delivery.attempts < this.#options.maxAttempts && retryable(error)) {
      lane.stats.retried += 1;
      lane.timer = this.#scheduler.setTimeout(() => {
        lane.timer = undefined;
        this.#attempt(lane);
      }, this.backoffMs(delivery.attempts));
      return;
    }
    lane.stats.failed += 1;
    this.#record({
      notifier: lane.notifier.name,
      kind: lane.notifier.kind,
      identity: delivery.notification.identity,
      status: delivery.notification.status,
      attempts: delivery.attempts,
      reason: error instanceof Error ? error.message : String(error),
      at: this.#scheduler.now(),
    });
    this.#release(lane);
  }

  #release(lane: Lane): void {
    lane.current = undefined;
    lane.stats.queued = Math.max(0, lane.stats.queued - 1);
    this.#pump(lane);
  }

  /**
   * The wait after the given failed attempt: `base * 2^(attempt-1)`, capped at maxDelayMs, then
   * "equal jitter" (half fixed, half random) so receivers that come back are not hit by every
   * sender at once, while the wait never shrinks below half the nominal one.
   */
  backoffMs(failedAttempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#options;
    const nominal = Math.min(maxDelayMs, baseDelayMs * 2 ** (failedAttempt - 1));
    return nominal / 2 + (nominal / 2) * this.#random();
  }

  #record(failure: DeliveryFailure): void {
    if (this.#options.failureHistory === 0) return;
    this.#failures.push(failure);
    if (this.#failures.length > this.#options.failureHistory) this.#failures.shift();
  }

  #isIdle(): boolean {
    for (const lane of this.#lanes.values()) {
      if (lane.current || lane.queue.length > 0) return false;
    }
    return true;
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

/** Errors the receiver marked as permanent (`details.retryable === false`) are not retried. */
function retryable(error: unknown): boolean {
  return !(isBallastError(error) && error.details?.retryable === false);
}

function count(field: string, value: number, minimum: number): number {
  if (!Number.isFinite(value) || value < minimum) {
    throw invalid(`${field}: must be a number ≥ ${minimum}, got ${value}`, { field });
  }
  return value;
}
