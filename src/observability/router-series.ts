/**
 * The regime routers' series, read from the router service's snapshot at scrape time so the
 * request path never touches them: live weights and regime probabilities per regime, losses per
 * regime and model, outcomes counted, specialists' failures by reason.
 */
import { Counter, Gauge, type Registry } from "prom-client";

/** One router's numbers as the router service reports them (application/routers.ts). */
export interface RouterSeriesSnapshot {
  readonly router: string;
  readonly regimes: readonly string[];
  readonly specialists: readonly string[];
  /** weights[regime][specialist]. */
  readonly weights: readonly (readonly number[])[];
  /** The bound instrument's live regime probabilities; null before any bar. */
  readonly probabilities: readonly number[] | null;
  readonly failures: ReadonlyArray<{ specialist: string; reason: string; n: number }>;
  /** performance[regime]: per model n and mean losses. */
  readonly performance: ReadonlyArray<
    ReadonlyArray<{ model: string; n: number; qlike: number | null; mse: number | null }>
  >;
  /** Answers the router log dropped because its queue was full (one log for every router). */
  readonly logDropped: number;
}

export function registerRouterSeries(
  registry: Registry,
  snapshot: () => readonly RouterSeriesSnapshot[],
): void {
  new Gauge({
    name: "ballast_router_weight",
    help: "A specialist's live weight in a regime of a router (declared, then learned or taken over).",
    labelNames: ["router", "regime", "specialist"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of snapshot())
        r.regimes.forEach((regime, k) =>
          r.specialists.forEach((specialist, i) =>
            this.set({ router: r.router, regime, specialist }, r.weights[k]?.[i] ?? 0),
          ),
        );
    },
  });
  new Gauge({
    name: "ballast_router_regime",
    help: "The probability of each regime for a router's instrument, from its live filter.",
    labelNames: ["router", "regime"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of snapshot())
        if (r.probabilities !== null)
          r.regimes.forEach((regime, k) => this.set({ router: r.router, regime }, r.probabilities?.[k] ?? 0));
    },
  });
  new Gauge({
    name: "ballast_router_loss",
    help: "Mean loss (qlike, mse) per regime and model (a specialist or `router`) over the recent outcomes.",
    labelNames: ["router", "regime", "model", "loss"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of snapshot())
        r.regimes.forEach((regime, k) =>
          (r.performance[k] ?? []).forEach((p) => {
            if (p.qlike !== null)
              this.set({ router: r.router, regime, model: p.model, loss: "qlike" }, p.qlike);
            if (p.mse !== null) this.set({ router: r.router, regime, model: p.model, loss: "mse" }, p.mse);
          }),
        );
    },
  });
  new Gauge({
    name: "ballast_router_outcomes",
    help: "Outcomes joined per regime and model over the recent window the losses are computed on.",
    labelNames: ["router", "regime", "model"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of snapshot())
        r.regimes.forEach((regime, k) =>
          (r.performance[k] ?? []).forEach((p) =>
            this.set({ router: r.router, regime, model: p.model }, p.n),
          ),
        );
    },
  });
  new Counter({
    name: "ballast_router_specialist_failures_total",
    help: "Specialist answers a router renormalised away, by reason (error, timeout, nonsense).",
    labelNames: ["router", "specialist", "reason"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of snapshot())
        for (const f of r.failures)
          this.inc({ router: r.router, specialist: f.specialist, reason: f.reason }, f.n);
    },
  });
  new Counter({
    name: "ballast_router_log_dropped_total",
    help: "Router answers not logged (so never joined with an outcome) because the log's queue was full.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot()[0]?.logDropped ?? 0);
    },
  });
}
