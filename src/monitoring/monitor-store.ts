/** Monitor specs in the store, so declared monitors come back after a restart. */
import type { Kysely } from "kysely";
import type { Clock } from "../domain/clock.js";
import { notFound } from "../domain/errors.js";
import type { Database } from "../store/schema.js";
import { parseMonitorSpec, type MonitorSpec } from "./monitor-spec.js";

export class MonitorStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async put(spec: MonitorSpec): Promise<void> {
    const now = this.clock.now();
    const text = JSON.stringify(spec);
    await this.db
      .insertInto("monitors")
      .values({ name: spec.name, deployment: spec.deployment, spec: text, created_at: now, updated_at: now })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({ deployment: spec.deployment, spec: text, updated_at: now }),
      )
      .execute();
  }

  async delete(name: string): Promise<void> {
    const result = await this.db.deleteFrom("monitors").where("name", "=", name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`monitor '${name}' does not exist`);
  }

  /** Stored specs are validated again, so one written by an older version fails loudly, by name. */
  async list(): Promise<MonitorSpec[]> {
    const rows = await this.db.selectFrom("monitors").selectAll().orderBy("name").execute();
    return rows.map((r) => parseMonitorSpec(JSON.parse(r.spec) as unknown, r.name));
  }
}
