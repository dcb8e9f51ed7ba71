/** The one place where table rows become domain objects and back. */
import type { Insertable, Selectable } from "kysely";
import { BallastError } from "../domain/errors.js";
import {
  FLAVORS,
  type Deployment,
  type Flavor,
  type Lineage,
  type ModelVersion,
  type ReferenceSummary,
  type RegisteredModel,
  type Resilience,
  type RoutingSpec,
  type Signature,
  type Variant,
} from "../domain/model.js";
import { fromJson, toJson } from "../store/json.js";
import type { DeploymentsTable, ModelVersionsTable, RegisteredModelsTable } from "../store/schema.js";

export type VersionRow = Selectable<ModelVersionsTable>;
export type ModelRow = Selectable<RegisteredModelsTable>;
export type DeploymentRow = Selectable<DeploymentsTable>;

export function versionFromRow(row: VersionRow): ModelVersion {
  return {
    model: row.model,
    version: row.version,
    flavor: flavorFromRow(row.flavor),
    artifactSha256: row.artifact_sha256,
    artifactSize: row.artifact_size,
    signature: fromJson<Signature | null>(row.signature, null),
    tags: fromJson<Record<string, string>>(row.tags, {}),
    description: row.description,
    metrics: fromJson<Record<string, number>>(row.metrics, {}),
    lineage: fromJson<Lineage>(row.lineage, {}),
    source: row.source,
    createdAt: row.created_at,
    referenceProfile:
      row.reference_sha256 === null
        ? null
        : {
            sha256: row.reference_sha256,
            rows: Number(row.reference_rows ?? 0),
            features: Number(row.reference_features ?? 0),
          },
  };
}

export function versionToRow(version: ModelVersion): Insertable<ModelVersionsTable> {
  return {
    model: version.model,
    version: version.version,
    flavor: version.flavor,
    artifact_sha256: version.artifactSha256,
    artifact_size: version.artifactSize,
    signature: version.signature === null ? null : toJson(version.signature),
    tags: toJson(version.tags),
    description: version.description,
    metrics: toJson(version.metrics),
    lineage: toJson(version.lineage),
    source: version.source,
    created_at: version.createdAt,
    ...referenceToRow(version.referenceProfile ?? null),
  };
}

/** The reference columns of a version row; all null when the version has no reference. */
export function referenceToRow(
  reference: ReferenceSummary | null,
): Pick<ModelVersionsTable, "reference_sha256" | "reference_rows" | "reference_features"> {
  return {
    reference_sha256: reference?.sha256 ?? null,
    reference_rows: reference?.rows ?? null,
    reference_features: reference?.features ?? null,
  };
}

/**
 * `latestVersion` is the newest version that exists (0 when none), not the allocation counter
 * in the row, which keeps counting past deleted versions so their numbers are never reused.
 */
export function modelFromRow(
  row: ModelRow,
  aliases: Record<string, number>,
  latestVersion: number,
): RegisteredModel {
  return {
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    latestVersion,
    aliases,
    tags: fromJson<Record<string, string>>(row.tags, {}),
  };
}

/** What the `spec` column of a deployment holds. */
export interface DeploymentSpec {
  readonly variants: readonly Variant[];
  readonly timeoutMs: number;
  readonly resilience?: Resilience;
  readonly routing?: RoutingSpec;
  readonly strategy?: Readonly<Record<string, unknown>>;
}

export function deploymentSpecToJson(spec: DeploymentSpec): string {
  const { variants, timeoutMs, resilience, routing, strategy } = spec;
  return toJson({
    variants,
    timeoutMs,
    ...(resilience === undefined ? {} : { resilience }),
    ...(routing === undefined ? {} : { routing }),
    ...(strategy === undefined ? {} : { strategy }),
  });
}

export function deploymentFromRow(row: DeploymentRow): Deployment {
  const spec = fromJson<DeploymentSpec>(row.spec, { variants: [], timeoutMs: 0 });
  return {
    name: row.name,
    variants: spec.variants,
    timeoutMs: spec.timeoutMs,
    ...(spec.resilience === undefined ? {} : { resilience: spec.resilience }),
    ...(spec.routing === undefined ? {} : { routing: spec.routing }),
    ...(spec.strategy === undefined ? {} : { strategy: spec.strategy }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function flavorFromRow(flavor: string): Flavor {
  if (!(FLAVORS as readonly string[]).includes(flavor)) {
    throw new BallastError("internal", `stored version has unknown flavor "${flavor}"`);
  }
  return flavor as Flavor;
}
