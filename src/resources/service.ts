/**
 * Declared state into actual state. An apply checks every manifest of the batch first
 * (envelope, spec, references, versions) and changes nothing if any is wrong; then it applies
 * them in dependency order and records each change as an event with where it came from.
 * Applies, deletes and syncs run one at a time, so two of them never interleave.
 */
import { SerialQueue } from "../domain/serial-queue.js";
import { conflict, invalid, isBallastError, notFound } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { EventRecorder } from "../events/event-log.js";
import type { NotifierConfig } from "../alerts/notifiers/index.js";
import { sameSpec, specDiff } from "./diff.js";
import { redactSecrets } from "../domain/redact.js";
import {
  APPLY_ORDER,
  KIND_RULES,
  canonicalManifest,
  deploymentSpecWith,
  monitorSpecWith,
  notifierNamesOf,
  type Reference,
  type Spec,
} from "./kinds.js";
import type { LiveState } from "./live.js";
import {
  checkEnvelope,
  located,
  locateSpecError,
  SELF_HEAL,
  type Kind,
  type Manifest,
  type ManifestOrigin,
} from "./manifest.js";
import type { DeclaredResource, ResourceSource, ResourceStore } from "./resource-store.js";

export type Action = "created" | "configured" | "unchanged" | "deleted";

export interface PlannedChange {
  readonly kind: Kind;
  readonly name: string;
  readonly action: Action;
  /** Lines removed (`-`) and added (`+`) against the live spec; empty when unchanged. */
  readonly diff: string;
}

export interface ApplyRequest {
  readonly manifests: ReadonlyArray<{ readonly manifest: unknown; readonly origin?: ManifestOrigin }>;
  readonly source: ResourceSource;
  /** Only plan: check everything and say what would change. */
  readonly dryRun?: boolean;
  /** Delete resources applied earlier from the same source location that the batch no longer holds. */
  readonly prune?: boolean;
  /**
   * Whether a resource whose declaration has not changed is put back when its live state was
   * changed around it: `ballast apply` does (the file wins); a watched source only reports it,
   * unless the resource asks for self-healing (see `heal`).
   */
  readonly revertLiveChanges?: boolean;
}

export interface ApplyResult {
  readonly dryRun: boolean;
  readonly changes: PlannedChange[];
}

export type SyncState = "Synced" | "OutOfSync" | "Missing" | "Unmanaged" | "Progressing" | "Degraded";

export interface ResourceView {
  readonly manifest: Manifest;
  readonly status: {
    /** Synced: live equals declared. OutOfSync: changed around the declaration. Missing: declared, not live. Unmanaged: live, never declared. */
    readonly sync: SyncState;
    readonly diff?: string;
    readonly generation?: number;
    readonly source?: ResourceSource;
    readonly appliedAt?: number;
  };
}

interface Planned {
  readonly manifest: Manifest;
  readonly origin: ManifestOrigin;
  readonly action: Action;
  readonly diff: string;
  readonly declared: DeclaredResource | null;
}

export class ResourceService {
  private readonly queue = new SerialQueue();

  constructor(
    private readonly store: ResourceStore,
    private readonly live: LiveState,
    private readonly events: EventRecorder,
    private readonly clock: Clock,
  ) {}

  /** Runs `work` after every apply, delete or heal queued before it. */
  serialize<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  apply(request: ApplyRequest): Promise<ApplyResult> {
    return this.serialize(() => this.applyNow(request));
  }

  delete(kind: Kind, name: string, source: ResourceSource): Promise<PlannedChange> {
    return this.serialize(async () => {
      const declared = await this.store.get(kind, name);
      const live = await this.live.get(kind, name);
      if (declared === null && live === null) throw notFound(`${kind} ${name} does not exist`);
      await this.refuseIfUsed(kind, name, new Set());
      await this.remove(kind, name, source, "Deleted");
      return { kind, name, action: "deleted", diff: specDiff(live ?? declared?.manifest.spec, null) };
    });
  }

  async get(kind: Kind, name: string): Promise<ResourceView> {
    const declared = await this.store.get(kind, name);
    const live = await this.live.get(kind, name);
    if (declared === null && live === null) {
      throw notFound(`${kind} ${name} does not exist; list them with \`ballast get ${kind.toLowerCase()}\``);
    }
    return this.view(kind, name, declared, live);
  }

