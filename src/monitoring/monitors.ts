/**
 * Live drift monitoring: each monitor keeps, per variant of its deployment, a window of sketches
 * against the reference profile of the version that variant serves. Rows go in on the request
 * path (a bin search and a sketch update per feature, a few hundred nanoseconds a row); drift is
 * evaluated when a window closes; alerts go through the lifecycle and out through the
 * dispatcher, which never blocks. Nothing here can fail a request: errors are counted.
 */
import { AlertBook, alertIdentity } from "../alerts/alert-book.js";
import { Dispatcher } from "../alerts/dispatcher.js";
import { notificationFor } from "../alerts/notification.js";
import { createNotifier } from "../alerts/notifiers/index.js";
import type { AlertPhase } from "../alerts/lifecycle.js";
import { notFound } from "../domain/errors.js";
import type { ReferenceProfile } from "./profile/reference-profile.js";
import { WindowSketch, type WindowSketchJSON } from "./sketches/feature-window.js";
import { Windower, type WindowerCheckpoint } from "./windows.js";
import { evaluateDrift, type DriftResult } from "./drift.js";
import type { MonitorSpec } from "./monitor-spec.js";

export interface ReferenceSource {
  getReference(model: string, version: number): Promise<ReferenceProfile | null>;
}

export interface MonitorObservation {
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly rows: readonly Record<string, unknown>[];
  /** Epoch ms of the prediction. */
  readonly at: number;
}

export interface EvaluatedWindow {
  readonly monitor: string;
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  /** null when the window had fewer rows than the monitor's minSamples. */
  readonly drift: DriftResult | null;
}

/** An open window as saved, so a restart resumes it. */
export interface MonitorCheckpoint {
  readonly monitor: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly state: WindowerCheckpoint<WindowSketchJSON>;
}

/** Where closed windows go (the store); called off the decision, errors are the caller's to count. */
export interface WindowSink {
  windowClosed(window: EvaluatedWindow, sketch: WindowSketchJSON): void;
}

/** What the metrics layer is told; one method per event, so monitoring knows nothing of Prometheus. */
export interface MonitorObserver {
  windowEvaluated(window: EvaluatedWindow): void;
  alertChanged(monitor: string, identity: string, phase: AlertPhase): void;
}

interface VariantWatch {
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  profile: ReferenceProfile | null;
  /** Why this variant is not being watched (no reference yet, or none registered). */
  problem: string | null;
  windower: Windower<WindowSketch> | null;
  latest: EvaluatedWindow | null;
}

interface ActiveMonitor {
  readonly spec: MonitorSpec;
  readonly dispatcher: Dispatcher;
  readonly book: AlertBook;
  readonly variants: Map<string, VariantWatch>;
  loading: Promise<unknown>[];
  rowsObserved: number;
  rowsUnwatched: number;
  /** Requests logged after the last checkpoint before a restart: not in the resumed window. */
  requestsLostAtRestart: number;
  errors: number;
  lastError: string | null;
  /** Checkpoints to resume once each variant's reference has loaded. */
  pendingRestore: Map<string, MonitorCheckpoint>;
}

export interface MonitorStatus {
  readonly spec: MonitorSpec;
  readonly rowsObserved: number;
  /** Rows that arrived while no reference was loaded for their version (not sketched). */
  readonly rowsUnwatched: number;
  readonly requestsLostAtRestart: number;
  readonly errors: number;
  readonly lastError: string | null;
  readonly variants: Array<{
    variant: string;
    model: string;
    version: number;
    problem: string | null;
    openWindowRows: number;
    latest: EvaluatedWindow | null;
  }>;
  readonly alerts: Array<{ identity: string; phase: AlertPhase; since: number }>;
  readonly delivery: ReturnType<Dispatcher["stats"]>;
}

const silent: MonitorObserver = { windowEvaluated: () => {}, alertChanged: () => {} };

