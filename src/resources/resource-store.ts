/** Declared resources as last applied, with where they came from (file, folder, git commit). */
import type { Kysely } from "kysely";
import type { Database } from "../store/schema.js";
import type { Kind, Manifest } from "./manifest.js";

/** Where an apply came from. `location` identifies a watched folder or repository for pruning. */
export interface ResourceSource {
  readonly via: "cli" | "api" | "folder" | "git";
  /** The watched folder, or the repository URL or path. */
  readonly location?: string;
  readonly file?: string;
  readonly branch?: string;
  readonly commit?: string;
}

export interface DeclaredResource {
  readonly manifest: Manifest;
  readonly generation: number;
  readonly source: ResourceSource;
  readonly appliedAt: number;
}

export class ResourceStore {
  constructor(private readonly db: Kysely<Database>) {}

  async get(kind: Kind, name: string): Promise<DeclaredResource | null> {
    const row = await this.db
      .selectFrom("resources")
      .selectAll()
      .where("kind", "=", kind)
      .where("name", "=", name)
      .executeTakeFirst();
    return row === undefined ? null : fromRow(row);
  }

  async list(kind?: Kind): Promise<DeclaredResource[]> {
    let q = this.db.selectFrom("resources").selectAll();
    if (kind !== undefined) q = q.where("kind", "=", kind);
    const rows = await q.orderBy("kind").orderBy("name").execute();
    return rows.map(fromRow);
  }

  async put(resource: DeclaredResource): Promise<void> {
    const values = {
      kind: resource.manifest.kind,
      name: resource.manifest.metadata.name,
      manifest: JSON.stringify(resource.manifest),
      generation: resource.generation,
      source: JSON.stringify(resource.source),
      applied_at: resource.appliedAt,
    };
    await this.db
      .insertInto("resources")
      .values(values)
      .onConflict((oc) =>
        oc.columns(["kind", "name"]).doUpdateSet({
          manifest: values.manifest,
          generation: values.generation,
          source: values.source,
          applied_at: values.applied_at,
        }),
      )
      .execute();
  }

  async delete(kind: Kind, name: string): Promise<void> {
    await this.db.deleteFrom("resources").where("kind", "=", kind).where("name", "=", name).execute();
  }
}

function fromRow(row: Database["resources"]): DeclaredResource {
  return {
    manifest: JSON.parse(row.manifest) as Manifest,
    generation: Number(row.generation),
    source: JSON.parse(row.source) as ResourceSource,
    appliedAt: Number(row.applied_at),
  };
}
