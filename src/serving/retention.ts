/** Deletes prediction-log rows and feedback past the retention period, off the request path. */
import type { Clock } from "../domain/clock.js";
import type { PredictionStore } from "./prediction-store.js";

export const RETENTION_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly predictions: PredictionStore,
    private readonly clock: Clock,
    private readonly retentionMs: number,
    /** With replicas: sweeps run only on the one holding the retention lease. */
    private readonly leased: (work: () => Promise<unknown>) => Promise<unknown> = (work) => work(),
  ) {}

  /** One sweep; returns what it deleted. Exposed so tests drive it with their own clock. */
  sweep(): Promise<{ predictions: number; feedback: number }> {
    return this.predictions.deleteOlderThan(this.clock.now() - this.retentionMs);
  }

  start(): void {
    const sweep = () => void this.leased(() => this.sweep()).catch(() => undefined);
    sweep();
    this.timer = setInterval(sweep, RETENTION_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
