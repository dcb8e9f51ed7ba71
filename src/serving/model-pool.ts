/**
 * The loaded models, one per (model, version). Loading is explicit and single-flight; a model
 * counts as ready only once loaded and warmed. A version that stops being served is unloaded
 * only after its last in-flight request has finished, so swaps drop nothing.
 */
import { BallastError, unavailable } from "../domain/errors.js";
import type { ModelVersion } from "../domain/model.js";
import type { LoadedModel, Runtime } from "../runtimes/runtime.js";

export type ModelState = "loading" | "ready" | "failed";

export interface PoolEvents {
  stateChanged(model: string, version: number, state: ModelState | "unloaded"): void;
}

interface Entry {
  readonly version: ModelVersion;
  state: ModelState;
  loading: Promise<LoadedModel> | undefined;
  loaded: LoadedModel | undefined;
  error: string | undefined;
  inFlight: number;
  retired: boolean;
}

export interface ModelLease {
  readonly model: LoadedModel;
  release(): void;
}

export const versionKey = (model: string, version: number): string => `${model}@${version}`;

export class ModelPool {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly runtimeFor: (flavor: ModelVersion["flavor"]) => Runtime,
    /** The artifact's local file, fetched first if this replica does not have it yet. */
    private readonly artifactPath: (sha256: string) => Promise<string>,
    private readonly events: PoolEvents = { stateChanged: () => {} },
  ) {}

  /** Loads and warms the version unless it already is; concurrent callers share one load. */
  async load(version: ModelVersion, timeoutMs: number): Promise<LoadedModel> {
    const key = versionKey(version.model, version.version);
    let entry = this.entries.get(key);
    if (entry?.loaded !== undefined && entry.state === "ready") {
      entry.retired = false;
      return entry.loaded;
    }
    if (entry?.loading !== undefined) return entry.loading;
    entry = {
      version,
      state: "loading",
      loading: undefined,
      loaded: undefined,
      error: undefined,
      inFlight: 0,
      retired: false,
    };
    this.entries.set(key, entry);
    this.events.stateChanged(version.model, version.version, "loading");
    const current = entry;
    current.loading = (async () => {
      try {
        const runtime = this.runtimeFor(version.flavor);
        const loaded = await runtime.load({
          artifactPath: await this.artifactPath(version.artifactSha256),
          signature: version.signature,
          timeoutMs,
        });
        await loaded.warm();
        current.loaded = loaded;
        current.state = "ready";
        this.events.stateChanged(version.model, version.version, "ready");
        return loaded;
      } catch (error) {
        current.state = "failed";
        current.error = error instanceof Error ? error.message : String(error);
        this.events.stateChanged(version.model, version.version, "failed");
        throw new BallastError(
          "unavailable",
          `model ${version.model} version ${version.version} failed to load: ${current.error}`,
        );
      } finally {
        current.loading = undefined;
      }
    })();
    return current.loading;
  }

  /** Borrows a ready model for one request; the caller must release it. */
  lease(model: string, version: number): ModelLease {
    const entry = this.entries.get(versionKey(model, version));
    if (entry === undefined || entry.state !== "ready" || entry.loaded === undefined) {
      // Why it failed quotes files and remote servers: the server log gets it, the client not.
      const why = entry?.state === "failed" ? "failed to load" : (entry?.state ?? "not loaded");
      throw unavailable(
        `model ${model} version ${version} is not ready (${why})`,
        entry?.error === undefined ? undefined : { detail: entry.error },
      );
    }
    entry.inFlight++;
    let released = false;
    return {
      model: entry.loaded,
      release: () => {
        if (released) return;
        released = true;
        entry.inFlight--;
        if (entry.retired && entry.inFlight === 0) void this.unload(entry);
      },
    };
  }

  state(model: string, version: number): { state: ModelState | "unloaded"; error: string | undefined } {
    const entry = this.entries.get(versionKey(model, version));
    return { state: entry?.state ?? "unloaded", error: entry?.error };
  }

  /** Unloads once idle; a version that is served again before then is kept. */
  retire(model: string, version: number): void {
    const entry = this.entries.get(versionKey(model, version));
    if (entry === undefined) return;
    entry.retired = true;
    if (entry.inFlight === 0 && entry.loading === undefined) void this.unload(entry);
  }

  loadedKeys(): string[] {
    return [...this.entries.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.unload(e)));
  }

  private async unload(entry: Entry): Promise<void> {
    const key = versionKey(entry.version.model, entry.version.version);
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.events.stateChanged(entry.version.model, entry.version.version, "unloaded");
    await entry.loaded?.unload().catch(() => undefined);
  }
}