  async list(kind: Kind): Promise<ResourceView[]> {
    const declared = new Map((await this.store.list(kind)).map((d) => [d.manifest.metadata.name, d]));
    const names = new Set([...declared.keys(), ...(await this.live.names(kind))]);
    return Promise.all(
      [...names]
        .sort()
        .map(async (name) =>
          this.view(kind, name, declared.get(name) ?? null, await this.live.get(kind, name)),
        ),
    );
  }

  /** Declared resources whose live state differs from their declaration (or is gone). */
  async outOfSync(): Promise<ResourceView[]> {
    const all = await Promise.all(APPLY_ORDER.map((kind) => this.list(kind)));
    return all.flat().filter((v) => v.status.sync === "OutOfSync" || v.status.sync === "Missing");
  }

  /**
   * Puts out-of-sync resources back to their declaration where they ask for it
   * (annotation `ballast.io/self-heal: "true"`); the others are only reported.
   */
  heal(): Promise<PlannedChange[]> {
    return this.serialize(async () => {
      const healed: PlannedChange[] = [];
      for (const view of await this.outOfSync()) {
        if (view.manifest.metadata.annotations?.[SELF_HEAL] !== "true") continue;
        const { kind, metadata } = view.manifest;
        const declared = await this.store.get(kind, metadata.name);
        if (declared === null) continue;
        await this.live.put(kind, metadata.name, await this.resolved(declared.manifest, []));
        await this.events.record({
          kind,
          name: metadata.name,
          type: "Warning",
          reason: "Reverted",
          message: `${kind} ${metadata.name} was changed outside its source; put back to generation ${declared.generation}`,
          details: { diff: view.status.diff ?? "", source: declared.source },
        });
        healed.push({ kind, name: metadata.name, action: "configured", diff: view.status.diff ?? "" });
      }
      return healed;
    });
  }

  private async applyNow(request: ApplyRequest): Promise<ApplyResult> {
    const planned = await this.plan(request);
    const pruned = request.prune === true ? await this.prunable(request.source, planned) : [];
    const changes: PlannedChange[] = [
      ...planned.map(({ manifest, action, diff }) => ({
        kind: manifest.kind,
        name: manifest.metadata.name,
        action,
        diff,
      })),
      ...pruned,
    ];
    if (request.dryRun === true) return { dryRun: true, changes };

    const batch = planned.map((p) => p.manifest);
    for (const kind of APPLY_ORDER) {
      for (const p of planned.filter((x) => x.manifest.kind === kind && x.action !== "unchanged")) {
        await this.applyOne(p, batch, request.source);
      }
    }
    for (const change of [...pruned].sort(
      (a, b) => APPLY_ORDER.indexOf(b.kind) - APPLY_ORDER.indexOf(a.kind),
    )) {
      await this.remove(change.kind, change.name, request.source, "Pruned");
    }
    return { dryRun: false, changes };
  }

