/**
 * Lookups shared by the registry and the deployment store. They take the executor explicitly
 * so they run inside the caller's transaction: on SQLite the one connection is held by that
 * transaction, and on PostgreSQL the locks taken here only mean something inside it.
 */
import type { Kysely } from "kysely";
import { notFound, type BallastError } from "../domain/errors.js";
import { refLabel, type VersionRef } from "../domain/model.js";
import type { Database } from "../store/schema.js";
import { isLatest } from "./names.js";
import type { ModelRow, VersionRow } from "./rows.js";

/**
 * Locks the model's row until the transaction ends (an UPDATE takes a row lock on PostgreSQL
 * and the write lock on SQLite), so version allocation, alias moves, deletions and deployment
 * checks on one model happen one after another. `touchedAt`, when given, becomes updated_at.
 */
export async function lockModel(db: Kysely<Database>, model: string, touchedAt?: number): Promise<ModelRow> {
  const row = await db
    .updateTable("registered_models")
    .set((eb) =>
      touchedAt === undefined ? { latest_version: eb.ref("latest_version") } : { updated_at: touchedAt },
    )
    .where("name", "=", model)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw modelNotFound(model);
  return row;
}

export async function findModel(db: Kysely<Database>, model: string): Promise<ModelRow | undefined> {
  return db.selectFrom("registered_models").selectAll().where("name", "=", model).executeTakeFirst();
}

export async function findVersion(
  db: Kysely<Database>,
  model: string,
  version: number,
): Promise<VersionRow | undefined> {
  return db
    .selectFrom("model_versions")
    .selectAll()
    .where("model", "=", model)
    .where("version", "=", version)
    .executeTakeFirst();
}

export async function newestVersion(db: Kysely<Database>, model: string): Promise<VersionRow | undefined> {
  return db
    .selectFrom("model_versions")
    .selectAll()
    .where("model", "=", model)
    .orderBy("version", "desc")
    .limit(1)
    .executeTakeFirst();
}

/** The version a reference points at now; `latest` is the newest existing version. */
export async function resolveRef(db: Kysely<Database>, model: string, ref: VersionRef): Promise<VersionRow> {
  let row: VersionRow | undefined;
  if ("version" in ref) {
    row = await findVersion(db, model, ref.version);
  } else if (isLatest(ref.alias)) {
    row = await newestVersion(db, model);
  } else {
    row = await db
      .selectFrom("model_aliases")
      .innerJoin("model_versions", (join) =>
        join
          .onRef("model_versions.model", "=", "model_aliases.model")
          .onRef("model_versions.version", "=", "model_aliases.version"),
      )
      .selectAll("model_versions")
      .where("model_aliases.model", "=", model)
      .where("model_aliases.alias", "=", ref.alias)
      .executeTakeFirst();
  }
  if (row !== undefined) return row;
  throw await refNotFound(db, model, ref);
}

export function modelNotFound(model: string): BallastError {
  return notFound(`model "${model}" is not registered`, { model });
}

/** Only on the failure path: says whether the model, the version or the alias is missing. */
async function refNotFound(db: Kysely<Database>, model: string, ref: VersionRef): Promise<BallastError> {
  if ((await findModel(db, model)) === undefined) return modelNotFound(model);
  if ("version" in ref) return notFound(`model "${model}" has no version ${ref.version}`, { model, ...ref });
  if (isLatest(ref.alias))
    return notFound(`model "${model}" has no versions yet`, { model, alias: ref.alias });
  const aliases = await db
    .selectFrom("model_aliases")
    .select("alias")
    .where("model", "=", model)
    .orderBy("alias")
    .execute();
  const known = aliases.length > 0 ? aliases.map((a) => a.alias).join(", ") : "none";
  return notFound(`model "${model}" has no alias ${refLabel(ref)} (its aliases: ${known})`, {
    model,
    ...ref,
  });
}
