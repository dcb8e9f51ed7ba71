/** Reading and writing the prediction log and feedback tables (one query layer, both dialects). */
import type { Kysely, Selectable } from "kysely";
import {
  UnwritableBatch,
  type FeedbackRecord,
  type JoinedFeedback,
  type PredictionRecord,
  type PredictionSink,
  type WriteOutcome,
} from "../domain/prediction.js";
import {
  duplicateRows,
  errorCode,
  messageOf,
  rowFault,
  serialisePredictions,
} from "../store/prediction-rows.js";
import type { Database, PredictionsTable } from "../store/schema.js";

export interface PredictionQuery {
  readonly deployment?: string;
  readonly model?: string;
  readonly version?: number;
  readonly variant?: string;
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
  readonly limit: number;
}

export type { JoinedFeedback };

export interface LoggedPrediction extends PredictionRecord {
  /** Outcomes joined by request id, ordered by row then kind. */
  readonly feedback: JoinedFeedback[];
}

export class PredictionStore implements PredictionSink {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Inserts what can be serialised. A row whose (request id, variant) is already logged is not
   * inserted and comes back refused, never counted as written; a value the database refuses
   * fails the batch as `UnwritableBatch`, for the log to split.
   */
  async write(rows: readonly PredictionRecord[]): Promise<WriteOutcome> {
    const serialised = await serialisePredictions(rows);
    if (serialised.rows.length === 0) return { refused: serialised.refused };
    let inserted: Array<{ request_id: string; variant: string }>;
    try {
      inserted = await this.db
        .insertInto("predictions")
        .values(
          serialised.rows.map(({ record: r, inputs, outputs }) => ({
            request_id: r.requestId,
            variant: r.variant,
            deployment: r.deployment,
            model: r.model,
            model_version: r.modelVersion,
            inputs,
            outputs,
            latency_ms: r.latencyMs,
            created_at: r.createdAt,
          })),
        )
        .onConflict((oc) => oc.columns(["request_id", "variant"]).doNothing())
        .returning(["request_id", "variant"])
        .execute();
    } catch (error) {
      const reason = rowFault(errorCode(error));
      if (reason === null) throw error;
      throw new UnwritableBatch(reason, messageOf(error));
    }
    return { refused: [...serialised.refused, ...duplicateRows(serialised.rows, inserted)] };
  }

  async query(q: PredictionQuery): Promise<LoggedPrediction[]> {
    let select = this.db.selectFrom("predictions").selectAll();
    if (q.deployment !== undefined) select = select.where("deployment", "=", q.deployment);
    if (q.model !== undefined) select = select.where("model", "=", q.model);
    if (q.version !== undefined) select = select.where("model_version", "=", q.version);
    if (q.variant !== undefined) select = select.where("variant", "=", q.variant);
    if (q.since !== undefined) select = select.where("created_at", ">=", q.since);
    if (q.until !== undefined) select = select.where("created_at", "<", q.until);
    const rows = await select.orderBy("created_at", "desc").orderBy("request_id").limit(q.limit).execute();
    const feedback = await this.feedbackFor(rows.map((r) => r.request_id));
    return rows.map((r) => ({ ...recordFromRow(r), feedback: feedback.get(r.request_id) ?? [] }));
  }

  /**
   * Every logged prediction of a deployment in [since, until), oldest first, in pages (keyset
   * pagination on (created_at, request_id, variant)), so a week of traffic streams through in
   * bounded memory.
   */
  async *scan(
    deployment: string,
    since: number,
    until: number,
    page = 2000,
  ): AsyncIterable<PredictionRecord[]> {
    let after: { at: number; id: string; variant: string } | undefined;
    for (;;) {
      let select = this.db
        .selectFrom("predictions")
        .selectAll()
        .where("deployment", "=", deployment)
        .where("created_at", ">=", since)
        .where("created_at", "<", until);
      if (after !== undefined) {
        const a = after;
        select = select.where((eb) =>
          eb.or([
            eb("created_at", ">", a.at),
            eb.and([eb("created_at", "=", a.at), eb("request_id", ">", a.id)]),
            eb.and([eb("created_at", "=", a.at), eb("request_id", "=", a.id), eb("variant", ">", a.variant)]),
          ]),
        );
      }
      const rows = await select
        .orderBy("created_at")
        .orderBy("request_id")
        .orderBy("variant")
        .limit(page)
        .execute();
      if (rows.length === 0) return;
      yield rows.map(recordFromRow);
      const last = rows[rows.length - 1] as (typeof rows)[number];
      after = { at: Number(last.created_at), id: last.request_id, variant: last.variant };
      if (rows.length < page) return;
    }
  }

