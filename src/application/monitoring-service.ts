/**
 * The monitors as one running service: drift and performance monitors built, their specs and
 * open windows restored from the store, checkpoints saved on a timer, time windows closed on a
 * tick, and (with replicas) each replica's share of a window saved while the holder of the
 * monitors lease judges the windows merged. The composition root only wires this in.
 */
import type { Clock } from "../domain/clock.js";
import type { AlertService } from "../alerts/alerting.js";
import { Monitors } from "../monitoring/monitors.js";
import {
  LOCAL_REPLICA,
  monitorAlertStates,
  savedMonitorAlerts,
  type MonitorStore,
} from "../monitoring/monitor-store.js";
import { SharedWindowEvaluator } from "../monitoring/shared-windows.js";
import { PerformanceMonitors, type PerformanceSource } from "../monitoring/performance-monitors.js";
import type { VersionSource as VersionReferences } from "../monitoring/log-drift.js";
import type { Metrics } from "../observability/metrics.js";
import type { LeaseKeeper } from "../store/leases.js";
import type { ReplicaHeartbeat } from "../store/replicas.js";
import type { ServedDeployment } from "../serving/served.js";
import { LEASE } from "./reconcilers.js";

/** How often time windows are closed and merged windows judged. */
const MONITOR_TICK_MS = 1000;
/** How often open monitor windows are saved: what a crash can lose at most. */
const CHECKPOINT_MS = 30_000;

export interface MonitoringParts {
  readonly store: MonitorStore;
  readonly log: PerformanceSource & {
    countSince(deployment: string, variant: string, at: number): Promise<number>;
  };
  readonly references: VersionReferences;
  readonly alerts: AlertService;
  readonly metrics: Metrics;
  readonly publicUrl: string | undefined;
  readonly leases: LeaseKeeper;
  readonly heartbeat: ReplicaHeartbeat;
  /** This replica's id; with `shareWindows`, its windows are saved under it. */
  readonly replica: string;
  /** Replicas on one database: each saves its share, the lease holder judges them merged. */
  readonly shareWindows: boolean;
  readonly served: () => readonly ServedDeployment[];
  readonly clock: Clock;
  readonly checkpointMs?: number;
}

export class MonitoringService {
  readonly monitors: Monitors;
  readonly performance: PerformanceMonitors;
  /** Judges merged windows on the lease holder (replicas only). */
  readonly evaluator: SharedWindowEvaluator | undefined;
  /** Whose windows this process saves: its replica id with replicas, else the one local node. */
  readonly savedAs: string;
  private sharing: Promise<void> | undefined;
  private shareAgain = false;
  private timers: NodeJS.Timeout[] = [];

  private constructor(private readonly parts: MonitoringParts) {
    const { alerts, metrics, publicUrl, leases, clock } = parts;
    this.savedAs = parts.shareWindows ? parts.replica : LOCAL_REPLICA;
    this.performance = new PerformanceMonitors(
      parts.log,
      parts.references,
      alerts,
      metrics,
      publicUrl,
      // They read the shared log: one evaluator, the lease holder, sees every replica's rows.
      () => leases.holds(LEASE.performance),
    );
    this.monitors = new Monitors(
      parts.references,
      alerts,
      metrics,
      publicUrl,
      {
        // Off the request path; a failed write is counted, and the window's numbers stay in memory.
        windowClosed: (window, sketch) =>
          void parts.store
            .saveWindow(window, sketch, clock.now())
            .catch(() => metrics.monitorPersistFailed()),
      },
      this.performance,
      // What closed here is written at once, so the evaluator does not wait for the next checkpoint.
      {
        shareWindows: parts.shareWindows,
        shareClosed: () => void this.saveShares().catch(() => metrics.monitorPersistFailed()),
      },
    );
    this.evaluator = parts.shareWindows
      ? new SharedWindowEvaluator({
          monitors: this.monitors,
          store: parts.store,
          references: parts.references,
          alive: async () => new Set((await parts.heartbeat.list()).filter((r) => r.alive).map((r) => r.id)),
          self: parts.replica,
          clock,
        })
      : undefined;
  }

  /** Builds the monitors from the store: specs, open windows (single node), alert states. */
  static async open(parts: MonitoringParts): Promise<MonitoringService> {
    const service = new MonitoringService(parts);
    await service.restore();
    return service;
  }