export class Monitors {
  private readonly active = new Map<string, ActiveMonitor>();
  /** deployment -> monitors watching it, so an unmonitored deployment costs one map lookup. */
  private readonly byDeployment = new Map<string, ActiveMonitor[]>();

  constructor(
    private readonly references: ReferenceSource,
    private readonly observer: MonitorObserver = silent,
    private readonly generatorUrl?: string,
    private readonly sink?: WindowSink,
  ) {}

  /** The open windows of every monitor, for a checkpoint. */
  checkpoints(): MonitorCheckpoint[] {
    return [...this.active.values()].flatMap((m) =>
      [...m.variants].flatMap(([variant, w]) =>
        w.windower === null
          ? []
          : [
              {
                monitor: m.spec.name,
                variant,
                model: w.model,
                version: w.version,
                state: w.windower.checkpoint((s) => s.toJSON()),
              },
            ],
      ),
    );
  }

  /**
   * Resumes an open window saved before a restart; `lost` requests were served after the
   * checkpoint and are not in it (counted, never silently dropped). Applied once the reference
   * has loaded; a checkpoint of another window spec is not applied (the window starts empty).
   */
  restore(checkpoint: MonitorCheckpoint, lost: number): void {
    const monitor = this.active.get(checkpoint.monitor);
    if (monitor === undefined) return;
    monitor.requestsLostAtRestart += lost;
    monitor.pendingRestore.set(checkpoint.variant, checkpoint);
    this.watchFor(monitor, checkpoint.variant, checkpoint.model, checkpoint.version);
  }

  /** Starts (or replaces) a monitor; its windows start empty. */
  put(spec: MonitorSpec): void {
    this.remove(spec.name);
    const monitor: ActiveMonitor = {
      spec,
      dispatcher: new Dispatcher({
        notifiers: spec.notifiers.map((n, i) => createNotifier(n, `notifiers[${i}]`)),
      }),
      book: new AlertBook(),
      variants: new Map(),
      loading: [],
      rowsObserved: 0,
      rowsUnwatched: 0,
      requestsLostAtRestart: 0,
      errors: 0,
      lastError: null,
      pendingRestore: new Map(),
    };
    this.active.set(spec.name, monitor);
    this.byDeployment.set(spec.deployment, [...(this.byDeployment.get(spec.deployment) ?? []), monitor]);
  }

  delete(name: string): void {
    if (!this.active.has(name)) throw notFound(`monitor '${name}' does not exist`);
    this.remove(name);
  }

  /**
   * Loads the references of what a deployment serves now, so its first rows are watched rather
   * than counted as unwatched while a reference loads. Call after a monitor or deployment changes.
   */
  prepare(
    deployment: string,
    variants: ReadonlyArray<{ variant: string; model: string; version: number }>,
  ): void {
    for (const monitor of this.byDeployment.get(deployment) ?? []) {
      for (const v of variants) this.watchFor(monitor, v.variant, v.model, v.version);
    }
  }

  watches(deployment: string): boolean {
    return this.byDeployment.has(deployment);
  }

  /** Request path: sketches the rows into every monitor of the deployment. Never throws. */
  observe(observation: MonitorObservation): void {
    const monitors = this.byDeployment.get(observation.deployment);
    if (monitors === undefined) return;
    for (const monitor of monitors) {
      try {
        this.observeOne(monitor, observation);
      } catch (error) {
        monitor.errors++;
        monitor.lastError = error instanceof Error ? error.message : String(error);
      }
    }
  }

  /** Closes time windows that have ended without new rows (called from a timer). */
  tick(now: number): void {
    for (const monitor of this.active.values()) {
      for (const [variant, watch] of monitor.variants) {
        watch.windower?.tick(now);
        this.evaluateClosed(monitor, variant, watch, now);
      }
    }
  }

  /** Resolves once the references requested so far have loaded (tests, start-up). */
  async settled(): Promise<void> {
    await Promise.all([...this.active.values()].flatMap((m) => m.loading));
    await Promise.all([...this.active.values()].map((m) => m.dispatcher.idle()));
  }

