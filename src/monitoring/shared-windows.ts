/**
 * The evaluator of shared monitor windows (PostgreSQL, several replicas): run on the holder of
 * the monitors lease, it reads every replica's share of each time-windowed drift monitor, and
 * evaluates each window that is due once, on the merge of every share's part (window-shares.ts
 * decides what is due and what belongs to it; this reads, merges and hands the window to
 * `Monitors.evaluateMerged`, which judges drift, records the window and publishes the alerts).
 *
 * Which windows are done is what `monitor_windows` holds, so a replica taking the lease over
 * goes on from where the last holder stopped (`reset` when the lease moves). The evaluator's own
 * share is taken from memory, not the store: it is always up to date.
 */
import type { Clock } from "../domain/clock.js";
import type { ReferenceSource } from "./monitors.js";
import type { MonitorCheckpoint, Monitors } from "./monitors.js";
import type { MonitorSpec } from "./monitor-spec.js";
import type { MonitorStore } from "./monitor-store.js";
import { WindowSketch, type WindowSketchJSON } from "./sketches/feature-window.js";
import {
  mergeParts,
  partOf,
  pendingWindowEnds,
  readiness,
  segmentValues,
  spentShares,
  windowEndingAt,
  type WindowBounds,
  type WindowShare,
} from "./window-shares.js";

/** How long the evaluator waits for a live replica's share of a window after the window ends. */
export const DEFAULT_SHARE_WAIT_MS = 10_000;

export interface SharedWindowParts {
  readonly monitors: Monitors;
  readonly store: Pick<MonitorStore, "shares" | "deleteShares" | "evaluatedThrough">;
  readonly references: ReferenceSource;
  /** The replicas alive now (by their heartbeats). */
  readonly alive: () => Promise<ReadonlySet<string>>;
  /** This replica's id, under which its share is saved. */
  readonly self: string;
  readonly clock: Clock;
  readonly maxWaitMs?: number;
}

export interface SharedWindowStats {
  /** Windows evaluated here from merged shares (overall windows; their segments not counted). */
  readonly evaluated: number;
  /** Live replicas' shares merged as last saved because they were not written in time. */
  readonly lateShares: number;
  /** Passes that found a window whose shares were still being written (and waited). */
  readonly waits: number;
  /** Share parts left out of a merge because their sketch did not read against the reference. */
  readonly unreadable: number;
  readonly errors: number;
  readonly lastError: string | null;
}

type Share = WindowShare<WindowSketchJSON>;

export class SharedWindowEvaluator {
  /** monitor -> variant -> end of the last window evaluated (read from the store once per tenure). */
  private done = new Map<string, Map<string, number>>();
  /** Per spec, the window boundary through which nothing is left to do. */
  private checked = new WeakMap<MonitorSpec, number>();
  private running: Promise<void> | undefined;
  private evaluated = 0;
  private lateShares = 0;
  private waits = 0;
  private unreadable = 0;
  private errors = 0;
  private lastError: string | null = null;

  constructor(private readonly parts: SharedWindowParts) {}

  /** Forgets what it knew (the lease moved: another replica may have evaluated meanwhile). */
  reset(): void {
    this.done = new Map();
    this.checked = new WeakMap();
  }

  stats(): SharedWindowStats {
    return {
      evaluated: this.evaluated,
      lateShares: this.lateShares,
      waits: this.waits,
      unreadable: this.unreadable,
      errors: this.errors,
      lastError: this.lastError,
    };
  }

  /** Evaluates what is due now; passes never overlap (a pass under way is awaited instead). */
  tick(): Promise<void> {
    this.running ??= this.pass(this.parts.clock.now()).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once a pass under way is over (shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => {});
  }

