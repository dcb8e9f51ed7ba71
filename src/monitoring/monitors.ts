/**
 * Live drift monitoring: each monitor keeps, per variant of its deployment, a window of sketches
 * against the reference profile of the version that variant serves. Rows go in on the request
 * path (a bin search and a sketch update per feature, a few hundred nanoseconds a row); drift is
 * evaluated when a window closes; alerts are published to the alerting service, which runs their
 * lifecycle and never blocks. Nothing here can fail a request: errors are counted.
 */
import type { AlertSink, AlertSource, AlertSummary } from "../alerts/alerting.js";
import type { DispatcherStats } from "../alerts/dispatcher.js";
import type { AlertPhase } from "../alerts/lifecycle.js";
import { notFound, unavailable } from "../domain/errors.js";
import type { ReferenceProfile } from "./profile/reference-profile.js";
import { WindowSketch, type WindowSketchJSON } from "./sketches/feature-window.js";
import { Windower, type ClosedWindow, type WindowerCheckpoint } from "./windows.js";
import { evaluateDrift, type DriftResult } from "./drift.js";
import type { AnyMonitorSpec, MonitorSpec } from "./monitor-spec.js";
import { monitorLink, publishMonitorAlert } from "./monitor-alerts.js";
import { retainedClosed, type ClosedShare } from "./window-shares.js";
import type { PerformanceMonitors, PerformanceMonitorStatus } from "./performance-monitors.js";
import {
  MISSING_SEGMENT,
  OTHER_SEGMENT,
  SegmentKeys,
  segmentLabel,
  type SegmentRef,
  type SegmentSpec,
} from "./segments.js";

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
  /** Time windows: epoch ms [start, end). Count windows: row ordinals [start, end), not times. */
  readonly start: number;
  readonly end: number;
  readonly rows: number;
  /** Epoch ms of the window's first and last row, whatever its kind (absent after an old checkpoint). */
  readonly firstAt?: number;
  readonly lastAt?: number;
  /** Epoch ms the window was closed and judged (as the store keeps it). */
  readonly closedAt?: number;
  /** null when the window had fewer rows than the monitor's minSamples. */
  readonly drift: DriftResult | null;
  /** Set for a segment's window; absent for the variant's overall window. */
  readonly segment?: SegmentRef;
}

/** The open windows of a variant's segments, and which values had segments of their own. */
export interface SegmentCheckpoint {
  readonly feature: string;
  readonly values: readonly string[];
  readonly windows: ReadonlyArray<{
    readonly value: string;
    readonly state: WindowerCheckpoint<WindowSketchJSON>;
  }>;
}

/** An open window as saved, so a restart resumes it. */
export interface MonitorCheckpoint {
  readonly monitor: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly state: WindowerCheckpoint<WindowSketchJSON>;
  readonly segments?: SegmentCheckpoint;
  /**
   * With shared windows: the time windows this replica closed lately and left for the
   * evaluator (window-shares.ts); absent otherwise.
   */
  readonly closed?: ReadonlyArray<ClosedShare<WindowSketchJSON>>;
}

/** How windows are evaluated when several replicas share the traffic. */
export interface MonitorsOptions {
  /**
   * Time windows are evaluated from every replica's share by the monitors' lease holder
   * (`evaluateMerged`), not where they close: each replica keeps what it closed for the
   * evaluator and calls `shareClosed` so it is written at once. Count windows are judged where
   * they close either way (their bounds are ordinals of one replica's stream).
   */
  readonly shareWindows?: boolean;
  /** Told that windows closed here and wait in the share (write it now). */
  readonly shareClosed?: () => void;
  /** How long a closed window is kept for the evaluator (default 10 min). */
  readonly closedRetentionMs?: number;
}

/** Closed windows a share keeps at most, by distinct window end (their segments go with them). */
const CLOSED_SHARE_WINDOWS = 8;
const CLOSED_RETENTION_MS = 10 * 60_000;

