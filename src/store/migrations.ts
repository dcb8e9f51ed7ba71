/**
 * Versioned schema migrations, run at open. Names sort in order (`0001_init`, `0002_…`); a
 * migration, once released, never changes: add a new one instead.
 *
 * Column types are chosen to behave the same on both dialects: `bigint` for epoch-ms times and
 * sizes (the PostgreSQL pool parses INT8 into numbers), `double precision` for reals (`real`
 * is float4 on PostgreSQL and would round 0.1), `text` for JSON.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import type { Database } from "./schema.js";

const init: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("registered_models")
      .addColumn("name", "text", (c) => c.primaryKey().notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("tags", "text", (c) => c.notNull())
      // The allocation counter for version numbers: it only grows, so numbers are never reused.
      .addColumn("latest_version", "integer", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("model_versions")
      .addColumn("model", "text", (c) => c.notNull().references("registered_models.name"))
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("flavor", "text", (c) => c.notNull())
      .addColumn("artifact_sha256", "text", (c) => c.notNull())
      .addColumn("artifact_size", "bigint", (c) => c.notNull())
      .addColumn("signature", "text")
      .addColumn("tags", "text", (c) => c.notNull())
      .addColumn("description", "text", (c) => c.notNull())
      .addColumn("metrics", "text", (c) => c.notNull())
      .addColumn("lineage", "text", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("model_versions_pk", ["model", "version"])
      .execute();
    await db.schema
      .createIndex("model_versions_artifact_idx")
      .on("model_versions")
      .columns(["model", "artifact_sha256"])
      .execute();

    await db.schema
      .createTable("model_aliases")
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("alias", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("model_aliases_pk", ["model", "alias"])
      // An alias can never point at a version that does not exist.
      .addForeignKeyConstraint("model_aliases_version_fk", ["model", "version"], "model_versions", [
        "model",
        "version",
      ])
      .execute();

    await db.schema
      .createTable("deployments")
      .addColumn("name", "text", (c) => c.primaryKey().notNull())
      .addColumn("spec", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();

    // No foreign keys on the logs: they are written in batches off the request path, and a
    // logged prediction must outlive the version that made it.
    await db.schema
      .createTable("predictions")
      .addColumn("request_id", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("model_version", "integer", (c) => c.notNull())
      .addColumn("inputs", "text", (c) => c.notNull())
      .addColumn("outputs", "text", (c) => c.notNull())
      .addColumn("latency_ms", "double precision", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("predictions_pk", ["request_id", "variant"])
      .execute();
    await db.schema
      .createIndex("predictions_deployment_created_idx")
      .on("predictions")
      .columns(["deployment", "created_at"])
      .execute();
    await db.schema.createIndex("predictions_created_idx").on("predictions").column("created_at").execute();

    await db.schema
      .createTable("feedback")
      .addColumn("request_id", "text", (c) => c.notNull())
      .addColumn("row_index", "integer", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("label", "text")
      .addColumn("value", "double precision")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      // Set by the writer from its clock, not by the database, so tests control it.
      .addColumn("received_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("feedback_pk", ["request_id", "row_index", "kind"])
      .execute();
    // Retention deletes by arrival time.
    await db.schema.createIndex("feedback_received_idx").on("feedback").column("received_at").execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of [
      "feedback",
      "predictions",
      "deployments",
      "model_aliases",
      "model_versions",
      "registered_models",
    ]) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/**
 * A version may carry a reference profile (the data it was trained or validated on), stored as
 * a content-addressed artifact. Its row count and feature count sit beside the hash so listing
 * versions never reads profile files. One column per statement: SQLite adds one at a time.
 */
const referenceProfiles: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("model_versions").addColumn("reference_sha256", "text").execute();
    await db.schema.alterTable("model_versions").addColumn("reference_rows", "bigint").execute();
    await db.schema.alterTable("model_versions").addColumn("reference_features", "integer").execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const column of ["reference_features", "reference_rows", "reference_sha256"]) {
      await db.schema.alterTable("model_versions").dropColumn(column).execute();
    }
  },
};

/** Monitors declared through the API (and later from YAML), so they survive a restart. */
const monitors: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("monitors")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("spec", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("monitors").execute();
  },
};

/**
 * Closed windows of monitors (their drift and their sketch, so longer windows can be merged
 * from them later) and checkpoints of open windows, so a restart resumes them.
 */
