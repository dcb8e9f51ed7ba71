/** Monitor specs in the store, so declared monitors come back after a restart. */
import type { SourcedAlertState } from "../alerts/alerting.js";
import type { AlertState } from "../alerts/lifecycle.js";
import type { Kysely } from "kysely";
import type { Clock } from "../domain/clock.js";
import { notFound } from "../domain/errors.js";
import type { Database } from "../store/schema.js";
import { parseAnyMonitorSpec, type AnyMonitorSpec, type MonitorSpec } from "./monitor-spec.js";
import type { EvaluatedWindow, MonitorCheckpoint, SegmentCheckpoint } from "./monitors.js";
import type { SegmentRef } from "./segments.js";
import type { WindowSketchJSON } from "./sketches/feature-window.js";
import type { ClosedShare, WindowShare } from "./window-shares.js";

/** The name a single process (SQLite) saves its open windows under. */
export const LOCAL_REPLICA = "local";

/** Which closed windows to read: the overall ones (default), one segment's, or all ("*"). */
export interface WindowFilter {
  readonly segment?: SegmentRef | "*";
}

/** One alert's lifecycle state, saved with the monitor's checkpoints. */
export interface SavedAlertState {
  readonly monitor: string;
  readonly identity: string;
  readonly state: AlertState;
}

/** The monitors' alerts among the alerting service's states, as saved rows (rollouts keep none). */
export function savedMonitorAlerts(states: readonly SourcedAlertState[]): SavedAlertState[] {
  return states
    .filter((s) => s.source.kind === "drift" || s.source.kind === "performance")
    .map((s) => ({ monitor: s.source.name, identity: s.identity, state: s.state }));
}

/**
 * Saved rows back as the alerting service's states. A row names its monitor, not its kind (the
 * table has never had one; drift and performance monitors share one namespace of names): the
 * monitor's spec tells it. Rows of monitors that are gone are dropped.
 */
export function monitorAlertStates(
  saved: readonly SavedAlertState[],
  specs: readonly AnyMonitorSpec[],
): SourcedAlertState[] {
  const kinds = new Map(
    specs.map((s) => [s.name, s.type === "performance" ? "performance" : "drift"] as const),
  );
  return saved.flatMap(({ monitor, identity, state }) => {
    const kind = kinds.get(monitor);
    return kind === undefined ? [] : [{ source: { kind, name: monitor }, identity, state }];
  });
}

