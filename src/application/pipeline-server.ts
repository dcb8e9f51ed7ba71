/**
 * What pipeline steps that run in the server may use (src/pipelines/step.ts' PipelineServer),
 * built from a Ballast's parts: the labelled production log, the registry's champion and new
 * versions, and the hand-off of a candidate to serving, which goes only through
 * DeploymentChanges (strategy `follow`, so the deployment's canary rolls it out).
 *
 * Register and hand-off are idempotent by pipeline run: a second call for the same run finds
 * what the first did (the version whose lineage names the run; the hand-off's event, or the
 * rollout / shadow already in place) and does not do it again.
 */
import type { Kysely } from "kysely";
import { invalid, notFound } from "../domain/errors.js";
import type { JsonValue } from "../domain/json-value.js";
import type { Deployment, ModelVersion, Variant } from "../domain/model.js";
import type { SecretAccess } from "../domain/secret-access.js";
import type { EventLog } from "../events/event-log.js";
import { loggedRows } from "../monitoring/log-drift.js";
import type { ArtifactStore } from "../registry/artifacts.js";
import type { DeploymentInput } from "../registry/deployment-spec.js";
import type { DeploymentStore } from "../registry/deployments.js";
import type { Registry } from "../registry/registry.js";
import { STABLE } from "../rollout/controller.js";
import type { PredictionStore } from "../serving/prediction-store.js";
import type { Database } from "../store/schema.js";
import type {
  CandidateRegistration,
  Champion,
  HandOffRequest,
  HandOffResult,
  LabelledLogQuery,
  LabelledRow,
  LogExtent,
  PipelineServer,
  RegisteredCandidate,
} from "../pipelines/step.js";
import type { DeploymentChanges } from "./deployment-changes.js";
import { samePin, type VersionPin } from "./change-plan.js";

export interface PipelineServerParts {
  readonly db: Kysely<Database>;
  readonly predictions: Pick<PredictionStore, "feedbackFor">;
  /** Written rows still buffered in the prediction log reach the store first. */
  readonly flush?: () => Promise<void>;
  readonly registry: Registry;
  readonly artifacts: ArtifactStore;
  readonly deployments: DeploymentStore;
  readonly changes: DeploymentChanges;
  readonly rollingTo: (deployment: string) => Promise<VersionPin | undefined>;
  readonly events: EventLog;
  readonly fileRoots: readonly string[];
  readonly secretAccess?: SecretAccess;
  /** The bars step's instruments (read when a run gets there: built after the pipelines). */
  readonly instruments?: PipelineServer["instruments"];
}

/** The shadow variant a pipeline attaches its candidate as. */
export const CHALLENGER_VARIANT = "challenger";
/** Event reasons this module writes (kind `Pipeline`). */
export const HANDED_OFF = "CandidateHandedOff";

export function pipelineServer(parts: PipelineServerParts): PipelineServer {
  return {
    log: {
      rows: (query) => labelledRows(parts, query),
      extent: (query) => logExtent(parts, query),
    },
    registry: {
      champion: (deployment) => championOf(parts, deployment),
      register: (candidate) => register(parts, candidate),
      attachReference: async (model, version, profile) =>
        void (await parts.registry.attachReference(model, version, profile)),
    },
    handOff: { handOff: (request) => handOff(parts, request) },
    events: {
      record: async (event) =>
        void (await parts.events.record({
          kind: "Pipeline",
          name: event.name,
          reason: event.reason,
          message: event.message,
          ...(event.type === undefined ? {} : { type: event.type }),
          ...(event.details === undefined ? {} : { details: event.details }),
        })),
    },
    fileRoots: parts.fileRoots,
    ...(parts.secretAccess === undefined ? {} : { secretAccess: parts.secretAccess }),
    ...(parts.instruments === undefined ? {} : { instruments: parts.instruments }),
  };
}