const monitorWindows: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("monitor_windows")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("window_start", "bigint", (c) => c.notNull())
      .addColumn("window_end", "bigint", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("rows", "integer", (c) => c.notNull())
      .addColumn("drift", "text") // JSON DriftResult; null when too few rows
      .addColumn("sketch", "text", (c) => c.notNull()) // JSON WindowSketch
      .addColumn("closed_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("monitor_windows_pk", [
        "monitor",
        "variant",
        "window_start",
        "window_end",
        "closed_at",
      ])
      .execute();
    await db.schema
      .createTable("monitor_checkpoints")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("taken_at", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull()) // JSON WindowerCheckpoint
      .addPrimaryKeyConstraint("monitor_checkpoints_pk", ["monitor", "variant"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("monitor_checkpoints").execute();
    await db.schema.dropTable("monitor_windows").execute();
  },
};

/**
 * Declared resources (what `ballast apply` or a watched folder/repository last applied, with
 * where it came from) and the event log that explains every change.
 */
const resources: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("resources")
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("manifest", "text", (c) => c.notNull()) // JSON Resource as declared
      .addColumn("generation", "integer", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull()) // JSON ResourceSource
      .addColumn("applied_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("resources_pk", ["kind", "name"])
      .execute();
    await db.schema
      .createTable("events")
      .addColumn("id", "text", (c) => c.primaryKey().notNull()) // time-ordered
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("message", "text", (c) => c.notNull())
      .addColumn("details", "text", (c) => c.notNull()) // JSON
      .execute();
    await db.schema.createIndex("events_subject_idx").on("events").columns(["kind", "name", "at"]).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("events").execute();
    await db.schema.dropTable("resources").execute();
  },
};

/** Rollouts (canary, A/B): their state machine's state and the strategy they run, so a restart resumes them. */
const rollouts: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("rollouts")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("active", "integer", (c) => c.notNull()) // 1 while running or paused
      .addColumn("state", "text", (c) => c.notNull()) // JSON RolloutState
      .addColumn("strategy", "text", (c) => c.notNull()) // JSON, as started
      .addColumn("started_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("rollouts_deployment_idx")
      .on("rollouts")
      .columns(["deployment", "started_at"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("rollouts").execute();
  },
};

/**
 * Closed windows of monitor segments (drift per value of a feature) are stored beside the
 * overall ones: `segment` is '' for the overall window and `["feature","value"]` (JSON) for a
 * segment's. It is part of the key, since a segment window closes with the overall one, so the
 * table is rebuilt (SQLite cannot change a primary key in place).
 */
const segmentWindows: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("monitor_windows").renameTo("monitor_windows_0007").execute();
    await db.schema
      .createTable("monitor_windows")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("segment", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("window_start", "bigint", (c) => c.notNull())
      .addColumn("window_end", "bigint", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("rows", "integer", (c) => c.notNull())
      .addColumn("drift", "text")
      .addColumn("sketch", "text", (c) => c.notNull())
      .addColumn("closed_at", "bigint", (c) => c.notNull())
      // A new constraint name: on PostgreSQL the old one lives on until its table is dropped.
      .addPrimaryKeyConstraint("monitor_windows_segment_pk", [
        "monitor",
        "variant",
        "segment",
        "window_start",
        "window_end",
        "closed_at",
      ])
      .execute();
    await sql`insert into monitor_windows (monitor, variant, segment, window_start, window_end, model, version, rows, drift, sketch, closed_at)
      select monitor, variant, '', window_start, window_end, model, version, rows, drift, sketch, closed_at
      from monitor_windows_0007`.execute(db);
    await db.schema.dropTable("monitor_windows_0007").execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await sql`delete from monitor_windows where segment <> ''`.execute(db);
    await db.schema.alterTable("monitor_windows").dropColumn("segment").execute();
  },
};

/** Alert states of monitors, so an alert firing before a restart is not fired again after it. */
const monitorAlertStates: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("monitor_alert_states")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("identity", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull()) // JSON AlertState
      .addColumn("saved_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("monitor_alert_states_pk", ["monitor", "identity"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("monitor_alert_states").execute();
  },
};

/**
 * What several replicas on one database share (all created on SQLite too, so one schema serves
 * both): artifact bytes in 1 MiB chunks (a header row, written last, marks a complete copy),
 * one revision per change-feed topic, leases for reconcilers, and a heartbeat per replica.
 */