/** One closed window kept for the evaluator: the overall one, or a segment value's. */
type KeptWindow = ClosedWindow<WindowSketch> & { readonly segment?: string };

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
  /** One window per segment value (null: no segment, or its feature is not in the reference). */
  segments: Map<string, Windower<WindowSketch>> | null;
  /** Latest evaluated window per segment value; kept when the variant moves to another version. */
  segmentLatest: Map<string, EvaluatedWindow>;
  /** Why segments are not watched for this variant (the feature is not in its reference). */
  segmentProblem: string | null;
  /** With shared windows: time windows closed here, kept for the evaluator. */
  closed: KeptWindow[];
}

interface ActiveMonitor {
  readonly spec: MonitorSpec;
  readonly source: AlertSource;
  readonly variants: Map<string, VariantWatch>;
  /** Shared time windows: the last window boundary a tick saw. */
  boundary?: number;
  loading: Promise<unknown>[];
  rowsObserved: number;
  rowsUnwatched: number;
  /** Requests logged after the last checkpoint before a restart: not in the resumed window. */
  requestsLostAtRestart: number;
  errors: number;
  lastError: string | null;
  /** Checkpoints to resume once each variant's reference has loaded. */
  pendingRestore: Map<string, MonitorCheckpoint>;
  /**
   * Which values have segments of their own, shared by the variants and kept across versions, so
   * the segment labels of alerts and metrics are at most maxValues + 2 per monitor.
   */
  readonly keys: SegmentKeys | null;
}

export interface SegmentStatus {
  readonly value: string;
  readonly openWindowRows: number;
  readonly latest: EvaluatedWindow | null;
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
    /** With a segment: its windows, values with their own segment first, then other and missing. */
    segments?: SegmentStatus[];
    segmentProblem?: string | null;
  }>;
  /** With a segment: the values that have a segment of their own, in the order first seen. */
  readonly segment?: SegmentSpec & { values: string[] };
  readonly alerts: AlertSummary[];
  /** The counters of the notifiers this monitor names (shared with other sources naming them). */
  readonly delivery: DispatcherStats;
}

const silent: MonitorObserver = { windowEvaluated: () => {}, alertChanged: () => {} };

export class Monitors {
  private readonly active = new Map<string, ActiveMonitor>();
  /** deployment -> monitors watching it, so an unmonitored deployment costs one map lookup. */
  private readonly byDeployment = new Map<string, ActiveMonitor[]>();

  constructor(
    private readonly references: ReferenceSource,
    /** Where alerts are published (the alerting service). */
    private readonly alerts: AlertSink,
    private readonly observer: MonitorObserver = silent,
    private readonly generatorUrl?: string,
    private readonly sink?: WindowSink,
    /** Performance monitors (`type: performance`): one API, evaluated on the same ticker. */
    private readonly performance?: PerformanceMonitors,
    private readonly options: MonitorsOptions = {},
  ) {}

  /**
   * Refuses a new spec whose notifiers point where this server may not send; called before the
   * spec is stored. Specs restored at start are not refused: their sends are, one by one.
   */
  checkAccess(spec: AnyMonitorSpec): void {
    this.alerts.checkAccess(spec.notifiers);
  }

  /**
   * The open windows of every monitor, for a checkpoint; with shared windows also the windows
   * closed here that the evaluator may still need (those older than the retention are let go).
   */
  checkpoints(now?: number, only?: string): MonitorCheckpoint[] {
    const retention = this.options.closedRetentionMs ?? CLOSED_RETENTION_MS;
    const monitors = [...this.active.values()].filter((m) => only === undefined || m.spec.name === only);
    return monitors.flatMap((m) =>
      [...m.variants].flatMap(([variant, w]) => {
        if (w.windower === null) return [];
        if (now !== undefined) w.closed = retainedClosed(w.closed, now, retention, CLOSED_SHARE_WINDOWS);
        return [
          {
            monitor: m.spec.name,
            variant,
            model: w.model,
            version: w.version,
            state: w.windower.checkpoint((s) => s.toJSON()),
            ...segmentCheckpoint(m, w),
            ...(this.options.shareWindows === true ? { closed: w.closed.map(closedShare) } : {}),
          },
        ];
      }),
    );
  }