async function* labelledRows(
  parts: PipelineServerParts,
  query: LabelledLogQuery,
): AsyncIterable<LabelledRow[]> {
  if (!(query.since < query.until)) throw invalid("since must be before until");
  await parts.flush?.();
  const deployment = await parts.deployments.get(query.deployment).catch(() => null);
  // Shadows answer the same requests as the live variants: their rows would count each input twice.
  const shadows = new Set((deployment?.variants ?? []).filter((v) => v.shadow === true).map((v) => v.name));
  const versions = new Map<string, Promise<ModelVersion>>();
  const versionOf = (model: string, version: number) => {
    const key = `${model}\u0000${version}`;
    let found = versions.get(key);
    if (found === undefined) {
      found = parts.registry.getVersion(model, version);
      versions.set(key, found);
    }
    return found;
  };
  const segment = query.segment === undefined ? [] : Object.entries(query.segment);
  for await (const page of loggedPages(parts.db, query.deployment, query.since, query.until)) {
    const live = query.liveOnly === false ? page : page.filter((p) => !shadows.has(p.variant));
    if (live.length === 0) continue;
    const feedback = await parts.predictions.feedbackFor(live.map((p) => p.requestId));
    const out: LabelledRow[] = [];
    for (const p of live) {
      // A version deleted since it served: its rows cannot be named, so they are left out.
      const version = await versionOf(p.model, p.modelVersion).catch(() => null);
      const rows = version === null ? null : loggedRows(p.inputs, version);
      if (rows === null) continue;
      const outcomes = feedback.get(p.requestId) ?? [];
      rows.forEach((features, row) => {
        if (!segment.every(([k, v]) => sameValue(features[k], v))) return;
        const label = outcomes.find((f) => f.row === row && f.kind === "label")?.label;
        if (query.labelledOnly && (label === undefined || label === null)) return;
        out.push({
          id: `${p.requestId}/${row}/${p.variant}`,
          at: p.createdAt,
          deployment: p.deployment,
          variant: p.variant,
          model: p.model,
          version: p.modelVersion,
          features: features as Record<string, JsonValue>,
          label: (label ?? null) as JsonValue,
        });
      });
    }
    if (out.length > 0) yield out;
  }
}

/** What a labelled row needs of a logged prediction (its outputs are not read). */
interface LoggedInput {
  readonly requestId: string;
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly modelVersion: number;
  readonly inputs: unknown;
  readonly createdAt: number;
}

const PAGE = 2000;

/**
 * A deployment's predictions in [since, until), oldest first, a page at a time, walking the
 * (deployment, created_at) index in its own order: keyset on created_at alone, the rows that
 * share a page's last millisecond read whole before moving past it. (Ordering by request id
 * too, as PredictionStore.scan does, makes the database sort the rest of the window for every
 * page: fine for a monitor's hour, quadratic for a million rows.)
 */
async function* loggedPages(
  db: Kysely<Database>,
  deployment: string,
  since: number,
  until: number,
): AsyncIterable<LoggedInput[]> {
  const columns = [
    "request_id",
    "deployment",
    "variant",
    "model",
    "model_version",
    "inputs",
    "created_at",
  ] as const;
  const toInput = (r: {
    request_id: string;
    deployment: string;
    variant: string;
    model: string;
    model_version: number;
    inputs: string;
    created_at: number;
  }): LoggedInput => ({
    requestId: r.request_id,
    deployment: r.deployment,
    variant: r.variant,
    model: r.model,
    modelVersion: Number(r.model_version),
    inputs: JSON.parse(r.inputs) as unknown,
    createdAt: Number(r.created_at),
  });
  let from = since;
  for (;;) {
    const rows = await db
      .selectFrom("predictions")
      .select(columns)
      .where("deployment", "=", deployment)
      .where("created_at", ">=", from)
      .where("created_at", "<", until)
      .orderBy("created_at")
      .limit(PAGE)
      .execute();
    if (rows.length < PAGE) {
      if (rows.length > 0) yield rows.map(toInput);
      return;
    }
    const last = Number((rows[rows.length - 1] as (typeof rows)[number]).created_at);
    const before = rows.filter((r) => Number(r.created_at) < last);
    if (before.length > 0) yield before.map(toInput);
    // Rows of that one millisecond, in pages too (a replayed batch may share one timestamp).
    let after: { id: string; variant: string } | undefined;
    for (;;) {
      let tied = db
        .selectFrom("predictions")
        .select(columns)
        .where("deployment", "=", deployment)
        .where("created_at", "=", last);
      if (after !== undefined) {
        const a = after;
        tied = tied.where((eb) =>
          eb.or([
            eb("request_id", ">", a.id),
            eb.and([eb("request_id", "=", a.id), eb("variant", ">", a.variant)]),
          ]),
        );
      }
      const page = await tied.orderBy("request_id").orderBy("variant").limit(PAGE).execute();
      if (page.length > 0) yield page.map(toInput);
      if (page.length < PAGE) break;
      const end = page[page.length - 1] as (typeof page)[number];
      after = { id: end.request_id, variant: end.variant };
    }
    from = last + 1;
  }
}