const replicas: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("artifact_blobs")
      .addColumn("sha256", "text", (c) => c.primaryKey().notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addColumn("chunks", "integer", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("artifact_chunks")
      .addColumn("sha256", "text", (c) => c.notNull())
      .addColumn("seq", "integer", (c) => c.notNull())
      // bytea on PostgreSQL; SQLite takes the name as it is and stores a blob.
      .addColumn("bytes", "bytea", (c) => c.notNull())
      .addPrimaryKeyConstraint("artifact_chunks_pk", ["sha256", "seq"])
      .execute();

    await db.schema
      .createTable("revisions")
      .addColumn("topic", "text", (c) => c.primaryKey().notNull())
      .addColumn("revision", "bigint", (c) => c.notNull())
      .addColumn("changed_at", "bigint", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("leases")
      .addColumn("name", "text", (c) => c.primaryKey().notNull())
      .addColumn("holder", "text", (c) => c.notNull())
      .addColumn("acquired_at", "bigint", (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("replicas")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("started_at", "bigint", (c) => c.notNull())
      .addColumn("last_seen", "bigint", (c) => c.notNull())
      .addColumn("served_revision", "bigint")
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ["replicas", "leases", "revisions", "artifact_chunks", "artifact_blobs"]) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/**
 * Traffic counts per replica (requests, errors and a latency sketch per variant of a deployment
 * being rolled out), each replica upserting its own cumulative row about once a second, so the
 * replica judging a canary sums and merges every replica's share. `epoch` is the rollout's id:
 * counts of one rollout never mix with another's.
 */
const trafficCounts: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("traffic_counts")
      .addColumn("replica", "text", (c) => c.notNull())
      .addColumn("deployment", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("epoch", "text", (c) => c.notNull())
      .addColumn("requests", "bigint", (c) => c.notNull())
      .addColumn("errors", "bigint", (c) => c.notNull())
      .addColumn("latency", "text", (c) => c.notNull()) // JSON QuantileSketchJSON, milliseconds
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("traffic_counts_pk", ["replica", "deployment", "epoch", "variant"])
      .execute();
    // Reads sum one variant of one epoch over all replicas; forget deletes one epoch.
    await db.schema
      .createIndex("traffic_counts_epoch_idx")
      .on("traffic_counts")
      .columns(["deployment", "epoch", "variant"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("traffic_counts").execute();
  },
};

/**
 * Open monitor windows saved per replica: each replica's checkpoint row is its share of the
 * windows (window-shares.ts), so replicas no longer overwrite each other's, and the one that
 * evaluates merges them. `replica` joins the key; rows from before are the single process's
 * ('local', the name a SQLite node saves under). The table is rebuilt, as SQLite cannot change
 * a primary key in place.
 */
const monitorWindowShares: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable("monitor_checkpoints").renameTo("monitor_checkpoints_0011").execute();
    await db.schema
      .createTable("monitor_checkpoints")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("replica", "text", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("taken_at", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull()) // JSON WindowerCheckpoint (+ segments, closed)
      // A new constraint name: on PostgreSQL the old one lives on until its table is dropped.
      .addPrimaryKeyConstraint("monitor_checkpoints_share_pk", ["monitor", "variant", "replica"])
      .execute();
    await sql`insert into monitor_checkpoints (monitor, variant, replica, model, version, taken_at, state)
      select monitor, variant, 'local', model, version, taken_at, state from monitor_checkpoints_0011`.execute(
      db,
    );
    await db.schema.dropTable("monitor_checkpoints_0011").execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    // One share per (monitor, variant) survives: the single process's if there is one.
    await sql`delete from monitor_checkpoints where replica <> 'local'`.execute(db);
    await db.schema.alterTable("monitor_checkpoints").renameTo("monitor_checkpoints_0011").execute();
    await db.schema
      .createTable("monitor_checkpoints")
      .addColumn("monitor", "text", (c) => c.notNull())
      .addColumn("variant", "text", (c) => c.notNull())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("version", "integer", (c) => c.notNull())
      .addColumn("taken_at", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("monitor_checkpoints_pk", ["monitor", "variant"])
      .execute();
    await sql`insert into monitor_checkpoints (monitor, variant, model, version, taken_at, state)
      select monitor, variant, model, version, taken_at, state from monitor_checkpoints_0011`.execute(db);
    await db.schema.dropTable("monitor_checkpoints_0011").execute();
  },
};

/**
 * Pipeline runs (issue 10): a run with its spec snapshot and trigger, one row per step with its
 * attempt, fingerprint, input and output artifacts, and each step's log lines (bounded per step,
 * the overflow counted on the step). A step is marked Running with its attempt before it runs,
 * so a restart finds what was under way. Finished steps are found by fingerprint for the cache.
 */
const pipelines: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("pipeline_runs")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("pipeline", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("params", "text", (c) => c.notNull()) // JSON
      .addColumn("trigger", "text", (c) => c.notNull()) // JSON {kind, reason, details}
      .addColumn("spec", "text", (c) => c.notNull()) // JSON PipelineSpec as it was when the run started
      .addColumn("reason", "text")
      .addColumn("registered", "text") // JSON: what the register step made
      .addColumn("deployed", "text") // JSON: what the deploy step started
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("started_at", "bigint")
      .addColumn("finished_at", "bigint")
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("pipeline_runs_pipeline_idx")
      .on("pipeline_runs")
      .columns(["pipeline", "created_at"])
      .execute();
    await db.schema.createIndex("pipeline_runs_state_idx").on("pipeline_runs").column("state").execute();

    await db.schema
      .createTable("pipeline_steps")
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("step", "text", (c) => c.notNull())
      .addColumn("position", "integer", (c) => c.notNull()) // in the run's order (upstream first)
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("cached", "integer", (c) => c.notNull())
      .addColumn("cached_from", "text")
      .addColumn("fingerprint", "text")
      .addColumn("not_before", "bigint")
      .addColumn("started_at", "bigint")
      .addColumn("deadline_at", "bigint")
      .addColumn("finished_at", "bigint")
      .addColumn("inputs", "text", (c) => c.notNull()) // JSON {name: ArtifactRef}
      .addColumn("outputs", "text", (c) => c.notNull()) // JSON {name: ArtifactRef}
      .addColumn("summary", "text") // JSON
      .addColumn("error", "text")
      .addColumn("log_lines", "integer", (c) => c.notNull())
      .addColumn("log_dropped", "integer", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("pipeline_steps_pk", ["run_id", "step"])
      .execute();
    await db.schema
      .createIndex("pipeline_steps_fingerprint_idx")
      .on("pipeline_steps")
      .columns(["fingerprint", "state"])
      .execute();

    await db.schema
      .createTable("pipeline_step_logs")
      .addColumn("run_id", "text", (c) => c.notNull())
      .addColumn("step", "text", (c) => c.notNull())
      .addColumn("seq", "integer", (c) => c.notNull())
      .addColumn("attempt", "integer", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("line", "text", (c) => c.notNull())
      .addPrimaryKeyConstraint("pipeline_step_logs_pk", ["run_id", "step", "seq"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ["pipeline_step_logs", "pipeline_steps", "pipeline_runs"]) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/**
 * Pipeline triggers' memory, so a restart neither refires nor forgets: per trigger (a pipeline
 * and the trigger's canonical spec) when it last fired and started a run, when a schedule was
 * last evaluated, whether a KPI was in breach; and the files a `files` trigger has seen (name,
 * size, mtime), so a file is new once.
 */
const pipelineTriggers: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("pipeline_trigger_states")
      .addColumn("pipeline", "text", (c) => c.notNull())
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("last_fired_at", "bigint")
      .addColumn("last_started_at", "bigint")
      .addColumn("last_run_id", "text")
      .addColumn("evaluated_at", "bigint")
      .addColumn("state", "text", (c) => c.notNull()) // JSON: what the kind keeps (a KPI's breach)
      .addPrimaryKeyConstraint("pipeline_trigger_states_pk", ["pipeline", "trigger"])
      .execute();
    await db.schema
      .createTable("pipeline_trigger_files")
      .addColumn("pipeline", "text", (c) => c.notNull())
      .addColumn("trigger", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("size", "bigint", (c) => c.notNull())
      .addColumn("mtime_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("pipeline_trigger_files_pk", ["pipeline", "trigger", "name"])
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("pipeline_trigger_files").execute();
    await db.schema.dropTable("pipeline_trigger_states").execute();
  },
};

/**
 * Market data (issue 11): instruments with their configuration, their bars (one per time, the
 * indicators computed after each kept with it), and per instrument the streaming indicators'
 * state after the newest bar plus a checkpoint a few bars behind it, from which late bars are
 * replayed. The state row carries a revision: appends compare and set it, so two replicas
 * appending to one instrument take turns. Times are `double precision`: epoch ms, or whatever
 * numbers a series uses (fractional years).
 */
const instruments: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("instruments")
      .addColumn("id", "text", (c) => c.primaryKey().notNull())
      .addColumn("config", "text", (c) => c.notNull()) // JSON InstrumentConfig
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createTable("instrument_bars")
      .addColumn("instrument", "text", (c) => c.notNull())
      .addColumn("time", "double precision", (c) => c.notNull())
      .addColumn("open", "double precision")
      .addColumn("high", "double precision")
      .addColumn("low", "double precision")
      .addColumn("close", "double precision", (c) => c.notNull())
      .addColumn("volume", "double precision")
      .addColumn("indicators", "text", (c) => c.notNull()) // JSON: the values after this bar
      .addPrimaryKeyConstraint("instrument_bars_pk", ["instrument", "time"])
      .execute();
    await db.schema
      .createTable("instrument_states")
      .addColumn("instrument", "text", (c) => c.primaryKey().notNull())
      .addColumn("state", "text", (c) => c.notNull()) // JSON IndicatorState after the newest bar
      .addColumn("checkpoint", "text", (c) => c.notNull()) // JSON IndicatorState a few bars behind
      .addColumn("bars", "bigint", (c) => c.notNull())
      .addColumn("last_time", "double precision")
      .addColumn("last_bar", "text") // JSON: the newest bar with its indicators
      .addColumn("revision", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ["instrument_states", "instrument_bars", "instruments"]) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/**
 * Regime routers: every answer (its regime, weights and each specialist's h = 1 forecast, keyed
 * by the bar it was made at) so outcomes can be joined on whichever replica holds the lease, and
 * each router's learned state (live weights per regime, evaluation, live regime filter).
 */
const routers: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable("router_answers")
      .addColumn("router", "text", (c) => c.notNull())
      .addColumn("request_id", "text", (c) => c.notNull())
      .addColumn("at", "bigint", (c) => c.notNull())
      .addColumn("origin", "double precision") // the bar time it was made at: epoch ms or a series' own numbers
      .addColumn("regime", "integer", (c) => c.notNull())
      .addColumn("probabilities", "text", (c) => c.notNull()) // JSON number[]
      .addColumn("weights", "text", (c) => c.notNull()) // JSON {specialist: weight}
      .addColumn("forecasts", "text", (c) => c.notNull()) // JSON {specialist | "router": h=1 variance}
      .addPrimaryKeyConstraint("router_answers_pk", ["router", "request_id"])
      .execute();
    await db.schema
      .createIndex("router_answers_origin")
      .on("router_answers")
      .columns(["router", "origin"])
      .execute();
    await db.schema
      .createTable("router_states")
      .addColumn("router", "text", (c) => c.primaryKey())
      .addColumn("state", "text", (c) => c.notNull()) // JSON: weights, evaluation, live filter
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable("router_states").execute();
    await db.schema.dropTable("router_answers").execute();
  },
};

/** In order; append only. */
/**
 * The dashboard's newest-first reads: the last events over the whole log (the overview, the
 * event stream's poll) sorted all of it without an index on time; a router's last answers too.
 */
const dashboardIndexes: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex("events_at_idx").on("events").columns(["at", "id"]).execute();
    await db.schema.createIndex("router_answers_at").on("router_answers").columns(["router", "at"]).execute();
  },

  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex("router_answers_at").execute();
    await db.schema.dropIndex("events_at_idx").execute();
  },
};

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "0001_init": init,
  "0002_reference_profiles": referenceProfiles,
  "0003_monitors": monitors,
  "0004_monitor_windows": monitorWindows,
  "0005_resources": resources,
  "0006_rollouts": rollouts,
  "0007_segment_windows": segmentWindows,
  "0008_monitor_alert_states": monitorAlertStates,
  "0009_replicas": replicas,
  "0010_traffic_counts": trafficCounts,
  "0011_monitor_window_shares": monitorWindowShares,
  "0012_pipelines": pipelines,
  "0013_pipeline_triggers": pipelineTriggers,
  "0014_instruments": instruments,
  "0015_routers": routers,
  "0016_dashboard_indexes": dashboardIndexes,
};

const provider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};

export const MIGRATION_TABLE = "ballast_migration";

export function migratorFor(db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
}

/** Brings the schema up to date; throws naming the migration that failed. */
export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const { error, results } = await migratorFor(db).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(failed !== undefined ? `migration ${failed} failed: ${reason}` : reason, {
      cause: error,
    });
  }
}