  list(): MonitorStatus[] {
    return [...this.active.keys()].map((name) => this.status(name));
  }

  status(name: string): MonitorStatus {
    const monitor = this.active.get(name);
    if (monitor === undefined)
      throw notFound(`monitor '${name}' does not exist; list monitors with GET /api/v1/monitors`);
    return {
      spec: monitor.spec,
      rowsObserved: monitor.rowsObserved,
      rowsUnwatched: monitor.rowsUnwatched,
      requestsLostAtRestart: monitor.requestsLostAtRestart,
      errors: monitor.errors,
      lastError: monitor.lastError,
      variants: [...monitor.variants].map(([variant, w]) => ({
        variant,
        model: w.model,
        version: w.version,
        problem: w.problem,
        openWindowRows: w.windower?.current()?.rows ?? 0,
        latest: w.latest,
      })),
      alerts: [...monitor.book.entries()].map(([identity, state]) => ({
        identity,
        phase: state.phase,
        since: state.since,
      })),
      delivery: monitor.dispatcher.stats(),
    };
  }

  close(): void {
    for (const name of [...this.active.keys()]) this.remove(name);
  }

  private remove(name: string): void {
    const monitor = this.active.get(name);
    if (monitor === undefined) return;
    monitor.dispatcher.close();
    this.active.delete(name);
    const rest = (this.byDeployment.get(monitor.spec.deployment) ?? []).filter((m) => m !== monitor);
    if (rest.length === 0) this.byDeployment.delete(monitor.spec.deployment);
    else this.byDeployment.set(monitor.spec.deployment, rest);
  }

  private observeOne(monitor: ActiveMonitor, o: MonitorObservation): void {
    monitor.rowsObserved += o.rows.length;
    const watch = this.watchFor(monitor, o.variant, o.model, o.version);
    if (watch.windower === null) {
      monitor.rowsUnwatched += o.rows.length;
      return;
    }
    for (const row of o.rows) watch.windower.add(o.at, (sketch) => sketch.updateRow(row));
    this.evaluateClosed(monitor, o.variant, watch, o.at);
  }

  private watchFor(monitor: ActiveMonitor, variant: string, model: string, version: number): VariantWatch {
    const watch = monitor.variants.get(variant);
    if (watch !== undefined && watch.model === model && watch.version === version) return watch;
    // A new variant, or the variant moved to another version: its reference applies from now.
    const fresh: VariantWatch = {
      variant,
      model,
      version,
      profile: null,
      problem: "loading the reference profile",
      windower: null,
      latest: watch?.latest ?? null,
    };
    monitor.variants.set(variant, fresh);
    this.load(monitor, fresh);
    return fresh;
  }