  /** Predictions logged for a deployment's variant at or after `at`. */
  async countSince(deployment: string, variant: string, at: number): Promise<number> {
    const row = await this.db
      .selectFrom("predictions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("deployment", "=", deployment)
      .where("variant", "=", variant)
      .where("created_at", ">=", at)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * A variant's predictions since `at` and how many of them drew the feedback event `kind`
   * (one per prediction row at most, whatever the value): the exposures and successes of a rate.
   */
  async eventCounts(
    deployment: string,
    variant: string,
    at: number,
    kind: string,
  ): Promise<{ exposures: number; events: number }> {
    const exposures = await this.countSince(deployment, variant, at);
    const row = await this.db
      .selectFrom("feedback as f")
      .innerJoin("predictions as p", "p.request_id", "f.request_id")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("p.deployment", "=", deployment)
      .where("p.variant", "=", variant)
      .where("p.created_at", ">=", at)
      .where("f.kind", "=", kind)
      .executeTakeFirstOrThrow();
    return { exposures, events: Number(row.n) };
  }

  /** Idempotent per (request id, row, kind): a repeat replaces the earlier outcome. */
  async upsertFeedback(records: readonly FeedbackRecord[], receivedAt: number): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const r of records) {
        const row = {
          request_id: r.requestId,
          row_index: r.row,
          kind: r.kind,
          label: r.label === undefined || r.label === null ? null : JSON.stringify(r.label),
          value: r.value ?? null,
          created_at: r.createdAt,
          received_at: receivedAt,
        };
        await tx
          .insertInto("feedback")
          .values(row)
          .onConflict((oc) =>
            oc.columns(["request_id", "row_index", "kind"]).doUpdateSet({
              label: row.label,
              value: row.value,
              created_at: row.created_at,
              received_at: row.received_at,
            }),
          )
          .execute();
      }
    });
  }

  async deleteOlderThan(cutoff: number): Promise<{ predictions: number; feedback: number }> {
    const p = await this.db.deleteFrom("predictions").where("created_at", "<", cutoff).executeTakeFirst();
    const f = await this.db.deleteFrom("feedback").where("received_at", "<", cutoff).executeTakeFirst();
    return { predictions: Number(p.numDeletedRows), feedback: Number(f.numDeletedRows) };
  }

  /** Which of these request ids have a logged prediction (under any variant). */
  async loggedRequestIds(requestIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // Chunked so a large call never exceeds a dialect's bound-parameter limit.
    for (let i = 0; i < requestIds.length; i += 500) {
      const rows = await this.db
        .selectFrom("predictions")
        .select("request_id")
        .distinct()
        .where("request_id", "in", requestIds.slice(i, i + 500))
        .execute();
      for (const r of rows) found.add(r.request_id);
    }
    return found;
  }

  /** Feedback for these requests, by request id (rows and kinds in order). */
  async feedbackFor(requestIds: string[]): Promise<Map<string, LoggedPrediction["feedback"]>> {
    const out = new Map<string, LoggedPrediction["feedback"]>();
    // Chunked so a large page never exceeds a dialect's bound-parameter limit.
    for (let i = 0; i < requestIds.length; i += 500) {
      const chunk = requestIds.slice(i, i + 500);
      const rows = await this.db
        .selectFrom("feedback")
        .selectAll()
        .where("request_id", "in", chunk)
        .orderBy("row_index")
        .orderBy("kind")
        .execute();
      for (const f of rows) {
        const entry = out.get(f.request_id) ?? [];
        entry.push({
          row: Number(f.row_index),
          kind: f.kind,
          label: f.label === null ? null : (JSON.parse(f.label) as unknown),
          value: f.value === null ? null : Number(f.value),
          createdAt: Number(f.created_at),
        });
        out.set(f.request_id, entry);
      }
    }
    return out;
  }
}

/** One place where a predictions row becomes a record (numbers parsed, JSON columns read). */
function recordFromRow(r: Selectable<PredictionsTable>): PredictionRecord {
  return {
    requestId: r.request_id,
    deployment: r.deployment,
    model: r.model,
    modelVersion: Number(r.model_version),
    variant: r.variant,
    inputs: JSON.parse(r.inputs) as unknown,
    outputs: JSON.parse(r.outputs) as unknown,
    latencyMs: Number(r.latency_ms),
    createdAt: Number(r.created_at),
  };
}
