/**
 * Resources over HTTP: `ballast apply`, `diff`, `get` and `delete` talk to these, and so can
 * any GitOps tool. The event log that explains every change is read here too.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid, notFound } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import { KINDS, type Kind, type ManifestOrigin } from "../../resources/manifest.js";
import { kindNamed } from "../../resources/kinds.js";
import type { ResourceSource } from "../../resources/resource-store.js";
import { MAX_EVENTS_PER_READ } from "../../events/event-log.js";
import { instant } from "./predictions.js";

/** A request may apply at most this many resources at once. */
const MAX_BATCH = 1000;

export function resourceRoutes(ballast: Ballast): FastifyPluginAsync {
  const { resources, events } = ballast;
  return async (app) => {
    app.post("/api/v1/apply", async (request) => {
      const body = request.body;
      if (!isPlainObject(body)) throw invalid("the request body must be {resources: [...], dryRun?, prune?}");
      const { resources: items, dryRun, prune } = body;
      if (!Array.isArray(items)) throw invalid("resources must be a list of manifests");
      if (items.length > MAX_BATCH)
        throw invalid(`at most ${MAX_BATCH} resources per apply, got ${items.length}`);
      if (dryRun !== undefined && typeof dryRun !== "boolean") throw invalid("dryRun must be true or false");
      if (prune !== undefined && typeof prune !== "boolean") throw invalid("prune must be true or false");
      const manifests = items.map((item: unknown, i) => {
        // `{manifest, origin}` from the CLI (so errors name the file), or a bare manifest.
        if (isPlainObject(item) && "manifest" in item) {
          return { manifest: item.manifest, origin: originOf(item.origin, i) };
        }
        return { manifest: item, origin: { file: "request", document: i + 1, line: 1 } };
      });
      return resources.apply({
        manifests,
        source: sourceOf(body.source),
        ...(dryRun === undefined ? {} : { dryRun }),
        ...(prune === undefined ? {} : { prune }),
      });
    });

    app.get<{ Params: { kind: string } }>("/api/v1/resources/:kind", async (request) => ({
      items: await resources.list(kindOf(request.params.kind)),
    }));

    app.get<{ Params: { kind: string; name: string } }>("/api/v1/resources/:kind/:name", async (request) =>
      resources.get(kindOf(request.params.kind), request.params.name),
    );

    app.delete<{ Params: { kind: string; name: string } }>("/api/v1/resources/:kind/:name", async (request) =>
      resources.delete(kindOf(request.params.kind), request.params.name, { via: "api" }),
    );

    app.get("/api/v1/sync", async () => {
      if (ballast.sourceSync === undefined)
        throw notFound("this server watches no folder or repository (start it with --watch or --git)");
      return ballast.sourceSync.status();
    });

    app.get<{ Querystring: Record<string, string | undefined> }>("/api/v1/events", async (request) => {
      const q = request.query;
      const limit = q.limit === undefined ? 100 : Number(q.limit);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVENTS_PER_READ)
        throw invalid(`limit must be 1…${MAX_EVENTS_PER_READ}`);
      const kind = q.kind === undefined ? undefined : kindOf(q.kind, true);
      return {
        events: await events.list({
          ...(kind === undefined ? {} : { kind }),
          ...(q.name === undefined ? {} : { name: q.name }),
          ...(q.since === undefined ? {} : { since: instant(q.since, "since") }),
          limit,
        }),
      };
    });
  };
}

/** A kind as typed in a URL (`deployments`, `Monitor`); events may be about other subjects too. */
function kindOf(raw: string, lenient = false): Kind {
  const kind = kindNamed(raw);
  if (kind !== undefined) return kind;
  if (lenient) return raw as Kind;
  throw invalid(`unknown kind '${raw}'; expected one of ${KINDS.join(", ")}`);
}

function originOf(raw: unknown, index: number): ManifestOrigin {
  if (
    isPlainObject(raw) &&
    typeof raw.file === "string" &&
    Number.isSafeInteger(raw.document) &&
    Number.isSafeInteger(raw.line)
  ) {
    return { file: raw.file, document: raw.document as number, line: raw.line as number };
  }
  return { file: "request", document: index + 1, line: 1 };
}

function sourceOf(raw: unknown): ResourceSource {
  if (raw === undefined) return { via: "api" };
  if (!isPlainObject(raw)) throw invalid("source must be an object like {via: cli, file: deploy.yaml}");
  const text = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length > 1024) throw invalid(`source.${key} must be a string`);
    return v;
  };
  const via = raw.via ?? "api";
  if (via !== "cli" && via !== "api") throw invalid("source.via must be cli or api");
  const location = text("location");
  const file = text("file");
  const commit = text("commit");
  return {
    via,
    ...(location === undefined ? {} : { location }),
    ...(file === undefined ? {} : { file }),
    ...(commit === undefined ? {} : { commit }),
  };
}