export class MonitorStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async put(spec: AnyMonitorSpec): Promise<void> {
    const now = this.clock.now();
    const text = JSON.stringify(spec);
    await this.db
      .insertInto("monitors")
      .values({ name: spec.name, deployment: spec.deployment, spec: text, created_at: now, updated_at: now })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({ deployment: spec.deployment, spec: text, updated_at: now }),
      )
      .execute();
  }

  async delete(name: string): Promise<void> {
    const result = await this.db.deleteFrom("monitors").where("name", "=", name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`monitor '${name}' does not exist`);
    // Its open windows go with it; its closed windows stay as history.
    await this.db.deleteFrom("monitor_checkpoints").where("monitor", "=", name).execute();
    await this.db.deleteFrom("monitor_alert_states").where("monitor", "=", name).execute();
  }

  /**
   * Every stored monitor, of any type. Stored specs are validated again, so one written by an
   * older version fails loudly, by name.
   */
  async listAll(): Promise<AnyMonitorSpec[]> {
    const rows = await this.db.selectFrom("monitors").selectAll().orderBy("name").execute();
    return rows.map((r) => parseAnyMonitorSpec(JSON.parse(r.spec) as unknown, r.name));
  }

  /** The drift monitors only (callers that know no other type; use listAll for every type). */
  async list(): Promise<MonitorSpec[]> {
    return (await this.listAll()).filter((s): s is MonitorSpec => s.type !== "performance");
  }

  async saveWindow(window: EvaluatedWindow, sketch: unknown, closedAt: number): Promise<void> {
    await this.db
      .insertInto("monitor_windows")
      .values({
        monitor: window.monitor,
        variant: window.variant,
        segment: segmentColumn(window.segment),
        window_start: window.start,
        window_end: window.end,
        model: window.model,
        version: window.version,
        rows: window.rows,
        drift: window.drift === null ? null : JSON.stringify(window.drift),
        sketch: JSON.stringify(sketch),
        closed_at: closedAt,
      })
      .execute();
  }

  /**
   * The monitor's closed windows, newest first (without their sketches): the overall ones, or
   * with `segment` a value's (`*`: every window, segments included).
   */
  async windows(monitor: string, limit: number, filter: WindowFilter = {}): Promise<EvaluatedWindow[]> {
    let query = this.db
      .selectFrom("monitor_windows")
      .select([
        "monitor",
        "variant",
        "segment",
        "window_start",
        "window_end",
        "model",
        "version",
        "rows",
        "drift",
        "closed_at",
      ])
      .where("monitor", "=", monitor);
    if (filter.segment === undefined) query = query.where("segment", "=", "");
    else if (filter.segment !== "*") query = query.where("segment", "=", segmentColumn(filter.segment));
    const rows = await query.orderBy("closed_at", "desc").limit(limit).execute();
    return rows.map((r) => ({
      monitor: r.monitor,
      deployment: "",
      variant: r.variant,
      model: r.model,
      version: Number(r.version),
      start: Number(r.window_start),
      end: Number(r.window_end),
      rows: Number(r.rows),
      closedAt: Number(r.closed_at),
      drift: r.drift === null ? null : (JSON.parse(r.drift) as EvaluatedWindow["drift"]),
      ...segmentOf(r.segment),
    }));
  }

  /**
   * Replaces the saved alert states with these: of every monitor, or with `of`, of those
   * monitors only (with replicas each kind's alerts are kept by the replica evaluating it).
   */
  async saveAlertStates(
    states: readonly SavedAlertState[],
    savedAt: number,
    of?: readonly string[],
  ): Promise<void> {
    if (of !== undefined && of.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      let clear = tx.deleteFrom("monitor_alert_states");
      if (of !== undefined) clear = clear.where("monitor", "in", of);
      await clear.execute();
      for (const s of states) {
        await tx
          .insertInto("monitor_alert_states")
          .values({
            monitor: s.monitor,
            identity: s.identity,
            state: JSON.stringify(s.state),
            saved_at: savedAt,
          })
          .execute();
      }
    });
  }

  async alertStates(): Promise<SavedAlertState[]> {
    const rows = await this.db.selectFrom("monitor_alert_states").selectAll().execute();
    return rows.map((r) => ({
      monitor: r.monitor,
      identity: r.identity,
      state: JSON.parse(r.state) as AlertState,
    }));
  }

  /** Saves `replica`'s open windows (its share of each, with replicas), one row per variant. */
  async saveCheckpoints(
    checkpoints: readonly MonitorCheckpoint[],
    takenAt: number,
    replica: string = LOCAL_REPLICA,
  ): Promise<void> {
    if (checkpoints.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const c of checkpoints) {
        // Segment windows and closed windows ride in the same row (its key is the variant): the
        // windower reads only the fields it knows, so a checkpoint without them reads as before.
        const state = JSON.stringify({
          ...c.state,
          ...(c.segments === undefined ? {} : { segments: c.segments }),
          ...(c.closed === undefined ? {} : { closed: c.closed }),
        });
        await tx
          .insertInto("monitor_checkpoints")
          .values({
            monitor: c.monitor,
            variant: c.variant,
            replica,
            model: c.model,
            version: c.version,
            taken_at: takenAt,
            state,
          })
          .onConflict((oc) =>
            oc
              .columns(["monitor", "variant", "replica"])
              .doUpdateSet({ model: c.model, version: c.version, taken_at: takenAt, state }),
          )
          .execute();
      }
    });
  }

  /** The open windows `replica` saved (a restarted single process resumes its own). */
  async checkpoints(
    replica: string = LOCAL_REPLICA,
  ): Promise<Array<MonitorCheckpoint & { takenAt: number }>> {
    const rows = await this.db
      .selectFrom("monitor_checkpoints")
      .selectAll()
      .where("replica", "=", replica)
      .execute();
    return rows.map(checkpointOf);
  }

  /** Every replica's share of a monitor's windows, for the replica that evaluates them. */
  async shares(monitor: string): Promise<Array<WindowShare<WindowSketchJSON>>> {
    const rows = await this.db
      .selectFrom("monitor_checkpoints")
      .selectAll()
      .where("monitor", "=", monitor)
      .execute();
    return rows.map((r) => {
      const c = checkpointOf(r);
      return {
        replica: r.replica,
        variant: c.variant,
        model: c.model,
        version: c.version,
        takenAt: c.takenAt,
        state: c.state,
        ...(c.segments === undefined ? {} : { segments: c.segments }),
        closed: c.closed ?? [],
      };
    });
  }

  /** Deletes shares nobody needs (those of replicas gone, every window of them evaluated). */
  async deleteShares(
    monitor: string,
    shares: ReadonlyArray<{ readonly variant: string; readonly replica: string }>,
  ): Promise<void> {
    for (const s of shares) {
      await this.db
        .deleteFrom("monitor_checkpoints")
        .where("monitor", "=", monitor)
        .where("variant", "=", s.variant)
        .where("replica", "=", s.replica)
        .execute();
    }
  }

  /** Deletes one replica's shares of a monitor (it stopped running the monitor). */
  async forgetShares(monitor: string, replica: string): Promise<void> {
    await this.db
      .deleteFrom("monitor_checkpoints")
      .where("monitor", "=", monitor)
      .where("replica", "=", replica)
      .execute();
  }

  /** Per variant, the end of the latest overall window evaluated (windows up to it are done). */
  async evaluatedThrough(monitor: string): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom("monitor_windows")
      .select(["variant", (eb) => eb.fn.max("window_end").as("end")])
      .where("monitor", "=", monitor)
      .where("segment", "=", "")
      .groupBy("variant")
      .execute();
    return new Map(rows.map((r) => [r.variant, Number(r.end)]));
  }
}

function checkpointOf(r: {
  monitor: string;
  variant: string;
  model: string;
  version: number;
  taken_at: number;
  state: string;
}): MonitorCheckpoint & { takenAt: number } {
  const { segments, closed, ...state } = JSON.parse(r.state) as MonitorCheckpoint["state"] & {
    segments?: SegmentCheckpoint;
    closed?: Array<ClosedShare<WindowSketchJSON>>;
  };
  return {
    monitor: r.monitor,
    variant: r.variant,
    model: r.model,
    version: Number(r.version),
    state,
    ...(segments === undefined ? {} : { segments }),
    ...(closed === undefined ? {} : { closed }),
    takenAt: Number(r.taken_at),
  };
}

function segmentColumn(segment: SegmentRef | undefined): string {
  return segment === undefined ? "" : JSON.stringify([segment.feature, segment.value]);
}

function segmentOf(column: string): { segment?: SegmentRef } {
  if (column === "") return {};
  const [feature, value] = JSON.parse(column) as [string, string];
  return { segment: { feature, value } };
}