  private async restore(): Promise<void> {
    const { store, log, alerts } = this.parts;
    const specs = await store.listAll();
    for (const spec of specs) this.monitors.put(spec);
    // Open windows resume where the last checkpoint left them; requests served after it are
    // counted. With replicas a new process is a new replica: what its predecessor saved is a
    // dead replica's share, merged by the evaluator as it was last saved, not resumed here.
    const deploymentOf = new Map(specs.map((s) => [s.name, s.deployment]));
    for (const c of this.parts.shareWindows ? [] : await store.checkpoints(this.savedAs)) {
      const deployment = deploymentOf.get(c.monitor);
      if (deployment === undefined) continue;
      this.monitors.restore(c, await log.countSince(deployment, c.variant, c.takenAt));
    }
    alerts.restore(monitorAlertStates(await store.alertStates(), specs));
  }

  /** Points a deployment's monitors at the versions it serves now. */
  prepare(deployment: string): void {
    const served = this.parts.served().find((d) => d.deployment.name === deployment);
    if (served === undefined) return;
    this.monitors.prepare(
      deployment,
      served.variants.map((v) => ({
        variant: v.variant.name,
        model: v.version.model,
        version: v.version.version,
      })),
    );
  }

  /** Saves this replica's open windows; one write at a time, a request meanwhile folded into one more. */
  saveShares(): Promise<void> {
    if (this.sharing !== undefined) {
      this.shareAgain = true;
      return this.sharing;
    }
    this.sharing = (async () => {
      try {
        do {
          this.shareAgain = false;
          const now = this.parts.clock.now();
          await this.parts.store.saveCheckpoints(this.monitors.checkpoints(now), now, this.savedAs);
        } while (this.shareAgain);
      } finally {
        this.sharing = undefined;
      }
    })();
    return this.sharing;
  }

  /** Open windows and the alert states this replica evaluates, saved. */
  async checkpoint(): Promise<void> {
    await this.saveShares();
    await this.parts.store.saveAlertStates(
      savedMonitorAlerts(this.parts.alerts.states()),
      this.parts.clock.now(),
      this.alertsKeptHere(),
    );
  }

  /** Judges merged windows if this replica holds the monitors lease; whether it did. */
  async evaluateShared(): Promise<boolean> {
    const evaluator = this.evaluator;
    if (evaluator === undefined) return false;
    return (await this.parts.leases.run(LEASE.monitors, () => evaluator.tick())).ran;
  }

  /** Takes (or not) the leases before the first tick, and starts the timers. */
  async start(): Promise<void> {
    const { leases, store, alerts, metrics, clock } = this.parts;
    // A replica taking a monitors lease over starts from the store: windows evaluated and alert
    // states saved by the last holder (so a firing alert is not fired again).
    leases.onChange((name, held) => {
      const kind = name === LEASE.monitors ? "drift" : name === LEASE.performance ? "performance" : undefined;
      if (kind === undefined || !held) return;
      if (kind === "drift") this.evaluator?.reset();
      void store
        .alertStates()
        .then((saved) =>
          alerts.restore(
            monitorAlertStates(saved, this.monitors.specs()).filter((s) => s.source.kind === kind),
          ),
        )
        .catch(() => metrics.monitorPersistFailed());
    });
    await leases.contend(LEASE.performance);
    await leases.contend(LEASE.monitors);
    // Time windows close on their own when traffic stops; merged ones are judged by one replica.
    const ticker = setInterval(() => {
      this.monitors.tick(clock.now());
      void this.evaluateShared().catch(() => metrics.monitorPersistFailed());
    }, MONITOR_TICK_MS);
    const checkpointer = setInterval(
      () => void this.checkpoint().catch(() => metrics.monitorPersistFailed()),
      this.parts.checkpointMs ?? CHECKPOINT_MS,
    );
    this.timers = [ticker, checkpointer];
    for (const t of this.timers) t.unref();
  }

  /** Stops the timers, saves what is open, stops the monitors. */
  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.evaluator?.idle();
    await this.checkpoint().catch(() => this.parts.metrics.monitorPersistFailed());
    this.monitors.close();
  }

  // Each kind's alert states are saved by the replica evaluating it (both, on one node).
  private alertsKeptHere(): string[] {
    return this.monitors
      .specs()
      .filter((s) => this.parts.leases.holds(s.type === "performance" ? LEASE.performance : LEASE.monitors))
      .map((s) => s.name);
  }
}
