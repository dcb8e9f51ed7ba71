/**
 * The model registry, MLflow-style: registered models with immutable, numbered versions and
 * aliases (`champion`, `challenger`, …) that move atomically. No stages: what serves is decided
 * by deployments, which point at a version or an alias.
 */
import { resolve as resolvePath } from "node:path";
import type { Kysely } from "kysely";
import type { Clock } from "../domain/clock.js";
import { conflict, invalid, isBallastError, notFound } from "../domain/errors.js";
import {
  refLabel,
  type Flavor,
  type Lineage,
  type ModelVersion,
  type RegisteredModel,
  type Signature,
  type VersionRef,
} from "../domain/model.js";
import type { Store } from "../store/db.js";
import { toJson } from "../store/json.js";
import type { RegistryObserver } from "./registry-events.js";
import type { Database } from "../store/schema.js";
import type { ArtifactStore } from "./artifacts.js";
import { invalidField } from "./field.js";
import { checkFlavor, inferFlavor } from "./flavor.js";
import { checkDescription, checkLineage, checkMetrics, checkTags } from "./metadata.js";
import { checkAliasName, checkModelName, checkVersionNumber, isLatest } from "./names.js";
import { checkReference, loadReference, storeReference, type ProfileFormat } from "./reference.js";
import { deploymentFromRow, modelFromRow, referenceToRow, versionFromRow, versionToRow } from "./rows.js";
import { checkSignature, checkSignatureAgainst } from "./signature.js";
import { findVersion, lockModel, modelNotFound, newestVersion, resolveRef } from "./version-lookup.js";

/** Reads a signature out of an artifact (runtimes implement this); null when it carries none. */
export type InspectArtifact = (flavor: Flavor, artifactPath: string) => Promise<Signature | null>;

export interface RegistryOptions {
  readonly clock: Clock;
  readonly inspect: InspectArtifact;
  /** How reference profiles are validated and serialized; without it, versions take none. */
  readonly profiles?: ProfileFormat;
  /** Told of versions registered and aliases moved, after they commit (the event log, notifiers). */
  readonly observer?: RegistryObserver;
}

export interface RegisterVersionInput {
  readonly model: string;
  readonly artifactPath: string;
  readonly flavor?: Flavor;
  readonly signature?: Signature;
  /** Names of the first input's columns, added to the signature (for the named-feature API). */
  readonly features?: readonly string[];
  readonly tags?: Record<string, string>;
  readonly description?: string;
  readonly metrics?: Record<string, number>;
  readonly lineage?: Lineage;
  /** Where the artifact came from (path or URL); defaults to the absolute artifactPath. */
  readonly source?: string;
  /** Register the same bytes again as a new version instead of returning the existing one. */
  readonly allowDuplicate?: boolean;
  /**
   * The data the version was trained or validated on, profiled; live traffic is compared
   * against it. When the same bytes are already a version, the profile is attached to that one.
   */
  /** A reference profile (validated through the registry's ProfileFormat). */
  readonly referenceProfile?: unknown;
}

export interface RegisterVersionResult {
  readonly version: ModelVersion;
  /** False when the artifact already was a version of this model and that one is returned. */
  readonly created: boolean;
}

/** Fields present replace the stored ones; absent fields stay as they are. */
export interface VersionUpdate {
  readonly tags?: Record<string, string>;
  readonly description?: string;
  readonly metrics?: Record<string, number>;
}

export class Registry {
  private readonly db: Kysely<Database>;
  private readonly clock: Clock;
  private readonly inspect: InspectArtifact;
  private readonly profiles: ProfileFormat | undefined;
  private readonly observer: RegistryObserver | undefined;

  constructor(
    store: Store,
    private readonly artifacts: ArtifactStore,
    options: RegistryOptions,
  ) {
    this.db = store.db;
    this.clock = options.clock;
    this.inspect = options.inspect;
    this.profiles = options.profiles;
    this.observer = options.observer;
  }