/** A segment value matches the logged one as text too (`7` and `"7"` are one category). */
function sameValue(logged: unknown, wanted: JsonValue): boolean {
  if (logged === wanted) return true;
  if (logged === undefined || logged === null || wanted === null) return false;
  return String(logged) === String(wanted);
}

async function logExtent(
  parts: PipelineServerParts,
  query: { deployment: string; since: number; until: number },
): Promise<LogExtent> {
  await parts.flush?.();
  const p = await parts.db
    .selectFrom("predictions")
    .select((eb) => [
      eb.fn.countAll<number>().as("n"),
      eb.fn.min<number>("created_at").as("oldest"),
      eb.fn.max<number>("created_at").as("newest"),
    ])
    .where("deployment", "=", query.deployment)
    .where("created_at", ">=", query.since)
    .where("created_at", "<", query.until)
    .executeTakeFirstOrThrow();
  const f = await parts.db
    .selectFrom("feedback as f")
    .innerJoin("predictions as p", "p.request_id", "f.request_id")
    .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.max<number>("f.received_at").as("newest")])
    .where("p.deployment", "=", query.deployment)
    .where("p.created_at", ">=", query.since)
    .where("p.created_at", "<", query.until)
    .executeTakeFirstOrThrow();
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    predictions: Number(p.n),
    oldest: num(p.oldest),
    newest: num(p.newest),
    labels: Number(f.n),
    newestLabel: num(f.newest),
  };
}

/** The live variant named stable, else the first live one: what the deployment serves. */
function primaryOf(deployment: Deployment): Variant | undefined {
  const live = deployment.variants.filter((v) => v.shadow !== true);
  return live.find((v) => v.name === STABLE) ?? live[0];
}

async function championOf(parts: PipelineServerParts, name: string): Promise<Champion | null> {
  const deployment = await parts.deployments.get(name).catch(() => null);
  if (deployment === null) return null;
  const primary = primaryOf(deployment);
  if (primary === undefined) return null;
  const version = await parts.registry.resolve(primary.model, primary.ref);
  return {
    deployment: name,
    model: version.model,
    version: version.version,
    flavor: version.flavor,
    artifactPath: await parts.artifacts.ensureLocal(version.artifactSha256),
    signature: version.signature,
  };
}

async function register(parts: PipelineServerParts, c: CandidateRegistration): Promise<RegisteredCandidate> {
  const earlier = await parts.registry.listVersions(c.model).catch(() => [] as ModelVersion[]);
  const mine = earlier.find((v) => v.lineage.runId === c.runId);
  if (mine !== undefined) {
    if (c.alias !== undefined) await moveAliasOnce(parts, c.model, c.alias, mine.version);
    return { model: c.model, version: mine.version, created: false };
  }
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.metrics ?? {})) if (Number.isFinite(v)) metrics[k] = v;
  const { version } = await parts.registry.registerVersion({
    model: c.model,
    artifactPath: c.artifactPath,
    ...(c.flavor === undefined ? {} : { flavor: c.flavor }),
    // Each run's version carries its own lineage, even when a retrain gave the same bytes.
    allowDuplicate: true,
    lineage: {
      runId: c.runId,
      dataFingerprint: c.lineage.dataFingerprint,
      parameters: { ...c.lineage.parameters },
      ...(c.lineage.parentVersion === undefined ? {} : { parentVersion: c.lineage.parentVersion }),
    },
    metrics,
    tags: { ...c.tags },
    ...(c.description === undefined ? {} : { description: c.description }),
    ...(c.referenceProfile === undefined ? {} : { referenceProfile: c.referenceProfile }),
  });
  if (c.alias !== undefined) await moveAliasOnce(parts, c.model, c.alias, version.version);
  return { model: c.model, version: version.version, created: true };
}

