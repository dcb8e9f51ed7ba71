/**
 * The one way to change a monitor (HTTP, manifests): store it, run it here, point it at what
 * its deployment serves, and tell the other replicas, which re-read the stored monitors and
 * start, replace or stop what differs (`heard`). A monitor that did not change keeps its open
 * windows and alerts: only a changed spec starts over.
 */
import type { AnyMonitorSpec } from "../monitoring/monitor-spec.js";
import type { MonitorStore } from "../monitoring/monitor-store.js";
import type { Monitors } from "../monitoring/monitors.js";

export interface MonitorChangeParts {
  readonly store: Pick<MonitorStore, "put" | "delete" | "listAll">;
  readonly monitors: Pick<Monitors, "checkAccess" | "put" | "delete" | "settled" | "specs">;
  /** Points a deployment's monitors at the versions it serves now. */
  readonly pointMonitors: (deployment: string) => void;
  /** Tells the other replicas that monitors changed (a no-op on one node). */
  readonly announce: () => Promise<void>;
  /** Deletes what this replica saved of a monitor's open windows (it stopped running it). */
  readonly forgetWindows: (monitor: string) => Promise<void>;
}

/** What a replica does to run what is stored: specs to start or replace, names to stop. */
export interface MonitorReload {
  readonly put: AnyMonitorSpec[];
  readonly remove: string[];
}

/** Compares what runs with what is stored (pure): new and changed specs, and those gone. */
export function monitorReload(
  running: readonly AnyMonitorSpec[],
  stored: readonly AnyMonitorSpec[],
): MonitorReload {
  const now = new Map(running.map((s) => [s.name, canonical(s)]));
  const wanted = new Set(stored.map((s) => s.name));
  return {
    put: stored.filter((s) => now.get(s.name) !== canonical(s)),
    remove: running.map((s) => s.name).filter((name) => !wanted.has(name)),
  };
}

export class MonitorChanges {
  constructor(private readonly parts: MonitorChangeParts) {}

  /** Creates or replaces a monitor (its notifiers checked before anything is stored). */
  async put(spec: AnyMonitorSpec): Promise<void> {
    this.parts.monitors.checkAccess(spec);
    await this.parts.store.put(spec);
    this.parts.monitors.put(spec);
    this.parts.pointMonitors(spec.deployment);
    await this.parts.announce();
    await this.parts.monitors.settled();
  }

  /** Deletes a monitor (404 when it does not run here). */
  async remove(name: string): Promise<void> {
    this.parts.monitors.delete(name);
    await this.parts.store.delete(name);
    await this.parts.announce();
  }

  /** Another replica changed monitors (or this one may have missed it): run what is stored. */
  async heard(): Promise<void> {
    const plan = monitorReload(this.parts.monitors.specs(), await this.parts.store.listAll());
    for (const name of plan.remove) {
      this.parts.monitors.delete(name);
      // A share written between the delete and hearing of it would outlive the monitor.
      await this.parts.forgetWindows(name);
    }
    for (const spec of plan.put) {
      // Stored specs are not refused for their notifiers here: their sends are, one by one.
      this.parts.monitors.put(spec);
      this.parts.pointMonitors(spec.deployment);
    }
    if (plan.put.length > 0) await this.parts.monitors.settled();
  }
}

/** JSON with keys sorted, so two equal specs read back in another key order compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}
