/**
 * What is being served right now: each deployment with its variants resolved to concrete,
 * loaded versions. `sync` loads whatever a deployment newly needs *before* switching to it and
 * retires what it no longer needs afterwards, so a version swap never drops a request.
 */
export { FALLBACK_VERSION, STATIC_FALLBACK } from "./served.js";
export type { ServedDeployment, ServedFallback, ServedVariant } from "./served.js";
import { notFound, unavailable } from "../domain/errors.js";
import type { Deployment, ModelVersion, Variant, VersionRef } from "../domain/model.js";
import type { ModelPool } from "./model-pool.js";
import type { RequestAttributes } from "./routing.js";
import { pickVariant } from "./plan.js";
import {
  FALLBACK_VERSION,
  type ServedDeployment,
  type ServedFallback,
  type ServedVariant,
} from "./served.js";
import { versionKey } from "./model-pool.js";

export interface VersionResolver {
  resolve(model: string, ref: VersionRef): Promise<ModelVersion>;
}

export interface DeploymentSource {
  list(): Promise<Deployment[]>;
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
      // The problem quotes files and remote servers: the server log gets it, the client not.
      if (problem !== undefined)
        throw unavailable(`deployment '${name}' is not serving; see the server log`, { detail: problem });
      throw notFound(`model '${name}' is not deployed; list deployments with GET /api/v1/deployments`);
    }
    return served;
  }

  /** Whether `name` is a deployment here (serving or not), so other answerers (routers) keep off it. */
  has(name: string): boolean {
    return this.served.has(name) || this.problems.has(name);
  }

  list(): ServedDeployment[] {
    return [...this.served.values()];
  }

  /**
   * The fixed size every variant of `deployment` declares for `input`'s second dimension (a
   * window of returns, [-1, w]); undefined when it is not served, a variant declares none or a
   * free one (-1), or the variants differ.
   */
  columnsOf(deployment: string, input: string): number | undefined {
    const served = this.served.get(deployment);
    if (served === undefined) return undefined;
    const sizes = new Set(
      served.variants.map((v) => v.signature?.inputs.find((i) => i.name === input)?.shape[1] ?? -1),
    );
    const [only] = sizes;
    return sizes.size === 1 && only !== undefined && only > 0 ? only : undefined;
  }

  problemsByDeployment(): ReadonlyMap<string, string> {
    return this.problems;
  }

  /** Ready when every deployment is served and none has a pending load problem. */
  ready(): boolean {
    return this.problems.size === 0;
  }

  /**
   * Deployments whose served state is not what the store declares now: changed or moved by
   * another replica (or an alias moved) since this one last synced, created, or deleted.
   * Readiness asks this, so a replica that has not caught up takes no traffic.
   */
  async behind(): Promise<string[]> {
    const declared = await this.deployments.list();
    const names = new Set(declared.map((d) => d.name));
    const stale = [...this.served.keys()].filter((name) => !names.has(name));
    for (const deployment of declared) {
      const served = this.served.get(deployment.name);
      if (served === undefined) {
        if (!this.problems.has(deployment.name)) stale.push(deployment.name);
        continue;
      }
      if (served.deployment.updatedAt !== deployment.updatedAt) {
        stale.push(deployment.name);
        continue;
      }
      for (const variant of served.variants) {
        const version = await this.versions
          .resolve(variant.variant.model, variant.variant.ref)
          .catch(() => null);
        if (version === null || version.version !== variant.version.version) {
          stale.push(deployment.name);
          break;
        }
      }
    }
    return stale;
  }

  /**
   * Picks the variant that answers: by the deployment's routing (header rules, sticky key)
   * when it has one, else a live (non-shadow) variant at random by weight.
   */
  pick(served: ServedDeployment, request?: RequestAttributes): ServedVariant {
    return pickVariant(served, request, this.random);
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
          const serve = async (variant: Variant): Promise<ServedVariant> => {
            const version = await this.versions.resolve(variant.model, variant.ref);
            const loaded = await this.pool.load(version, deployment.timeoutMs);
            return { variant, version, signature: version.signature ?? loaded.signature };
          };
          const variants = await Promise.all(deployment.variants.map(serve));
          const fallback = await this.fallbackOf(deployment, variants, serve);
          next.set(deployment.name, {
            deployment,
            variants,
            ...(fallback === undefined ? {} : { fallback }),
            ...(variants.some((v) => v.variant.shadow === true) ? { hasShadows: true as const } : {}),
          });
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
        loadedBy(d).map((v) => versionKey(v.version.model, v.version.version)),
      ),
    );
    for (const d of before.values()) {
      for (const v of loadedBy(d)) {
        if (!stillUsed.has(versionKey(v.version.model, v.version.version))) {
          this.pool.retire(v.version.model, v.version.version);
        }
      }
    }
    return [...problems].map(([deployment, error]) => ({ deployment, error }));
  }

  /** A fallback version is loaded and warmed like a variant: it must answer at once when asked. */
  private async fallbackOf(
    deployment: Deployment,
    variants: readonly ServedVariant[],
    serve: (variant: Variant) => Promise<ServedVariant>,
  ): Promise<ServedFallback | undefined> {
    const spec = deployment.resilience?.fallback;
    if (spec === undefined) return undefined;
    if ("response" in spec) return { kind: "static", outputs: spec.response.outputs };
    if ("variant" in spec) {
      const target = variants.find((v) => v.variant.name === spec.variant);
      // The spec check guarantees the variant exists; a stored spec edited by hand may not.
      if (target === undefined) throw new Error(`fallback variant "${spec.variant}" is not a variant`);
      return { kind: "model", target };
    }
    const target = await serve({ name: FALLBACK_VERSION, model: spec.model, ref: spec.ref, weight: 0 });
    return { kind: "model", target };
  }
}

/** Every version a served deployment keeps loaded, its fallback version included. */
function loadedBy(d: ServedDeployment): readonly ServedVariant[] {
  return d.fallback?.kind === "model" && d.fallback.target.variant.name === FALLBACK_VERSION
    ? [...d.variants, d.fallback.target]
    : d.variants;
}