  private load(monitor: ActiveMonitor, watch: VariantWatch): void {
    const loading = this.references.getReference(watch.model, watch.version).then(
      (profile) => {
        if (profile === null) {
          watch.problem = `model ${watch.model} version ${watch.version} has no reference profile; attach one with \`ballast models reference\``;
          return;
        }
        watch.profile = profile;
        watch.problem = null;
        const windower = new Windower(monitor.spec.window, {
          create: () => new WindowSketch(profile, { role: "input" }),
          mergeInto: (into, from) => void into.merge(from),
        });
        const saved = monitor.pendingRestore.get(watch.variant);
        if (saved !== undefined && saved.model === watch.model && saved.version === watch.version) {
          monitor.pendingRestore.delete(watch.variant);
          windower.restore(saved.state, (json) => WindowSketch.fromJSON(profile, json, { role: "input" }));
        }
        watch.windower = windower;
      },
      (error: unknown) => {
        watch.problem = `cannot load the reference profile: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
    monitor.loading.push(loading);
  }

  /** `at`: when the row (or tick) that closed the windows arrived; alerts are timed by it. */
  private evaluateClosed(monitor: ActiveMonitor, variant: string, watch: VariantWatch, at: number): void {
    if (watch.windower === null || watch.profile === null) return;
    for (const closed of watch.windower.drain()) {
      const spec = monitor.spec;
      let drift: DriftResult | null = null;
      if (closed.rows >= spec.minSamples) {
        const features =
          spec.features ?? watch.profile.features.filter((f) => f.role === "input").map((f) => f.name);
        drift = evaluateDrift(watch.profile, closed.sketch, {
          features,
          ...(spec.test === "auto" ? {} : { tests: Object.fromEntries(features.map((f) => [f, spec.test])) }),
          ...(spec.threshold === undefined
            ? {}
            : { thresholds: Object.fromEntries(features.map((f) => [f, spec.threshold as number])) }),
          correction: spec.correction,
          share: spec.share,
        });
      }
      const evaluated: EvaluatedWindow = {
        monitor: spec.name,
        deployment: spec.deployment,
        variant,
        model: watch.model,
        version: watch.version,
        start: closed.start,
        end: closed.end,
        rows: closed.rows,
        drift,
      };
      watch.latest = evaluated;
      this.observer.windowEvaluated(evaluated);
      this.sink?.windowClosed(evaluated, closed.sketch.toJSON());
      if (drift !== null) this.alert(monitor, evaluated, drift, at);
    }
  }

  private alert(monitor: ActiveMonitor, window: EvaluatedWindow, drift: DriftResult, at: number): void {
    const spec = monitor.spec;
    const base = {
      monitor: spec.name,
      deployment: spec.deployment,
      variant: window.variant,
      severity: spec.severity,
    };
    const link: Record<string, string> =
      this.generatorUrl === undefined
        ? {}
        : { link: `${this.generatorUrl}/api/v1/monitors/${encodeURIComponent(spec.name)}` };
    const verdicts = new Map(drift.dataset?.features.map((f) => [f.feature, f]) ?? []);
    for (const f of drift.features) {
      if (f.skipped !== undefined) continue;
      const verdict = verdicts.get(f.feature);
      const labels = { ...base, alertname: "BallastFeatureDrift", feature: f.feature, test: f.test };
      this.notify(
        monitor,
        labels,
        {
          breached: verdict?.drifted ?? f.drifted,
          value: verdict?.adjustedScore ?? f.score,
          threshold: f.threshold,
          at,
        },
        {
          summary: `${f.feature} drifted on ${spec.deployment}/${window.variant} (${f.test})`,
          description: `${f.test} ${f.kind === "p_value" ? "p-value" : "distance"} ${f.score.toPrecision(4)} against threshold ${f.threshold} over ${window.rows} rows (window ${new Date(window.start).toISOString()} – ${new Date(window.end).toISOString()})`,
          ...link,
        },
      );
    }
    if (drift.dataset !== null) {
      const d = drift.dataset;
      this.notify(
        monitor,
        { ...base, alertname: "BallastDatasetDrift" },
        { breached: d.drifted, value: d.share, threshold: d.shareThreshold, at },
        {
          summary: `${d.driftedCount} of ${d.features.length} features drifted on ${spec.deployment}/${window.variant}`,
          description: `drifted: ${
            d.features
              .filter((f) => f.drifted)
              .map((f) => f.feature)
              .join(", ") || "none"
          }`,
          ...link,
        },
      );
    }
  }

  private notify(
    monitor: ActiveMonitor,
    labels: Record<string, string>,
    observation: { breached: boolean; value: number; threshold: number; at: number },
    annotations: Record<string, string>,
  ): void {
    const identity = alertIdentity(labels);
    const before = monitor.book.get(identity)?.phase;
    const actions = monitor.book.observe(identity, observation, monitor.spec.alert);
    const after = monitor.book.get(identity)?.phase;
    if (after !== undefined && after !== before)
      this.observer.alertChanged(monitor.spec.name, identity, after);
    for (const action of actions) {
      monitor.dispatcher.dispatch(
        notificationFor(action, {
          labels,
          annotations,
          ...(this.generatorUrl === undefined ? {} : { generatorUrl: this.generatorUrl }),
        }),
      );
    }
  }
}