  /** Everything checked, nothing changed: the batch's manifests with what applying each would do. */
  private async plan(request: ApplyRequest): Promise<Planned[]> {
    if (request.manifests.length === 0) throw invalid("nothing to apply: no resources were given");
    const checked = request.manifests.map(({ manifest, origin: given }, index) => {
      const origin = given ?? { file: "request", document: index + 1, line: 1 };
      const envelope = checkEnvelope(manifest, origin);
      try {
        return { manifest: canonicalManifest(envelope), origin };
      } catch (error) {
        throw locateSpecError(error, { manifest: envelope, origin, lineOf: () => origin.line });
      }
    });
    const seen = new Map<string, ManifestOrigin>();
    for (const { manifest, origin } of checked) {
      const key = `${manifest.kind}/${manifest.metadata.name}`;
      const first = seen.get(key);
      if (first !== undefined) {
        throw located(
          origin,
          origin.line,
          manifest,
          "metadata.name",
          `declared twice (also in ${first.file}:${first.line})`,
        );
      }
      seen.set(key, origin);
    }
    const batch = checked.map((c) => c.manifest);
    const out: Planned[] = [];
    for (const { manifest, origin } of checked) {
      const { kind, metadata } = manifest;
      const fail = (error: unknown): never => {
        throw locateSpecError(error, { manifest, origin, lineOf: () => origin.line });
      };
      for (const ref of KIND_RULES[kind].references(manifest.spec)) {
        if (!(await this.exists(ref, batch))) {
          fail(
            invalid(
              `${ref.field}: ${ref.kind} ${ref.name} does not exist; apply it first or in the same batch`,
              {
                field: ref.field,
              },
            ),
          );
        }
      }
      await this.live.check(kind, metadata.name, manifest.spec).catch(fail);
      const declared = await this.store.get(kind, metadata.name);
      const live = await this.live.get(kind, metadata.name);
      const wanted = await this.resolved(manifest, batch).catch(fail);
      const liveChanged = live === null || !sameSpec(live, wanted);
      const declarationChanged = declared === null || !sameSpec(declared.manifest, manifest);
      const revert = request.revertLiveChanges ?? true;
      const action: Action =
        live === null && declared === null
          ? "created"
          : declarationChanged || (liveChanged && revert)
            ? "configured"
            : "unchanged";
      out.push({
        manifest,
        origin,
        action,
        declared,
        diff: action === "unchanged" ? "" : specDiff(live, wanted),
      });
    }
    return out;
  }

  private async applyOne(p: Planned, batch: readonly Manifest[], source: ResourceSource): Promise<void> {
    const { kind, metadata } = p.manifest;
    await this.live.put(kind, metadata.name, await this.resolved(p.manifest, batch));
    const generation =
      (p.declared?.generation ?? 0) +
      (p.declared === null || !sameSpec(p.declared.manifest, p.manifest) ? 1 : 0);
    await this.store.put({
      manifest: p.manifest,
      generation,
      source: { ...source, file: p.origin.file },
      appliedAt: this.clock.now(),
    });
    await this.live.stored(kind, metadata.name);
    await this.events.record({
      kind,
      name: metadata.name,
      reason: p.action === "created" ? "Created" : "Applied",
      message: `${kind} ${metadata.name} ${p.action} (generation ${generation}) from ${describe(source, p.origin.file)}`,
      details: { generation, source: { ...source, file: p.origin.file }, diff: p.diff },
    });
    if (kind === "Notifier") await this.reapplyUsers(metadata.name, batch);
  }

  /** Monitors and deployments that name a changed Notifier get its new configuration. */
  private async reapplyUsers(notifier: string, batch: readonly Manifest[]): Promise<void> {
    for (const { manifest } of await this.store.list()) {
      const { kind, metadata } = manifest;
      if (batch.some((m) => m.kind === kind && m.metadata.name === metadata.name)) continue;
      if (!notifierNamesOf(kind, manifest.spec).includes(notifier)) continue;
      await this.live.put(kind, metadata.name, await this.resolved(manifest, batch));
    }
  }

  private async remove(
    kind: Kind,
    name: string,
    source: ResourceSource,
    reason: "Deleted" | "Pruned",
  ): Promise<void> {
    await this.live.delete(kind, name);
    await this.store.delete(kind, name);
    await this.live.stored(kind, name);
    await this.events.record({
      kind,
      name,
      reason,
      message:
        reason === "Pruned"
          ? `${kind} ${name} deleted: no longer in ${source.location ?? "its source"}${source.commit === undefined ? "" : ` at ${source.commit.slice(0, 12)}`}`
          : `${kind} ${name} deleted via ${source.via}`,
      details: { source },
    });
  }

  /** Resources applied from this source earlier that the batch no longer holds. */
  private async prunable(source: ResourceSource, planned: readonly Planned[]): Promise<PlannedChange[]> {
    if (source.location === undefined)
      throw invalid("prune needs a source location (a folder or repository)");
    const kept = new Set(planned.map((p) => `${p.manifest.kind}/${p.manifest.metadata.name}`));
    const gone = (await this.store.list()).filter(
      (d) =>
        d.source.location === source.location && !kept.has(`${d.manifest.kind}/${d.manifest.metadata.name}`),
    );
    const leaving = new Set(gone.map((d) => `${d.manifest.kind}/${d.manifest.metadata.name}`));
    for (const d of gone)
      await this.refuseIfUsed(d.manifest.kind, d.manifest.metadata.name, leaving, planned);
    return gone.map((d) => ({
      kind: d.manifest.kind,
      name: d.manifest.metadata.name,
      action: "deleted" as const,
      diff: specDiff(d.manifest.spec, null),
    }));
  }

