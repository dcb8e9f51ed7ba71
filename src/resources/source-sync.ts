/**
 * GitOps: a watched folder or git repository is the source of truth. On every poll the source
 * is fetched, its manifests applied (resources removed from it are pruned), and resources
 * changed around it are reported as out of sync, and put back where they ask for it. Every
 * sync that changes something is recorded with the commit it came from.
 */
import { execFile } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { isAbsolute, join, resolve } from "node:path";
import { promisify } from "node:util";
import { invalid, isBallastError, unavailable } from "../domain/errors.js";
import type { Clock } from "../domain/clock.js";
import type { EventRecorder } from "../events/event-log.js";
import { readContainedManifests, type SkippedFile } from "./files.js";
import type { ResourceSource } from "./resource-store.js";
import type { PlannedChange, ResourceService } from "./service.js";

const run = promisify(execFile);

/** What a poll found: the folder to read, and for git the commit it holds. */
export interface Checkout {
  readonly dir: string;
  /** Nothing outside this folder (the clone, or the watched folder) is read, symlinks or not. */
  readonly root: string;
  readonly source: ResourceSource;
}

export interface ManifestSource {
  readonly location: string;
  fetch(): Promise<Checkout>;
}

export function folderSource(path: string): ManifestSource {
  const dir = resolve(path);
  return {
    location: dir,
    async fetch() {
      await stat(dir).catch(() => {
        throw unavailable(`watched folder ${dir} does not exist`);
      });
      return { dir, root: dir, source: { via: "folder", location: dir } };
    },
  };
}

export interface GitOptions {
  /** A URL or a local path that `git clone` accepts. */
  readonly repo: string;
  readonly branch: string;
  /** A folder inside the repository holding the manifests. */
  readonly path?: string;
  /** Where clones live (one per repository and branch). */
  readonly workDir: string;
  /** Longest a git command may take. */
  readonly timeoutMs?: number;
}

export function gitSource(options: GitOptions): ManifestSource {
  // Refused up front; a symlink on the way is caught when the files are read.
  const path = options.path;
  if (path !== undefined && (isAbsolute(path) || path.split(/[\\/]/).includes(".."))) {
    throw invalid(
      `--git-path must be a folder inside the repository, without .. or a leading /; got '${path}'`,
    );
  }
  const key = createHash("sha256").update(`${options.repo}#${options.branch}`).digest("hex").slice(0, 16);
  const clone = join(options.workDir, key);
  const git = async (args: string[], cwd?: string): Promise<string> => {
    try {
      const { stdout } = await run("git", args, {
        cwd,
        timeout: options.timeoutMs ?? 60_000,
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      });
      return stdout.trim();
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim().split("\n").pop();
      throw unavailable(
        `git ${args[0] ?? ""} of ${options.repo} (${options.branch}) failed: ${stderr ?? String(error)}`,
      );
    }
  };
  return {
    location: options.repo,
    async fetch() {
      const cloned = await stat(join(clone, ".git")).then(
        () => true,
        () => false,
      );
      if (!cloned) {
        await mkdir(options.workDir, { recursive: true });
        await git(["clone", "--quiet", "--branch", options.branch, "--single-branch", options.repo, clone]);
      } else {
        await git(["fetch", "--quiet", "origin", options.branch], clone);
        // The branch as the remote has it; local edits in the clone are not a source of truth.
        await git(["reset", "--quiet", "--hard", "FETCH_HEAD"], clone);
      }
      const commit = await git(["rev-parse", "HEAD"], clone);
      const dir = path === undefined ? clone : resolve(clone, path);
      return {
        dir,
        root: clone,
        source: { via: "git", location: options.repo, branch: options.branch, commit },
      };
    },
  };
}

export interface SyncStatus {
  readonly location: string;
  readonly commit?: string;
  readonly lastSyncAt: number | null;
  readonly lastChangeAt: number | null;
  readonly lastError: string | null;
  readonly syncs: number;
  readonly failures: number;
  /** Resources changed around the source (with the difference), as of the last poll. */
  readonly outOfSync: Array<{ kind: string; name: string; diff: string }>;
  /** Files not read at the last poll (symlinks out of the source, symlinked folders), with why. */
  readonly skipped: readonly SkippedFile[];
}