  private async pass(now: number): Promise<void> {
    let alive: ReadonlySet<string> | undefined;
    for (const spec of this.parts.monitors.driftSpecs()) {
      const window = spec.window;
      if (window.by !== "time") continue;
      const step = window.kind === "tumbling" ? window.durationMs : window.stepMs;
      const boundary = Math.floor(now / step) * step;
      if ((this.checked.get(spec) ?? -Infinity) >= boundary) continue;
      try {
        alive ??= await this.parts.alive();
        if (await this.evaluateMonitor(spec, now, alive)) this.checked.set(spec, boundary);
      } catch (error) {
        this.errors++;
        this.lastError = `${spec.name}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  }

  /** True when nothing is left waiting for this monitor up to now. */
  private async evaluateMonitor(spec: MonitorSpec, now: number, live: ReadonlySet<string>): Promise<boolean> {
    const self = this.parts.self;
    const own = this.parts.monitors.checkpoints(now, spec.name).map((c): Share => shareOf(c, self, now));
    const shares = [...(await this.parts.store.shares(spec.name)).filter((s) => s.replica !== self), ...own];
    const done = await this.doneOf(spec.name);
    const alive = (replica: string) => replica === self || live.has(replica);
    let complete = true;
    const spent: Share[] = [];
    for (const variant of new Set(shares.map((s) => s.variant))) {
      const ofVariant = shares.filter((s) => s.variant === variant);
      for (const end of pendingWindowEnds(spec.window, ofVariant, done.get(variant) ?? -Infinity, now)) {
        const ready = readiness(ofVariant, end, alive, now, this.parts.maxWaitMs ?? DEFAULT_SHARE_WAIT_MS);
        if (!ready.ready) {
          this.waits++;
          complete = false;
          break;
        }
        this.lateShares += ready.late.length;
        await this.evaluateWindow(
          spec,
          variant,
          ofVariant,
          windowEndingAt(spec.window, end) as WindowBounds,
          now,
        );
        done.set(variant, end);
      }
      spent.push(...spentShares(spec.window, ofVariant, done.get(variant) ?? -Infinity, alive));
    }
    if (spent.length > 0) await this.parts.store.deleteShares(spec.name, spent);
    return complete;
  }

  /** One window: per version served in it (normally one), the merged overall window and segments. */
  private async evaluateWindow(
    spec: MonitorSpec,
    variant: string,
    shares: readonly Share[],
    window: WindowBounds,
    now: number,
  ): Promise<void> {
    const versions = new Map<string, Share[]>();
    for (const s of shares) {
      const key = JSON.stringify([s.model, s.version]);
      versions.set(key, [...(versions.get(key) ?? []), s]);
    }
    for (const group of versions.values()) {
      const { model, version } = group[0] as Share;
      const parts = group.flatMap((s) => partOf(s, spec.window, window));
      if (parts.length === 0) continue;
      const profile = await this.parts.references.getReference(model, version);
      if (profile === null) continue; // no reference: nothing was sketched against one either
      const ops = {
        create: () => new WindowSketch(profile, { role: "input" }),
        mergeInto: (into: WindowSketch, from: WindowSketch) => void into.merge(from),
      };
      // A share that does not read against this reference is left out and counted, so one bad row
      // cannot hold the monitor's windows back for ever.
      const fromJSON = (json: WindowSketchJSON): WindowSketch | null => {
        try {
          return WindowSketch.fromJSON(profile, json, { role: "input" });
        } catch (error) {
          this.unreadable++;
          this.lastError = `${spec.name}: a share of ${variant} does not read: ${error instanceof Error ? error.message : String(error)}`;
          return null;
        }
      };
      const overall = mergeParts(window, parts, ops, fromJSON);
      if (overall === null) continue;
      const on = { variant, model, version, profile };
      if (!this.parts.monitors.evaluateMerged(spec.name, { ...on, window: overall }, now)) return;
      this.evaluated++;
      if (spec.segment === undefined) continue;
      for (const value of segmentValues(group)) {
        const merged = mergeParts(
          window,
          group.flatMap((s) => partOf(s, spec.window, window, value)),
          ops,
          fromJSON,
        );
        if (merged !== null)
          this.parts.monitors.evaluateMerged(spec.name, { ...on, window: merged, segment: value }, now);
      }
    }
  }

  private async doneOf(monitor: string): Promise<Map<string, number>> {
    let done = this.done.get(monitor);
    if (done === undefined) {
      done = await this.parts.store.evaluatedThrough(monitor);
      this.done.set(monitor, done);
    }
    return done;
  }
}

/** This replica's checkpoint as a share, saved now. */
function shareOf(c: MonitorCheckpoint, replica: string, now: number): Share {
  return {
    replica,
    variant: c.variant,
    model: c.model,
    version: c.version,
    takenAt: now,
    state: c.state,
    ...(c.segments === undefined ? {} : { segments: c.segments }),
    closed: c.closed ?? [],
  };
}