  async registerVersion(input: RegisterVersionInput): Promise<RegisterVersionResult> {
    const model = checkModelName(input.model);
    if (typeof input.artifactPath !== "string" || input.artifactPath === "") {
      throw invalidField("artifactPath", "expected the path of the artifact file");
    }
    const given = input.signature === undefined ? undefined : checkSignature(input.signature);
    const tags = checkTags(input.tags);
    const description = checkDescription(input.description);
    const metrics = checkMetrics(input.metrics);
    const lineage = checkLineage(input.lineage);
    if (input.source !== undefined && typeof input.source !== "string") {
      throw invalidField("source", "expected a string");
    }
    const source = input.source ?? resolvePath(input.artifactPath);

    // Everything that touches files happens before the transaction, which stays short. An
    // artifact stored for a registration that then fails is harmless: it is content-addressed.
    const flavor =
      input.flavor === undefined ? await inferFlavor(input.artifactPath) : checkFlavor(input.flavor);
    const artifact = await this.artifacts.put(input.artifactPath);
    const settled = await this.settleSignature(flavor, artifact.path, given);
    const signature = input.features === undefined ? settled : withFeatureNames(settled, input.features);
    const reference =
      input.referenceProfile === undefined
        ? null
        : await storeReference(
            this.artifacts,
            checkReference(this.profiles, input.referenceProfile, signature),
          );

    const result = await this.db.transaction().execute(async (tx) => {
      const now = this.clock.now();
      // Creates the model or locks its row: concurrent registrations of one model queue here,
      // so each sees the versions committed before it and gets the next number.
      await tx
        .insertInto("registered_models")
        .values({
          name: model,
          description: "",
          tags: "{}",
          latest_version: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc
            .column("name")
            .doUpdateSet((eb) => ({ latest_version: eb.ref("registered_models.latest_version") })),
        )
        .execute();

      if (input.allowDuplicate !== true) {
        const existing = await tx
          .selectFrom("model_versions")
          .selectAll()
          .where("model", "=", model)
          .where("artifact_sha256", "=", artifact.sha256)
          .orderBy("version", "desc")
          .limit(1)
          .executeTakeFirst();
        if (existing !== undefined) {
          if (reference === null) return { version: versionFromRow(existing), created: false };
          // The existing version keeps its own signature: the profile must fit that one.
          checkReference(this.profiles, input.referenceProfile, versionFromRow(existing).signature);
          const updated = await tx
            .updateTable("model_versions")
            .set(referenceToRow(reference))
            .where("model", "=", model)
            .where("version", "=", existing.version)
            .returningAll()
            .executeTakeFirstOrThrow();
          return { version: versionFromRow(updated), created: false };
        }
      }

      const { latest_version: number } = await tx
        .updateTable("registered_models")
        .set((eb) => ({ latest_version: eb("latest_version", "+", 1), updated_at: now }))
        .where("name", "=", model)
        .returning("latest_version")
        .executeTakeFirstOrThrow();
      const version: ModelVersion = {
        model,
        version: number,
        flavor,
        artifactSha256: artifact.sha256,
        artifactSize: artifact.size,
        signature,
        tags,
        description,
        metrics,
        lineage,
        source,
        createdAt: now,
        referenceProfile: reference,
      };
      await tx.insertInto("model_versions").values(versionToRow(version)).execute();
      return { version, created: true };
    });
    if (result.created) this.observer?.versionRegistered(result.version);
    return result;
  }

  async getModel(name: string): Promise<RegisteredModel> {
    const row = await this.db
      .selectFrom("registered_models")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    if (row === undefined) throw modelNotFound(name);
    const [aliases, newest] = await Promise.all([
      this.db.selectFrom("model_aliases").select(["alias", "version"]).where("model", "=", name).execute(),
      newestVersion(this.db, name),
    ]);
    return modelFromRow(row, aliasMap(aliases), newest?.version ?? 0);
  }

  async listModels(): Promise<RegisteredModel[]> {
    const [rows, aliases, newest] = await Promise.all([
      this.db.selectFrom("registered_models").selectAll().orderBy("name").execute(),
      this.db.selectFrom("model_aliases").select(["model", "alias", "version"]).execute(),
      this.db
        .selectFrom("model_versions")
        .select((eb) => ["model", eb.fn.max("version").as("newest")])
        .groupBy("model")
        .execute(),
    ]);
    const newestByModel = new Map(newest.map((r) => [r.model, Number(r.newest)]));
    return rows.map((row) =>
      modelFromRow(
        row,
        aliasMap(aliases.filter((a) => a.model === row.name)),
        newestByModel.get(row.name) ?? 0,
      ),
    );
  }

  async getVersion(model: string, version: number): Promise<ModelVersion> {
    return this.resolve(model, { version });
  }

  /** Oldest first. */
  async listVersions(model: string): Promise<ModelVersion[]> {
    const rows = await this.db
      .selectFrom("model_versions")
      .selectAll()
      .where("model", "=", model)
      .orderBy("version")
      .execute();
    if (rows.length === 0) await this.getModel(model);
    return rows.map(versionFromRow);
  }

  async resolve(model: string, ref: VersionRef): Promise<ModelVersion> {
    return versionFromRow(await resolveRef(this.db, model, ref));
  }

  /** Creates the alias or moves it, in one statement: readers see the old or the new version. */
  async setAlias(model: string, alias: string, version: number): Promise<void> {
    checkAliasName(alias);
    checkVersionNumber(version);
    const moved = await this.db.transaction().execute(async (tx) => {
      const now = this.clock.now();
      // The lock keeps a concurrent deleteVersion from removing the version between the check
      // and the write.
      await lockModel(tx, model, now);
      if ((await findVersion(tx, model, version)) === undefined) {
        throw notFound(`model "${model}" has no version ${version}`, { model, version });
      }
      const before = await tx
        .selectFrom("model_aliases")
        .select("version")
        .where("model", "=", model)
        .where("alias", "=", alias)
        .executeTakeFirst();
      await tx
        .insertInto("model_aliases")
        .values({ model, alias, version, updated_at: now })
        .onConflict((oc) =>
          oc.columns(["model", "alias"]).doUpdateSet((eb) => ({
            version: eb.ref("excluded.version"),
            updated_at: eb.ref("excluded.updated_at"),
          })),
        )
        .execute();
      return { from: before === undefined ? null : Number(before.version), at: now };
    });
    if (moved.from !== version)
      this.observer?.aliasMoved({ model, alias, from: moved.from, to: version, at: moved.at });
  }

  /** Refused while a deployment routes through the alias: it would stop resolving. */
  async deleteAlias(model: string, alias: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await lockModel(tx, model, this.clock.now());
      const existing = await tx
        .selectFrom("model_aliases")
        .select("version")
        .where("model", "=", model)
        .where("alias", "=", alias)
        .executeTakeFirst();
      if (existing === undefined) {
        throw notFound(`model "${model}" has no alias @${alias}`, { model, alias });
      }
      const users = await this.deploymentsUsing(tx, model, (ref) => "alias" in ref && ref.alias === alias);
      if (users.length > 0) {
        throw conflict(
          `alias @${alias} of model "${model}" is used by ${describeUsers(users)}; ` +
            `point those variants elsewhere first`,
          { model, alias, deployments: users.map((u) => u.deployment) },
        );
      }
      await tx.deleteFrom("model_aliases").where("model", "=", model).where("alias", "=", alias).execute();
    });
  }

  async updateVersion(model: string, version: number, update: VersionUpdate): Promise<ModelVersion> {
    const changes: { tags?: string; description?: string; metrics?: string } = {};
    if (update.tags !== undefined) changes.tags = toJson(checkTags(update.tags));
    if (update.description !== undefined) changes.description = checkDescription(update.description);
    if (update.metrics !== undefined) changes.metrics = toJson(checkMetrics(update.metrics));
    if (Object.keys(changes).length === 0) return this.getVersion(model, version);
    const row = await this.db
      .updateTable("model_versions")
      .set(changes)
      .where("model", "=", model)
      .where("version", "=", version)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) return this.getVersion(model, version); // throws the precise not-found
    return versionFromRow(row);
  }

  /**
   * Attaches a reference profile to a version, replacing any it had. Like tags, the reference is
   * metadata: the artifact the version serves never changes.
   */
  async attachReference(model: string, version: number, profile: unknown): Promise<ModelVersion> {
    const current = await this.getVersion(model, version);
    const reference = await storeReference(
      this.artifacts,
      checkReference(this.profiles, profile, current.signature),
    );
    const row = await this.db
      .updateTable("model_versions")
      .set(referenceToRow(reference))
      .where("model", "=", model)
      .where("version", "=", version)
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) return this.getVersion(model, version); // deleted meanwhile: the precise not-found
    return versionFromRow(row);
  }

  /** The version's reference profile as stored (JSON), or null when none is attached. */
  async getReference(model: string, version: number): Promise<unknown> {
    const { referenceProfile } = await this.getVersion(model, version);
    if (referenceProfile === null || referenceProfile === undefined) return null;
    return loadReference(this.artifacts, referenceProfile.sha256);
  }

  /**
   * Refused while any deployment uses the version, directly or through an alias (including
   * `latest`) that points at it now. Aliases pointing at it go with it. Its number is never
   * given out again. The artifact stays: other versions or models may share it.
   */
  async deleteVersion(model: string, version: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await lockModel(tx, model, this.clock.now());
      if ((await findVersion(tx, model, version)) === undefined) {
        throw notFound(`model "${model}" has no version ${version}`, { model, version });
      }
      const aliases = await tx
        .selectFrom("model_aliases")
        .select("alias")
        .where("model", "=", model)
        .where("version", "=", version)
        .execute();
      const pointing = new Set(aliases.map((a) => a.alias));
      const isNewest = (await newestVersion(tx, model))?.version === version;
      const users = await this.deploymentsUsing(tx, model, (ref) =>
        "version" in ref
          ? ref.version === version
          : pointing.has(ref.alias) || (isLatest(ref.alias) && isNewest),
      );
      if (users.length > 0) {
        throw conflict(
          `version ${version} of model "${model}" is used by ${describeUsers(users)}; ` +
            `move those variants to another version first`,
          { model, version, deployments: users.map((u) => u.deployment) },
        );
      }
      await tx
        .deleteFrom("model_aliases")
        .where("model", "=", model)
        .where("version", "=", version)
        .execute();
      await tx
        .deleteFrom("model_versions")
        .where("model", "=", model)
        .where("version", "=", version)
        .execute();
    });
  }

  /** Refused while any deployment references the model at all. */
  async deleteModel(name: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await lockModel(tx, name);
      const users = await this.deploymentsUsing(tx, name, () => true);
      if (users.length > 0) {
        throw conflict(
          `model "${name}" is used by ${describeUsers(users)}; remove it from those deployments first`,
          { model: name, deployments: users.map((u) => u.deployment) },
        );
      }
      await tx.deleteFrom("model_aliases").where("model", "=", name).execute();
      await tx.deleteFrom("model_versions").where("model", "=", name).execute();
      await tx.deleteFrom("registered_models").where("name", "=", name).execute();
    });
  }

  /**
   * The given signature wins over the one read from the artifact, but may only name tensors
   * the artifact really has.
   */
  private async settleSignature(
    flavor: Flavor,
    artifactPath: string,
    given: Signature | undefined,
  ): Promise<Signature | null> {
    let inspected: Signature | null;
    try {
      inspected = await this.inspect(flavor, artifactPath);
    } catch (error) {
      if (isBallastError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw invalid(`cannot read the artifact as ${flavor}: ${reason}; is --flavor right?`, {
        field: "flavor",
      });
    }
    if (inspected === null) return given ?? null;
    const checked = checkSignature(inspected, "inspected signature");
    if (given === undefined) return checked;
    checkSignatureAgainst(given, checked);
    return given;
  }

  private async deploymentsUsing(
    db: Kysely<Database>,
    model: string,
    uses: (ref: VersionRef) => boolean,
  ): Promise<Array<{ deployment: string; variant: string; ref: VersionRef }>> {
    const rows = await db.selectFrom("deployments").selectAll().orderBy("name").execute();
    return rows.flatMap((row) => {
      const deployment = deploymentFromRow(row);
      // A fallback version must stay resolvable too: it is loaded alongside the variants.
      const fallback = deployment.resilience?.fallback;
      const referenced =
        fallback !== undefined && "model" in fallback
          ? [
              ...deployment.variants,
              { name: "resilience.fallback", model: fallback.model, ref: fallback.ref },
            ]
          : deployment.variants;
      return referenced
        .filter((v) => v.model === model && uses(v.ref))
        .map((v) => ({ deployment: row.name, variant: v.name, ref: v.ref }));
    });
  }
}

function aliasMap(rows: ReadonlyArray<{ alias: string; version: number }>): Record<string, number> {
  const sorted = [...rows].sort((a, b) => a.alias.localeCompare(b.alias));
  return Object.fromEntries(sorted.map((r) => [r.alias, r.version]));
}

function describeUsers(
  users: ReadonlyArray<{ deployment: string; variant: string; ref: VersionRef }>,
): string {
  return users
    .map((u) => `deployment "${u.deployment}" (variant ${u.variant} via ${refLabel(u.ref)})`)
    .join(", ");
}

/** Adds feature names to a signature, checked like any registered signature. */
function withFeatureNames(signature: Signature | null, features: readonly string[]): Signature {
  if (signature === null) {
    throw invalidField(
      "features",
      "this artifact has no signature to attach feature names to; pass a full --signature",
    );
  }
  if (!Array.isArray(features) || features.some((f) => typeof f !== "string")) {
    throw invalidField("features", "expected an array of feature names");
  }
  return checkSignature({ ...signature, features: [...features] });
}