export class SourceSync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private state: {
    commit?: string;
    lastSyncAt: number | null;
    lastChangeAt: number | null;
    lastError: string | null;
    syncs: number;
    failures: number;
    outOfSync: SyncStatus["outOfSync"];
    skipped: readonly SkippedFile[];
  } = {
    lastSyncAt: null,
    lastChangeAt: null,
    lastError: null,
    syncs: 0,
    failures: 0,
    outOfSync: [],
    skipped: [],
  };

  constructor(
    private readonly source: ManifestSource,
    private readonly resources: ResourceService,
    private readonly events: EventRecorder,
    private readonly clock: Clock,
    /** With replicas: polls run only on the one holding the source-sync lease. */
    private readonly leased: (work: () => Promise<unknown>) => Promise<unknown> = (work) => work(),
  ) {}

  /** Polls every `intervalMs` from now on (the first poll is the caller's, so it can wait on it). */
  start(intervalMs: number): void {
    if (!(intervalMs >= 1000)) throw invalid("the sync interval must be at least 1 s");
    this.timer = setInterval(() => void this.leased(() => this.sync()), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  status(): SyncStatus {
    return { location: this.source.location, ...this.state };
  }

  /** One poll; overlapping calls share the one running. Never throws: failures are recorded. */
  sync(): Promise<void> {
    this.running ??= this.syncOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    let checkout: Checkout | undefined;
    try {
      checkout = await this.source.fetch();
      const { manifests, skipped } = await readContainedManifests(checkout.dir, checkout.root);
      await this.noteSkipped(skipped);
      const result = await this.resources.apply({
        manifests: manifests.map((m) => ({ manifest: m.manifest, origin: m.origin })),
        source: checkout.source,
        prune: true,
        revertLiveChanges: false,
      });
      const changed = result.changes.filter((c) => c.action !== "unchanged");
      const healed = await this.resources.heal();
      await this.noteDrift();
      const commit = checkout.source.commit;
      if (changed.length > 0 || (commit !== undefined && commit !== this.state.commit)) {
        await this.events.record({
          kind: "Source",
          name: this.source.location,
          reason: "Synced",
          message: `${summary(changed)} from ${this.source.location}${commit === undefined ? "" : ` at ${commit.slice(0, 12)}`}`,
          details: {
            source: checkout.source,
            changes: changed.map(({ kind, name, action }) => ({ kind, name, action })),
          },
        });
        this.state.lastChangeAt = this.clock.now();
      }
      if (healed.length > 0) this.state.lastChangeAt = this.clock.now();
      if (commit !== undefined) this.state.commit = commit;
      this.state.lastError = null;
      this.state.syncs++;
      this.state.lastSyncAt = this.clock.now();
    } catch (error) {
      this.state.failures++;
      const message = error instanceof Error ? error.message : String(error);
      // A broken commit is reported once, not on every poll until it is fixed.
      if (message !== this.state.lastError) {
        await this.events
          .record({
            kind: "Source",
            name: this.source.location,
            type: "Warning",
            reason: "SyncFailed",
            message: `nothing applied from ${this.source.location}${checkout?.source.commit === undefined ? "" : ` at ${checkout.source.commit.slice(0, 12)}`}: ${message}`,
            details: {
              ...(checkout === undefined ? {} : { source: checkout.source }),
              invalid: isBallastError(error),
            },
          })
          .catch(() => undefined);
      }
      this.state.lastError = message;
    }
  }

  /** Reports skipped files when the list changes, not on every poll. */
  private async noteSkipped(skipped: readonly SkippedFile[]): Promise<void> {
    const key = (list: readonly SkippedFile[]) => JSON.stringify(list);
    const changed = key(skipped) !== key(this.state.skipped);
    this.state.skipped = skipped;
    if (!changed || skipped.length === 0) return;
    await this.events.record({
      kind: "Source",
      name: this.source.location,
      type: "Warning",
      reason: "FilesSkipped",
      message: `${skipped.length} file(s) in ${this.source.location} not read: ${skipped.map((s) => `${s.file} (${s.reason})`).join(", ")}`,
      details: { skipped },
    });
  }

  /** Reports each resource once when it goes out of sync. */
  private async noteDrift(): Promise<void> {
    const now = await this.resources.outOfSync();
    const before = new Set(this.state.outOfSync.map((o) => `${o.kind}/${o.name}`));
    this.state.outOfSync = now.map((v) => ({
      kind: v.manifest.kind,
      name: v.manifest.metadata.name,
      diff: v.status.diff ?? "(missing: deleted outside its source)",
    }));
    for (const o of this.state.outOfSync) {
      if (before.has(`${o.kind}/${o.name}`)) continue;
      await this.events.record({
        kind: o.kind,
        name: o.name,
        type: "Warning",
        reason: "OutOfSync",
        message: `${o.kind} ${o.name} differs from ${this.source.location}; set annotation ballast.io/self-heal: "true" to have it put back`,
        details: { diff: o.diff },
      });
    }
  }
}

function summary(changes: readonly PlannedChange[]): string {
  if (changes.length === 0) return "no changes";
  return changes.map((c) => `${c.kind.toLowerCase()}/${c.name} ${c.action}`).join(", ");
}