  /** Refuses to delete what a remaining resource still names. */
  private async refuseIfUsed(
    kind: Kind,
    name: string,
    leaving: ReadonlySet<string>,
    planned: readonly Planned[] = [],
  ): Promise<void> {
    const declared = [...(await this.store.list()).map((d) => d.manifest), ...planned.map((p) => p.manifest)];
    for (const other of declared) {
      const key = `${other.kind}/${other.metadata.name}`;
      if (leaving.has(key)) continue;
      const ref = KIND_RULES[other.kind]
        .references(other.spec)
        .find((r) => r.kind === kind && r.name === name);
      if (ref !== undefined) {
        throw conflict(
          `${kind} ${name} is used by ${other.kind} ${other.metadata.name} (${ref.field}); change or delete that first`,
        );
      }
    }
  }

  private async exists(ref: Reference, batch: readonly Manifest[]): Promise<boolean> {
    if (batch.some((m) => m.kind === ref.kind && m.metadata.name === ref.name)) return true;
    return (await this.live.get(ref.kind, ref.name)) !== null;
  }

  /** What the live layer is given: a Monitor with its Notifier names replaced by their configs. */
  /** What the live layer is given: the spec with the Notifier names it uses replaced by their configurations. */
  private async resolved(manifest: Manifest, batch: readonly Manifest[]): Promise<Spec> {
    const configs = new Map<string, NotifierConfig>();
    for (const n of notifierNamesOf(manifest.kind, manifest.spec)) {
      const inBatch = batch.find((m) => m.kind === "Notifier" && m.metadata.name === n);
      const spec = inBatch?.spec ?? (await this.live.get("Notifier", n));
      if (spec === null) throw notFound(`Notifier ${n} does not exist`);
      // Its `events` subscription is the Notifier's own business, not part of a monitor's receiver.
      const { events: _events, ...config } = spec as Record<string, unknown>;
      configs.set(n, config as unknown as NotifierConfig);
    }
    const config = (n: string) => configs.get(n) as NotifierConfig;
    if (manifest.kind === "Deployment") return deploymentSpecWith(manifest.spec, config);
    if (manifest.kind !== "Monitor") return manifest.spec;
    const { name: _name, ...rest } = monitorSpecWith(manifest.metadata.name, manifest.spec, config);
    return rest;
  }

  private async view(
    kind: Kind,
    name: string,
    declared: DeclaredResource | null,
    live: Spec | null,
  ): Promise<ResourceView> {
    if (declared === null) {
      return {
        manifest: { apiVersion: "ballast/v1", kind, metadata: { name }, spec: redactSecrets(live ?? {}) },
        status: { sync: "Unmanaged" },
      };
    }
    let wanted: Spec;
    try {
      wanted = await this.resolved(declared.manifest, []);
    } catch (error) {
      if (!isBallastError(error)) throw error;
      wanted = declared.manifest.spec;
    }
    const plain: SyncState = live === null ? "Missing" : sameSpec(live, wanted) ? "Synced" : "OutOfSync";
    // A rollout on its way to the declared version, or one that was rolled back, is not drift.
    const progress = plain === "OutOfSync" ? await this.live.progress(kind, name) : null;
    const sync: SyncState = progress ?? plain;
    // Views are what clients see: secrets redacted (comparisons above used the real values).
    return {
      manifest: { ...declared.manifest, spec: redactSecrets(declared.manifest.spec) },
      status: {
        sync,
        ...(sync !== "Synced" && live !== null ? { diff: specDiff(wanted, live) } : {}),
        generation: declared.generation,
        source: declared.source,
        appliedAt: declared.appliedAt,
      },
    };
  }
}

function describe(source: ResourceSource, file: string): string {
  const at = source.commit === undefined ? "" : ` at ${source.commit.slice(0, 12)}`;
  return source.via === "git" ? `${source.location ?? "git"} ${file}${at}` : `${file} (${source.via})`;
}
