/**
 * What is being served right now: each deployment with its variants resolved to concrete,
 * loaded versions. `sync` loads whatever a deployment newly needs *before* switching to it and
 * retires what it no longer needs afterwards, so a version swap never drops a request.
 */
import { notFound, unavailable } from "../domain/errors.js";
import type { Deployment, ModelVersion, Signature, Variant, VersionRef } from "../domain/model.js";
import type { ModelPool } from "./model-pool.js";
import { versionKey } from "./model-pool.js";

export interface VersionResolver {
  resolve(model: string, ref: VersionRef): Promise<ModelVersion>;
}

export interface DeploymentSource {
  list(): Promise<Deployment[]>;
}

export interface ServedVariant {
  readonly variant: Variant;
  readonly version: ModelVersion;
  /** The registered signature (it carries feature names), else what the runtime read. */
  readonly signature: Signature;
}

export interface ServedDeployment {
  readonly deployment: Deployment;
  readonly variants: readonly ServedVariant[];
}

export interface SyncProblem {
  readonly deployment: string;
  readonly error: string;
}

export class Endpoints {
  private served = new Map<string, ServedDeployment>();
  private problems = new Map<string, string>();
  private syncing: Promise<SyncProblem[]> | undefined;
  private again = false;

  constructor(
    private readonly deployments: DeploymentSource,
    private readonly versions: VersionResolver,
    private readonly pool: ModelPool,
    private readonly random: () => number = Math.random,
  ) {}

  get(name: string): ServedDeployment {
    const served = this.served.get(name);
    if (served === undefined) {
      const problem = this.problems.get(name);
      if (problem !== undefined) throw unavailable(`deployment '${name}' is not serving: ${problem}`);
      throw notFound(`model '${name}' is not deployed; list deployments with GET /api/v1/deployments`);
    }
    return served;
  }

  list(): ServedDeployment[] {
    return [...this.served.values()];
  }

  problemsByDeployment(): ReadonlyMap<string, string> {
    return this.problems;
  }

  /** Ready when every deployment is served and none has a pending load problem. */
  ready(): boolean {
    return this.problems.size === 0;
  }

  /** Picks a live (non-shadow) variant by weight. */
  pick(served: ServedDeployment): ServedVariant {
    const live = served.variants.filter((v) => v.variant.shadow !== true);
    if (live.length === 1) return live[0] as ServedVariant;
    let point = this.random() * live.reduce((sum, v) => sum + v.variant.weight, 0);
    for (const v of live) {
      point -= v.variant.weight;
      if (point < 0) return v;
    }
    return live[live.length - 1] as ServedVariant;
  }

  /**
   * Brings served state in line with the stored deployments. Runs one at a time; a call made
   * while one runs makes it run once more, so the last change always wins.
   */
  sync(): Promise<SyncProblem[]> {
    if (this.syncing !== undefined) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      for (;;) {
        this.again = false;
        const problems = await this.syncOnce();
        if (!this.again) return problems;
      }
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(): Promise<SyncProblem[]> {
    const wanted = await this.deployments.list();
    const next = new Map<string, ServedDeployment>();
    const problems = new Map<string, string>();
    await Promise.all(
      wanted.map(async (deployment) => {
        try {
          const variants = await Promise.all(
            deployment.variants.map(async (variant) => {
              const version = await this.versions.resolve(variant.model, variant.ref);
              const loaded = await this.pool.load(version, deployment.timeoutMs);
              return { variant, version, signature: version.signature ?? loaded.signature };
            }),
          );
          next.set(deployment.name, { deployment, variants });
        } catch (error) {
          problems.set(deployment.name, error instanceof Error ? error.message : String(error));
          // Keep serving what worked before rather than going dark on a bad update.
          const previous = this.served.get(deployment.name);
          if (previous !== undefined) next.set(deployment.name, previous);
        }
      }),
    );
    const before = this.served;
    this.served = next;
    this.problems = problems;
    const stillUsed = new Set(
      [...next.values()].flatMap((d) =>
        d.variants.map((v) => versionKey(v.version.model, v.version.version)),
      ),
    );
    for (const d of before.values()) {
      for (const v of d.variants) {
        if (!stillUsed.has(versionKey(v.version.model, v.version.version))) {
          this.pool.retire(v.version.model, v.version.version);
        }
      }
    }
    return [...problems].map(([deployment, error]) => ({ deployment, error }));
  }
}
