/**
 * Pipelines over HTTP: declare one (PUT, the same as `ballast apply` of a `kind: Pipeline`),
 * start a run by hand, follow its steps (state, timings, cache hits, input and output artifact
 * hashes, what it registered), read a step's log, cancel it. `ballast pipeline` talks to these.
 * A run's routes take `-` for the pipeline when only the run id is known.
 */
import type { FastifyPluginAsync } from "fastify";
import type { Ballast } from "../../ballast.js";
import { conflict, invalid, notFound } from "../../domain/errors.js";
import { isPlainObject } from "../../domain/json-value.js";
import type { PipelineRun, StepRun } from "../../pipelines/run-store.js";

const MAX_RUNS_LISTED = 200;
/** In a run's URL, the pipeline `-`: whichever pipeline the run belongs to. */
const ANY = "-";
const MAX_PARAMS = 100;
const MAX_PARAM_CHARS = 4096;

export function pipelineRoutes(ballast: Ballast): FastifyPluginAsync {
  const { resources, pipelines } = ballast;
  return async (app) => {
    app.get("/api/v1/pipelines", async () => {
      const views = await resources.list("Pipeline");
      return {
        pipelines: await Promise.all(
          views.map(async (v) => {
            const last = (await pipelines.list(v.manifest.metadata.name, 1))[0];
            return {
              name: v.manifest.metadata.name,
              spec: v.manifest.spec,
              status: v.status,
              ...(last === undefined ? {} : { lastRun: brief(last) }),
            };
          }),
        ),
      };
    });

    app.get<{ Params: { name: string } }>("/api/v1/pipelines/:name", async (request) => {
      const view = await resources.get("Pipeline", request.params.name);
      const runs = await pipelines.list(request.params.name, 5);
      return {
        name: request.params.name,
        spec: view.manifest.spec,
        status: view.status,
        runs: runs.map(brief),
      };
    });

    app.put<{ Params: { name: string } }>("/api/v1/pipelines/:name", async (request, reply) => {
      const body = request.body;
      if (!isPlainObject(body)) throw invalid("the request body must be a Pipeline spec (a JSON object)");
      // A whole manifest is accepted too; its name must be the one in the URL.
      const manifest =
        body.kind === "Pipeline" && isPlainObject(body.spec)
          ? body
          : {
              apiVersion: "ballast/v1",
              kind: "Pipeline",
              metadata: { name: request.params.name },
              spec: body,
            };
      const name = isPlainObject(manifest.metadata) ? manifest.metadata.name : undefined;
      if (name !== request.params.name)
        throw invalid(
          `metadata.name: the manifest names '${String(name)}', the URL '${request.params.name}'`,
        );
      const result = await resources.apply({
        manifests: [{ manifest, origin: { file: "request", document: 1, line: 1 } }],
        source: { via: "api" },
      });
      const change = result.changes[0];
      if (change?.action === "created") void reply.status(201);
      return change;
    });

    app.delete<{ Params: { name: string } }>("/api/v1/pipelines/:name", async (request) =>
      resources.delete("Pipeline", request.params.name, { via: "api" }),
    );

    app.post<{ Params: { name: string } }>("/api/v1/pipelines/:name/runs", async (request, reply) => {
      const body = request.body ?? {};
      if (!isPlainObject(body)) throw invalid("the request body must be {params?: {name: value}, reason?}");
      const params = paramsOf(body.params);
      const reason = body.reason === undefined ? "started through the API" : body.reason;
      if (typeof reason !== "string" || reason.length > 500)
        throw invalid("reason must be a string of at most 500 characters");
      const started = await pipelines.start(request.params.name, {
        params,
        trigger: { kind: "manual", reason },
      });
      if (!started.started) throw conflict(started.reason, { coalesced: true });
      void reply.status(201);
      return { run: runView(await pipelines.mustGet(started.runId)) };
    });

    app.get<{ Params: { name: string }; Querystring: { limit?: string } }>(
      "/api/v1/pipelines/:name/runs",
      async (request) => {
        const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
        if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RUNS_LISTED)
          throw invalid(`limit must be 1…${MAX_RUNS_LISTED}`);
        await resources.get("Pipeline", request.params.name).catch(async (error: unknown) => {
          // A deleted pipeline's runs are still readable.
          if ((await pipelines.list(request.params.name, 1)).length === 0) throw error;
        });
        return { runs: (await pipelines.list(request.params.name, limit)).map(runView) };
      },
    );

    app.get<{ Params: { name: string; id: string } }>("/api/v1/pipelines/:name/runs/:id", async (request) =>
      runView(await runOf(request.params.name, request.params.id)),
    );

    app.get<{ Params: { name: string; id: string }; Querystring: { step?: string } }>(
      "/api/v1/pipelines/:name/runs/:id/logs",
      async (request) => {
        await runOf(request.params.name, request.params.id);
        return { lines: await pipelines.logs(request.params.id, request.query.step) };
      },
    );

    app.post<{ Params: { name: string; id: string } }>(
      "/api/v1/pipelines/:name/runs/:id/cancel",
      async (request) => {
        await runOf(request.params.name, request.params.id);
        return { run: runView(await pipelines.cancel(request.params.id, "a request to the API")) };
      },
    );
  };

  async function runOf(pipeline: string, id: string): Promise<PipelineRun> {
    const run = await pipelines.get(id);
    // `-` stands for any pipeline: `ballast pipeline show <run>` knows only the run's id.
    if (run === null || (pipeline !== ANY && run.pipeline !== pipeline))
      throw notFound(pipeline === ANY ? `no pipeline run ${id}` : `pipeline ${pipeline} has no run ${id}`);
    return run;
  }
}

function paramsOf(raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) throw invalid("params must be an object of name: value");
  const entries = Object.entries(raw);
  if (entries.length > MAX_PARAMS) throw invalid(`at most ${MAX_PARAMS} params`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
      throw invalid(`params.${k} must be a string`, { field: `params.${k}` });
    const text = String(v);
    if (text.length > MAX_PARAM_CHARS)
      throw invalid(`params.${k} is longer than ${MAX_PARAM_CHARS} characters`);
    out[k] = text;
  }
  return out;
}

/** A run as clients see it: each step's state, timings, cache hit, artifacts and summary. */
export function runView(run: PipelineRun) {
  return {
    ...brief(run),
    params: run.params,
    trigger: run.trigger,
    ...(run.registered === undefined ? {} : { registered: run.registered }),
    ...(run.deployed === undefined ? {} : { deployed: run.deployed }),
    steps: run.steps.map(stepView),
  };
}

function brief(run: PipelineRun) {
  return {
    id: run.id,
    pipeline: run.pipeline,
    state: run.state,
    ...(run.reason === undefined ? {} : { reason: run.reason }),
    trigger: { kind: run.trigger.kind, reason: run.trigger.reason },
    createdAt: run.createdAt,
    ...(run.startedAt === undefined ? {} : { startedAt: run.startedAt }),
    ...(run.finishedAt === undefined ? {} : { finishedAt: run.finishedAt }),
    ...(run.startedAt !== undefined && run.finishedAt !== undefined
      ? { durationMs: run.finishedAt - run.startedAt }
      : {}),
  };
}

function stepView(step: StepRun) {
  const { step: name, ...rest } = step;
  return {
    name,
    ...rest,
    ...(step.startedAt !== undefined && step.finishedAt !== undefined
      ? { durationMs: step.finishedAt - step.startedAt }
      : {}),
  };
}