/** Through DeploymentChanges: deployments following the alias roll the version out. */
async function moveAliasOnce(parts: PipelineServerParts, model: string, alias: string, version: number) {
  const current = await parts.registry.getModel(model);
  if (current.aliases[alias] === version) return;
  await parts.changes.moveAlias(model, alias, version, { strategy: "follow" });
}

async function handOff(parts: PipelineServerParts, r: HandOffRequest): Promise<HandOffResult> {
  const pin: VersionPin = { model: r.model, version: r.version };
  const before = await findHandOff(parts, r);
  if (before !== null) return before;
  const deployment = await parts.deployments.get(r.deployment).catch(() => {
    throw notFound(`deployment ${r.deployment} does not exist`, { field: "deploy.deployment" });
  });
  const { createdAt: _c, updatedAt: _u, ...declared } = deployment;
  let result: HandOffResult;
  if (r.mode === "canary") {
    const primary = primaryOf(deployment);
    if (primary === undefined) throw invalid(`deployment ${r.deployment} has no live variant to replace`);
    // A crash after the change and before its event: what is in place says it was done.
    const served = await parts.registry.resolve(primary.model, primary.ref);
    const rolling = await parts.rollingTo(r.deployment);
    if (
      (rolling !== undefined && samePin(rolling, pin)) ||
      samePin({ model: served.model, version: served.version }, pin)
    ) {
      return { mode: "canary", started: false, outcome: rolling === undefined ? "switched" : "rollout" };
    }
    const input = {
      ...declared,
      variants: deployment.variants.map((v) =>
        v === primary ? { ...v, model: r.model, ref: { version: r.version } } : v,
      ),
    } as DeploymentInput;
    const change = await parts.changes.apply(input, { strategy: "follow" });
    result =
      change.rollout === null
        ? { mode: "canary", started: true, outcome: "switched" }
        : { mode: "canary", started: true, outcome: "rollout", rolloutId: change.rollout.id };
  } else {
    const existing = deployment.variants.find((v) => v.name === CHALLENGER_VARIANT);
    if (
      existing !== undefined &&
      existing.model === r.model &&
      "version" in existing.ref &&
      existing.ref.version === r.version
    )
      return { mode: "shadow", started: false, outcome: "shadow" };
    const challenger: Variant = {
      name: CHALLENGER_VARIANT,
      model: r.model,
      ref: { version: r.version },
      weight: r.shadowWeight ?? 100,
      shadow: true,
    };
    const variants =
      existing === undefined
        ? [...deployment.variants, challenger]
        : deployment.variants.map((v) => (v === existing ? challenger : v));
    await parts.changes.apply({ ...declared, variants } as DeploymentInput, { strategy: "follow" });
    result = { mode: "shadow", started: true, outcome: "shadow" };
  }
  await parts.events.record({
    kind: "Pipeline",
    name: r.deployment,
    reason: HANDED_OFF,
    message: `${r.model} v${r.version} handed to deployment ${r.deployment} as ${r.mode === "canary" ? (result.outcome === "rollout" ? "a canary" : "its new version (no strategy: switched)") : "a shadow challenger"} by run ${r.runId}`,
    details: { runId: r.runId, deployment: r.deployment, model: r.model, version: r.version, ...result },
  });
  return result;
}

async function findHandOff(parts: PipelineServerParts, r: HandOffRequest): Promise<HandOffResult | null> {
  const events = await parts.events.list({ kind: "Pipeline", name: r.deployment, limit: 1000 });
  const done = events.find((e) => e.reason === HANDED_OFF && e.details.runId === r.runId);
  if (done === undefined) return null;
  const outcome = done.details.outcome;
  return {
    mode: r.mode,
    started: false,
    outcome: outcome === "rollout" || outcome === "switched" || outcome === "shadow" ? outcome : "rollout",
    ...(typeof done.details.rolloutId === "string" ? { rolloutId: done.details.rolloutId } : {}),
  };
}
