/**
 * Registry and pipeline events, announced: a version registered or an alias moved (by any
 * door: the Registry tells its observer), a candidate stopped at validation, a run finished (the
 * orchestrator calls recordRunEvent). Each is written to the event log, then delivered through
 * the alerting service's one-off event path to the Notifiers whose `events` list names its
 * reason, so the same dispatchers (queue, retries, counters) carry them as carry alerts.
 *
 * Announcing never holds up or fails what it announces: the registry's calls run in the
 * background, and a failure (the store, a Notifier that cannot be read) is counted.
 */
import type { AlertSink } from "../alerts/alerting.js";
import { parseNotifierConfig, type NotifierConfig } from "../alerts/notifiers/index.js";
import type { EventRecorder, NewEvent } from "../events/event-log.js";
import { isPlainObject } from "../domain/json-value.js";
import type { Announcer } from "../pipelines/run-events.js";
import type { DeclaredSpecs } from "./pipeline-triggers.js";
import { RegistryReason, type RegistryObserver } from "../registry/registry-events.js";
import type { ModelVersion } from "../domain/model.js";

export interface AnnouncementStats {
  readonly announced: number;
  readonly failed: number;
  readonly lastError: string | null;
}

/** Background announcements waiting at most; past it they are dropped and counted. */
const MAX_PENDING = 1000;

export class Announcements implements Announcer, RegistryObserver {
  readonly #pending = new Set<Promise<void>>();
  #announced = 0;
  #failed = 0;
  #lastError: string | null = null;

  constructor(
    private readonly events: EventRecorder,
    private readonly alerts: Pick<AlertSink, "publish">,
    /** The Notifiers subscribed to a reason. */
    private readonly subscribers: (reason: string) => Promise<NotifierConfig[]>,
    private readonly generatorUrl?: string,
  ) {}

  async announce(event: NewEvent): Promise<void> {
    const stored = await this.events.record(event);
    const notifiers = await this.subscribers(event.reason);
    // One source per reason: each keeps a stable set of receivers (the service closes the
    // dispatchers a source stops naming).
    this.alerts.publish({
      source: { kind: "registry", name: event.reason },
      severity: stored.type === "Warning" ? "warning" : "info",
      labels: {
        alertname: `Ballast${event.reason}`,
        reason: event.reason,
        kind: stored.kind,
        name: stored.name,
        event: stored.id,
      },
      annotations: {
        summary: stored.message,
        details: JSON.stringify(stored.details),
      },
      ...(this.generatorUrl === undefined ? {} : { generatorUrl: `${this.generatorUrl}/api/v1/events` }),
      at: stored.at,
      notifiers,
    });
    this.#announced += 1;
  }

  versionRegistered(version: ModelVersion): void {
    const lineage = version.lineage;
    this.#background({
      kind: "Model",
      name: version.model,
      reason: RegistryReason.VersionRegistered,
      message: `version ${version.version} of ${version.model} registered (${version.flavor}, sha256:${version.artifactSha256.slice(0, 12)})`,
      details: {
        model: version.model,
        version: version.version,
        flavor: version.flavor,
        artifactSha256: version.artifactSha256,
        source: version.source,
        metrics: version.metrics,
        lineage,
      },
    });
  }

  aliasMoved(change: { model: string; alias: string; from: number | null; to: number; at: number }): void {
    this.#background({
      kind: "Model",
      name: change.model,
      reason: RegistryReason.AliasMoved,
      message:
        change.from === null
          ? `alias @${change.alias} of ${change.model} set to version ${change.to}`
          : `alias @${change.alias} of ${change.model} moved from version ${change.from} to ${change.to}`,
      details: { model: change.model, alias: change.alias, from: change.from, to: change.to },
    });
  }

  /** Resolves once the background announcements made so far are done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  stats(): AnnouncementStats {
    return { announced: this.#announced, failed: this.#failed, lastError: this.#lastError };
  }

  #background(event: NewEvent): void {
    if (this.#pending.size >= MAX_PENDING) {
      this.#failed += 1;
      this.#lastError = "too many announcements pending; one was dropped";
      return;
    }
    const work = this.announce(event)
      .catch((error: unknown) => {
        this.#failed += 1;
        this.#lastError = error instanceof Error ? error.message : String(error);
      })
      .finally(() => this.#pending.delete(work));
    this.#pending.add(work);
  }
}

/** The Notifier resources whose `events` name `reason`, as notifier configurations. */
export function subscribedNotifiers(resources: DeclaredSpecs) {
  return async (reason: string): Promise<NotifierConfig[]> => {
    const declared = (await resources.list()).filter((r) => r.manifest.kind === "Notifier");
    return declared.flatMap((r) => {
      const spec = r.manifest.spec;
      if (!isPlainObject(spec)) return [];
      const { events, ...config } = spec;
      if (!Array.isArray(events) || !events.includes(reason)) return [];
      return [
        parseNotifierConfig(
          { ...config, name: r.manifest.metadata.name },
          `Notifier ${r.manifest.metadata.name}`,
        ),
      ];
    });
  };
}
