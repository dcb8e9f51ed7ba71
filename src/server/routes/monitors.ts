/** Monitors over HTTP: declare one per deployment, read its windows, drift and alerts. */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { parseAnyMonitorSpec } from "../../monitoring/monitor-spec.js";
import { driftFromLog } from "../../monitoring/log-drift.js";
import { DEFAULT_MAX_EXACT_ROWS } from "../../monitoring/raw-values.js";
import { MISSING_POLICIES, type MissingPolicy } from "../../monitoring/drift.js";
import { performanceBySegment } from "../../monitoring/log-performance.js";
import {
  DEFAULT_SEGMENT_VALUES,
  MAX_SEGMENT_VALUES,
  parseMaxValues,
  type SegmentSpec,
} from "../../monitoring/segments.js";
import { parseDuration } from "../../domain/duration.js";
import type { Correction } from "../../math/stats/dataset-drift.js";
import { invalid } from "../../domain/errors.js";
import { instant } from "./predictions.js";

export function monitorRoutes(ballast: Ballast): FastifyPluginAsync {
  const { monitors } = ballast;
  return async (app) => {
    app.get("/api/v1/monitors", async () => ({ monitors: monitors.list() }));

    // Performance by prediction time, with labels and events joined as they have arrived.
    app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>(
      "/api/v1/deployments/:name/performance",
      async (request) => {
        await ballast.deployments.get(request.params.name); // 404 for an unknown deployment
        const now = ballast.clock.now();
        const q = request.query;
        const threshold = q.threshold === undefined ? 0.5 : Number(q.threshold);
        if (!(threshold >= 0 && threshold <= 1)) throw invalid("threshold must be in [0, 1]");
        const segment = segmentQuery(q);
        await ballast.predictionLog.flush();
        const result = await performanceBySegment(ballast.predictions, {
          deployment: request.params.name,
          since: q.since === undefined ? now - 7 * 86_400_000 : instant(q.since, "since"),
          until: q.until === undefined ? now + 1 : instant(q.until, "until"),
          bucketMs: parseDuration(q.bucket ?? "1d", "bucket"),
          score: q.score ?? "probability",
          threshold,
          ...(segment === undefined
            ? {}
            : {
                segment: {
                  ...segment,
                  versions: (model: string, version: number) => ballast.references.getVersion(model, version),
                },
              }),
        });
        const overall = result.buckets.filter((b) => b.segment === undefined);
        if (result.segment === undefined) return { deployment: request.params.name, buckets: overall };
        const notAFeature = result.segment.problems.find((p) => p.includes("is not a feature of"));
        if (result.segment.values.length === 0 && notAFeature !== undefined)
          throw invalid(`segment: ${notAFeature}`);
        return {
          deployment: request.params.name,
          buckets: overall,
          segment: { ...result.segment, buckets: result.buckets.filter((b) => b.segment !== undefined) },
        };
      },
    );

    // Drift of what the deployment received over a period, read back from the prediction log.
    app.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>(
      "/api/v1/deployments/:name/drift",
      async (request) => {
        await ballast.deployments.get(request.params.name); // 404 for an unknown deployment
        const now = ballast.clock.now();
        const q = request.query;
        const since = q.since === undefined ? now - 7 * 86_400_000 : instant(q.since, "since");
        const until = q.until === undefined ? now + 1 : instant(q.until, "until");
        const correction = q.correction ?? "none";
        if (!["none", "bonferroni", "benjamini-hochberg"].includes(correction)) {
          throw invalid("correction must be none, bonferroni or benjamini-hochberg");
        }
        const segment = segmentQuery(q);
        const missing = q.missing ?? "ignore";
        if (!(MISSING_POLICIES as readonly string[]).includes(missing)) {
          throw invalid(`missing must be one of ${MISSING_POLICIES.join(", ")}`);
        }
        // Raw values kept per feature for exact tests: a client may ask for fewer (less memory),
        // never for more than the default.
        const maxExactRows = q.maxExactRows === undefined ? DEFAULT_MAX_EXACT_ROWS : Number(q.maxExactRows);
        if (
          !Number.isSafeInteger(maxExactRows) ||
          maxExactRows < 0 ||
          maxExactRows > DEFAULT_MAX_EXACT_ROWS
        ) {
          throw invalid(`maxExactRows must be a whole number from 0 to ${DEFAULT_MAX_EXACT_ROWS}`);
        }
        await ballast.predictionLog.flush();
        return driftFromLog(
          ballast.predictions,
          ballast.references,
          { deployment: request.params.name, since, until, ...(segment === undefined ? {} : { segment }) },
          { correction: correction as Correction, missing: missing as MissingPolicy },
          { maxExactRows },
        );
      },
    );

    app.get<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) =>
      monitors.statusOf(request.params.name),
    );

    // Overall windows by default; `?segment=<value>` one segment's, `?segment=*` every window.
    app.get<{ Params: { name: string }; Querystring: { limit?: string; segment?: string } }>(
      "/api/v1/monitors/:name/windows",
      async (request) => {
        const status = monitors.statusOf(request.params.name); // 404 for an unknown monitor
        const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)
          throw invalid("limit must be 1…10000");
        const value = request.query.segment;
        const feature = status.spec.type === "performance" ? undefined : status.spec.segment?.feature;
        if (value !== undefined && feature === undefined)
          throw invalid(`segment: monitor '${request.params.name}' has no segment`);
        const windows = await ballast.monitorStore.windows(request.params.name, limit, {
          ...(value === undefined
            ? {}
            : { segment: value === "*" ? "*" : { feature: feature as string, value } }),
        });
        return { windows: windows.map((w) => ({ ...w, deployment: status.spec.deployment })) };
      },
    );

    app.put<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) => {
      const spec = parseAnyMonitorSpec(request.body, request.params.name);
      await ballast.monitorChanges.put(spec);
      return monitors.statusOf(spec.name);
    });

    app.delete<{ Params: { name: string } }>("/api/v1/monitors/:name", async (request) => {
      await ballast.monitorChanges.remove(request.params.name);
      return { deleted: request.params.name };
    });
  };
}

/** `?segment=<feature>&maxValues=<n>` of the read-time endpoints. */
function segmentQuery(q: Record<string, string | undefined>): SegmentSpec | undefined {
  if (q.segment === undefined) {
    if (q.maxValues !== undefined) throw invalid("maxValues applies only with segment=<feature>");
    return undefined;
  }
  if (q.segment === "") throw invalid("segment must name an input feature");
  if (q.maxValues !== undefined && !/^\d+$/.test(q.maxValues))
    throw invalid(`maxValues must be an integer in 1…${MAX_SEGMENT_VALUES}, got '${q.maxValues}'`);
  const maxValues =
    q.maxValues === undefined ? DEFAULT_SEGMENT_VALUES : parseMaxValues(Number(q.maxValues), "maxValues");
  return { feature: q.segment, maxValues };
}
