/**
 * Deployments: named, weighted sets of variants, each pointing at a model version directly or
 * through an alias. Stored as one JSON spec per row so adding routing options needs no migration.
 */
import type { Kysely } from "kysely";
import type { Clock } from "../domain/clock.js";
import { isBallastError, notFound } from "../domain/errors.js";
import type { Deployment, ModelVersion, Variant } from "../domain/model.js";
import type { Store } from "../store/db.js";
import type { Database } from "../store/schema.js";
import { checkDeployment, type DeploymentChecks, type DeploymentInput } from "./deployment-spec.js";
import type { Registry } from "./registry.js";
import { deploymentFromRow, deploymentSpecToJson } from "./rows.js";
import { lockModel, resolveRef } from "./version-lookup.js";

export interface ResolvedVariant {
  readonly variant: Variant;
  readonly version: ModelVersion;
}

export class DeploymentStore {
  private readonly db: Kysely<Database>;

  constructor(
    store: Store,
    private readonly registry: Registry,
    private readonly clock: Clock,
    /** What the layer above checks in a deployment (its rollout strategy). */
    private readonly checks: DeploymentChecks = {},
  ) {
    this.db = store.db;
  }

  /** Creates or replaces the deployment; createdAt survives a replace. */
  async put(input: DeploymentInput): Promise<Deployment> {
    const { name, variants, timeoutMs, resilience, routing, strategy } = checkDeployment(input, this.checks);
    const fallback = resilience?.fallback;
    const fallbackVersion = fallback !== undefined && "model" in fallback ? fallback : undefined;
    const row = await this.db.transaction().execute(async (tx) => {
      // Locking the models (in name order, so two puts cannot deadlock) keeps a concurrent
      // deleteVersion from removing a version this deployment is about to reference.
      const referenced = [
        ...variants.map((v) => v.model),
        ...(fallbackVersion ? [fallbackVersion.model] : []),
      ];
      const models = [...new Set(referenced)].sort();
      for (const model of models) {
        const at = variants.findIndex((v) => v.model === model);
        const field = at < 0 ? "resilience.fallback.model" : `variants[${at}].model`;
        await withField(field, () => lockModel(tx, model));
      }
      for (const [i, variant] of variants.entries()) {
        await withField(`variants[${i}].ref`, () => resolveRef(tx, variant.model, variant.ref));
      }
      if (fallbackVersion !== undefined) {
        await withField("resilience.fallback.ref", () =>
          resolveRef(tx, fallbackVersion.model, fallbackVersion.ref),
        );
      }
      const now = this.clock.now();
      return tx
        .insertInto("deployments")
        .values({
          name,
          spec: deploymentSpecToJson({ variants, timeoutMs, resilience, routing, strategy }),
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column("name").doUpdateSet((eb) => ({
            spec: eb.ref("excluded.spec"),
            updated_at: eb.ref("excluded.updated_at"),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return deploymentFromRow(row);
  }

  async get(name: string): Promise<Deployment> {
    const row = await this.db
      .selectFrom("deployments")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    if (row === undefined) throw notFound(`deployment "${name}" not found`, { deployment: name });
    return deploymentFromRow(row);
  }

  async list(): Promise<Deployment[]> {
    const rows = await this.db.selectFrom("deployments").selectAll().orderBy("name").execute();
    return rows.map(deploymentFromRow);
  }

  async delete(name: string): Promise<void> {
    const deleted = await this.db
      .deleteFrom("deployments")
      .where("name", "=", name)
      .returning("name")
      .execute();
    if (deleted.length === 0) throw notFound(`deployment "${name}" not found`, { deployment: name });
  }

  /** The version each variant points at right now (aliases followed), in variant order. */
  async resolve(name: string): Promise<ResolvedVariant[]> {
    const deployment = await this.get(name);
    return Promise.all(
      deployment.variants.map(async (variant) => ({
        variant,
        version: await this.registry.resolve(variant.model, variant.ref),
      })),
    );
  }
}

/** Prefixes a not-found with the field that named the missing thing. */
async function withField<T>(field: string, lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup();
  } catch (error) {
    if (isBallastError(error) && error.code === "not_found") {
      throw notFound(`${field}: ${error.message}`, { field, ...error.details });
    }
    throw error;
  }
}