  /** The drift monitors' specs (the evaluator of shared windows goes through them). */
  driftSpecs(): MonitorSpec[] {
    return [...this.active.values()].map((m) => m.spec);
  }

  /** Every monitor's spec, of any type (to tell what changed in the store). */
  specs(): AnyMonitorSpec[] {
    return [...this.driftSpecs(), ...(this.performance?.specs() ?? [])];
  }

  /**
   * Evaluates a window merged from every replica's share (the lease holder calls this): drift,
   * the window's record and alerts, exactly as a window closed here would be. False when the
   * monitor is no longer active here.
   */
  evaluateMerged(
    name: string,
    merged: {
      readonly variant: string;
      readonly model: string;
      readonly version: number;
      readonly profile: ReferenceProfile;
      readonly window: ClosedWindow<WindowSketch>;
      readonly segment?: string;
    },
    at: number,
  ): boolean {
    const monitor = this.active.get(name);
    if (monitor === undefined) return false;
    const feature = monitor.spec.segment?.feature;
    if (merged.segment !== undefined && feature === undefined) return false;
    const segment =
      merged.segment === undefined ? undefined : { feature: feature as string, value: merged.segment };
    this.evaluate(monitor, merged.variant, merged, merged.window, segment, at);
    return true;
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

  /** Starts (or replaces) a monitor of any type; a drift monitor's windows start empty. */
  put(spec: AnyMonitorSpec): void {
    this.remove(spec.name);
    if (this.performance?.has(spec.name) === true) this.performance.delete(spec.name);
    if (spec.type === "performance") {
      if (this.performance === undefined)
        throw unavailable("performance monitors are not enabled on this server");
      this.performance.put(spec);
      return;
    }
    this.putDrift(spec);
  }

  private putDrift(spec: MonitorSpec): void {
    const monitor: ActiveMonitor = {
      spec,
      source: { kind: "drift", name: spec.name },
      variants: new Map(),
      loading: [],
      rowsObserved: 0,
      rowsUnwatched: 0,
      requestsLostAtRestart: 0,
      errors: 0,
      lastError: null,
      pendingRestore: new Map(),
      keys: spec.segment === undefined ? null : new SegmentKeys(spec.segment.maxValues),
    };
    this.active.set(spec.name, monitor);
    this.byDeployment.set(spec.deployment, [...(this.byDeployment.get(spec.deployment) ?? []), monitor]);
  }

  delete(name: string): void {
    if (this.performance?.has(name) === true) return this.performance.delete(name);
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
    this.performance?.tick(now);
    let boundaryPassed = false;
    for (const monitor of this.active.values()) {
      for (const [variant, watch] of monitor.variants) {
        watch.windower?.tick(now);
        for (const w of watch.segments?.values() ?? []) w.tick(now);
        this.evaluateClosed(monitor, variant, watch, now);
      }
      boundaryPassed = this.passedBoundary(monitor, now) || boundaryPassed;
    }
    // A replica that closed nothing (no rows in the window) still says so by saving after the
    // boundary, so the evaluator need not wait out its share.
    if (boundaryPassed) this.options.shareClosed?.();
  }

  /** Shared time windows: whether a window boundary passed since the last tick. */
  private passedBoundary(monitor: ActiveMonitor, now: number): boolean {
    const window = monitor.spec.window;
    if (this.options.shareWindows !== true || window.by !== "time") return false;
    const step = window.kind === "tumbling" ? window.durationMs : window.stepMs;
    const boundary = Math.floor(now / step) * step;
    const passed = monitor.boundary !== undefined && boundary > monitor.boundary;
    monitor.boundary = boundary;
    return passed;
  }

  /** Resolves once the references requested so far have loaded (tests, start-up). */
  async settled(): Promise<void> {
    await Promise.all([...this.active.values()].flatMap((m) => m.loading));
    await this.performance?.settled();
    await this.alerts.idle();
  }

  /** Every monitor's status, of any type, by name. */
  list(): Array<MonitorStatus | PerformanceMonitorStatus> {
    return [
      ...[...this.active.keys()].map((name) => this.status(name)),
      ...(this.performance?.list() ?? []),
    ].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  /** A monitor's status, of any type (its `spec.type` tells which). */
  statusOf(name: string): MonitorStatus | PerformanceMonitorStatus {
    if (this.performance?.has(name) === true) return this.performance.status(name);
    return this.status(name);
  }

  /** A drift monitor's status. */
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
        ...(monitor.spec.segment === undefined
          ? {}
          : { segments: segmentStatuses(w), segmentProblem: w.segmentProblem }),
      })),
      ...(monitor.spec.segment === undefined || monitor.keys === null
        ? {}
        : { segment: { ...monitor.spec.segment, values: monitor.keys.values() } }),
      alerts: this.alerts.alerts(monitor.source),
      delivery: this.alerts.delivery(monitor.spec.notifiers),
    };
  }

  close(): void {
    for (const name of [...this.active.keys()]) this.remove(name);
    this.performance?.close();
  }

  private remove(name: string): void {
    const monitor = this.active.get(name);
    if (monitor === undefined) return;
    this.alerts.forget(monitor.source);
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
    const segments = watch.segments;
    const keys = monitor.keys;
    const feature = monitor.spec.segment?.feature;
    if (segments === null || keys === null || feature === undefined) {
      for (const row of o.rows) watch.windower.add(o.at, (sketch) => sketch.updateRow(row));
    } else {
      // One value read and one map lookup per row, then the same sketch update as the overall window.
      for (const row of o.rows) {
        const update = (sketch: WindowSketch): void => sketch.updateRow(row);
        watch.windower.add(o.at, update);
        const key = keys.keyOf(row[feature]);
        let windower = segments.get(key);
        if (windower === undefined) {
          windower = this.windowerFor(monitor, watch.profile as ReferenceProfile);
          segments.set(key, windower);
        }
        windower.add(o.at, update);
      }
    }
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
      segments: null,
      segmentLatest: watch?.segmentLatest ?? new Map(),
      segmentProblem: null,
      // What it closed under the old version was written when it closed; the share's rows name
      // one version, so those windows do not ride on under the new one.
      closed: [],
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
        const windower = this.windowerFor(monitor, profile);
        const segment = monitor.spec.segment;
        if (segment !== undefined) {
          const inputs = profile.features.filter((f) => f.role === "input").map((f) => f.name);
          if (inputs.includes(segment.feature)) watch.segments = new Map();
          else {
            watch.segmentProblem = `segment feature '${segment.feature}' is not an input feature of the reference profile of ${watch.model} version ${watch.version} (features: ${inputs.join(", ")}); only the overall window is watched`;
          }
        }
        const saved = monitor.pendingRestore.get(watch.variant);
        if (saved !== undefined && saved.model === watch.model && saved.version === watch.version) {
          monitor.pendingRestore.delete(watch.variant);
          const fromJSON = (json: WindowSketchJSON) =>
            WindowSketch.fromJSON(profile, json, { role: "input" });
          windower.restore(saved.state, fromJSON);
          this.restoreSegments(monitor, watch, profile, saved.segments, fromJSON);
        }
        watch.windower = windower;
      },
      (error: unknown) => {
        watch.problem = `cannot load the reference profile: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
    monitor.loading.push(loading);
  }

  private windowerFor(monitor: ActiveMonitor, profile: ReferenceProfile): Windower<WindowSketch> {
    return new Windower(monitor.spec.window, {
      create: () => new WindowSketch(profile, { role: "input" }),
      mergeInto: (into, from) => void into.merge(from),
    });
  }

  /** Resumes saved segment windows, when the checkpoint was of the same segment feature. */
  private restoreSegments(
    monitor: ActiveMonitor,
    watch: VariantWatch,
    profile: ReferenceProfile,
    saved: SegmentCheckpoint | undefined,
    fromJSON: (json: WindowSketchJSON) => WindowSketch,
  ): void {
    const keys = monitor.keys;
    if (saved === undefined || watch.segments === null || keys === null) return;
    if (saved.feature !== monitor.spec.segment?.feature) return;
    keys.adopt(saved.values);
    for (const { value, state } of saved.windows) {
      // A value that lost its own segment (maxValues went down) starts over in __other__.
      if (value !== OTHER_SEGMENT && value !== MISSING_SEGMENT && keys.keyOf(value) !== value) continue;
      const windower = this.windowerFor(monitor, profile);
      if (windower.restore(state, fromJSON)) watch.segments.set(value, windower);
    }
  }

  /** `at`: when the row (or tick) that closed the windows arrived; alerts are timed by it. */
  private evaluateClosed(monitor: ActiveMonitor, variant: string, watch: VariantWatch, at: number): void {
    if (watch.windower === null || watch.profile === null) return;
    if (this.options.shareWindows === true && monitor.spec.window.by === "time") {
      this.keepClosed(monitor, watch);
      return;
    }
    const on = { model: watch.model, version: watch.version, profile: watch.profile, watch };
    for (const closed of watch.windower.drain()) this.evaluate(monitor, variant, on, closed, undefined, at);
    const feature = monitor.spec.segment?.feature;
    if (watch.segments === null || feature === undefined) return;
    for (const [value, windower] of watch.segments) {
      if (!windower.pending()) continue;
      for (const closed of windower.drain())
        this.evaluate(monitor, variant, on, closed, { feature, value }, at);
    }
  }

  /** Shared windows: what closed here waits in the share for the evaluator, written at once. */
  private keepClosed(monitor: ActiveMonitor, watch: VariantWatch): void {
    const windower = watch.windower as Windower<WindowSketch>;
    let kept = false;
    if (windower.pending()) {
      watch.closed.push(...windower.drain());
      kept = true;
    }
    for (const [value, segment] of watch.segments ?? []) {
      if (!segment.pending()) continue;
      watch.closed.push(...segment.drain().map((w) => ({ ...w, segment: value })));
      kept = true;
    }
    if (!kept) return;
    // Bounded here too, not only when a checkpoint is taken.
    const last = watch.closed[watch.closed.length - 1] as KeptWindow;
    watch.closed = retainedClosed(watch.closed, last.end, Infinity, CLOSED_SHARE_WINDOWS);
    this.options.shareClosed?.();
  }

  /** `on`: the version the window was sketched against; its watch, when this replica has one. */
  private evaluate(
    monitor: ActiveMonitor,
    variant: string,
    on: { model: string; version: number; profile: ReferenceProfile; watch?: VariantWatch },
    closed: ClosedWindow<WindowSketch>,
    segment: SegmentRef | undefined,
    at: number,
  ): void {
    const profile = on.profile;
    const spec = monitor.spec;
    let drift: DriftResult | null = null;
    if (closed.rows >= spec.minSamples) {
      const all = spec.features ?? profile.features.filter((f) => f.role === "input").map((f) => f.name);
      // Within a segment its own feature holds one value: against the whole reference that
      // would always read as drift, so it is left out.
      const features = segment === undefined ? all : all.filter((f) => f !== segment.feature);
      drift = evaluateDrift(profile, closed.sketch, {
        features,
        ...(spec.test === "auto" ? {} : { tests: Object.fromEntries(features.map((f) => [f, spec.test])) }),
        ...(spec.threshold === undefined
          ? {}
          : { thresholds: Object.fromEntries(features.map((f) => [f, spec.threshold as number])) }),
        correction: spec.correction,
        share: spec.share,
        missing: spec.missing,
      });
    }
    const evaluated: EvaluatedWindow = {
      monitor: spec.name,
      deployment: spec.deployment,
      variant,
      model: on.model,
      version: on.version,
      start: closed.start,
      end: closed.end,
      rows: closed.rows,
      ...(closed.firstAt === undefined ? {} : { firstAt: closed.firstAt }),
      ...(closed.lastAt === undefined ? {} : { lastAt: closed.lastAt }),
      drift,
      ...(segment === undefined ? {} : { segment }),
    };
    // A merged window of a version this replica no longer (or never) served leaves its status be.
    const watch = on.watch ?? monitor.variants.get(variant);
    if (watch !== undefined && watch.model === on.model && watch.version === on.version) {
      if (segment === undefined) watch.latest = evaluated;
      else watch.segmentLatest.set(segment.value, evaluated);
    }
    this.observer.windowEvaluated(evaluated);
    this.sink?.windowClosed(evaluated, closed.sketch.toJSON());
    if (drift !== null) this.alert(monitor, evaluated, drift, at);
  }

  private alert(monitor: ActiveMonitor, window: EvaluatedWindow, drift: DriftResult, at: number): void {
    const spec = monitor.spec;
    const base = {
      monitor: spec.name,
      deployment: spec.deployment,
      variant: window.variant,
      ...(window.segment === undefined ? {} : { segment: segmentLabel(window.segment) }),
    };
    const where = `${spec.deployment}/${window.variant}${window.segment === undefined ? "" : ` (${segmentLabel(window.segment)})`}`;
    const link = monitorLink(this.generatorUrl, spec.name);
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
          summary: `${f.feature} drifted on ${where} (${f.test})`,
          description: `${f.test} ${f.kind === "p_value" ? "p-value" : "distance"} ${f.score.toPrecision(4)} against threshold ${f.threshold} over ${window.rows} rows (${windowText(spec, window)})`,
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
          summary: `${d.driftedCount} of ${d.features.length} features drifted on ${where}`,
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
    const to = { alerts: this.alerts, observer: this.observer, generatorUrl: this.generatorUrl };
    publishMonitorAlert(to, monitor.spec, monitor.source, { labels, annotations, ...observation });
  }
}

/**
 * A window as people read it. A time window is its period. A count window's start and end are
 * row ordinals (formatted as dates they read as 1970), so it is told as its rows and the times
 * its first and last rows arrived.
 */
export function windowText(
  spec: Pick<MonitorSpec, "window">,
  window: Pick<EvaluatedWindow, "start" | "end" | "firstAt" | "lastAt">,
): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  if (spec.window.by === "time") return `window ${iso(window.start)} – ${iso(window.end)}`;
  // A sliding window at the start of the stream begins before its first row.
  const rows = `rows ${Math.max(window.start, 0) + 1}–${window.end} of the stream`;
  if (window.firstAt === undefined || window.lastAt === undefined) return rows;
  return `${rows}, received ${iso(window.firstAt)} – ${iso(window.lastAt)}`;
}

function segmentCheckpoint(monitor: ActiveMonitor, watch: VariantWatch): { segments?: SegmentCheckpoint } {
  const feature = monitor.spec.segment?.feature;
  if (watch.segments === null || monitor.keys === null || feature === undefined) return {};
  return {
    segments: {
      feature,
      values: monitor.keys.values(),
      windows: [...watch.segments].map(([value, w]) => ({ value, state: w.checkpoint((s) => s.toJSON()) })),
    },
  };
}

/** Values with a segment of their own in the order first seen, then __other__ and __missing__. */
function segmentStatuses(watch: VariantWatch): SegmentStatus[] {
  const values = new Set([...watch.segmentLatest.keys(), ...(watch.segments?.keys() ?? [])]);
  const rank = (v: string) => (v === OTHER_SEGMENT ? 1 : v === MISSING_SEGMENT ? 2 : 0);
  return [...values]
    .sort((a, b) => rank(a) - rank(b))
    .map((value) => ({
      value,
      openWindowRows: watch.segments?.get(value)?.current()?.rows ?? 0,
      latest: watch.segmentLatest.get(value) ?? null,
    }));
}

/** A kept window as the share saves it. */
function closedShare(w: KeptWindow): ClosedShare<WindowSketchJSON> {
  return {
    start: w.start,
    end: w.end,
    rows: w.rows,
    sketch: w.sketch.toJSON(),
    ...(w.firstAt === undefined ? {} : { firstAt: w.firstAt }),
    ...(w.lastAt === undefined ? {} : { lastAt: w.lastAt }),
    ...(w.segment === undefined ? {} : { segment: w.segment }),
  };
}
