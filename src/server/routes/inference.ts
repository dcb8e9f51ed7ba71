/** The Open Inference Protocol v2 model endpoints and the named-feature v1 endpoint. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid, notFound } from "../../domain/errors.js";
import { needsChunks, stringifyInChunks } from "../../domain/json-chunks.js";
import type { Flavor } from "../../domain/model.js";
import type { ServedDeployment, ServedVariant } from "../../serving/endpoints.js";
import { fallbackReasonOf } from "../../serving/inference.js";
import { RequestId } from "../../serving/request-ids.js";

/** Names the client's id when it had been used before and the prediction was logged under a new one. */
const REUSED_HEADER = "x-ballast-request-id-reused";

/** The request's id, and whether the client chose it (the app keeps a client's id when it looks like one). */
function requestIdOf(request: FastifyRequest): RequestId {
  return new RequestId(request.id, request.id === request.headers["x-request-id"]);
}

/** x-request-id says the id the prediction was logged under: the one feedback must name. */
function tellLoggedId(reply: FastifyReply, id: RequestId): void {
  if (!id.reused) return;
  void reply.header("x-request-id", id.logged);
  void reply.header(REUSED_HEADER, id.given);
}

/**
 * The answer's JSON text, sent as is: Fastify's generic serialisation and preSerialization hooks
 * are skipped (no inference route is one whose replies are redacted, see redaction.ts). A large
 * answer (a maximal batch's outputs) is written a slice at a time between turns of the event
 * loop; the text is the same JSON.stringify would give.
 */
async function sendAnswer(reply: FastifyReply, response: object): Promise<unknown> {
  const text = needsChunks(response) ? await stringifyInChunks(response) : JSON.stringify(response);
  return reply.type("application/json; charset=utf-8").send(text);
}

/** Set when a fallback answered, so proxies and clients see it without parsing the body. */
const FALLBACK_HEADER = "x-ballast-fallback";

interface ModelParams {
  name: string;
  version?: string;
}

const PLATFORMS: Record<Flavor, string> = {
  onnx: "onnxruntime_onnx",
  builtin: "ballast_builtin",
  http: "ballast_remote_v2",
};

export function inferenceRoutes(ballast: Ballast): FastifyPluginAsync {
  const { endpoints, pool, inference } = ballast;

  /** The variant a metadata or ready call is about: the named version, else the stable one. */
  function variantFor(served: ServedDeployment, version: string | undefined): ServedVariant {
    if (version === undefined) {
      return served.variants.find((v) => v.variant.shadow !== true) ?? (served.variants[0] as ServedVariant);
    }
    if (!/^[1-9][0-9]{0,9}$/.test(version))
      throw invalid(`version must be a positive integer, got '${version}'`);
    const found = served.variants.find((v) => v.version.version === Number(version));
    if (found === undefined)
      throw notFound(`version ${version} of '${served.deployment.name}' is not deployed`);
    return found;
  }

  function metadata(params: ModelParams) {
    const served = endpoints.get(params.name);
    const target = variantFor(served, params.version);
    const sig = target.signature;
    return {
      name: params.name,
      versions: [...new Set(served.variants.map((v) => String(v.version.version)))],
      platform: PLATFORMS[target.version.flavor],
      inputs: sig.inputs,
      outputs: sig.outputs,
      ...(sig.features === undefined ? {} : { parameters: { features: sig.features } }),
    };
  }

  function ready(params: ModelParams) {
    const served = endpoints.get(params.name);
    const targets = params.version === undefined ? served.variants : [variantFor(served, params.version)];
    const notReady = targets.filter((v) => pool.state(v.version.model, v.version.version).state !== "ready");
    return { name: params.name, ready: notReady.length === 0, notReady };
  }

  return async (app) => {
    for (const prefix of ["/v2/models/:name", "/v2/models/:name/versions/:version"]) {
      app.get<{ Params: ModelParams }>(prefix, async (request) => metadata(request.params));

      app.get<{ Params: ModelParams }>(`${prefix}/ready`, async (request, reply) => {
        const { name, ready: isReady, notReady } = ready(request.params);
        if (isReady) return { name, ready: true };
        const which = notReady.map((v) => `version ${v.version.version}`).join(", ");
        return reply.status(503).send({ name, ready: false, error: `${which} of '${name}' not loaded yet` });
      });

      app.post<{ Params: ModelParams }>(`${prefix}/infer`, async (request, reply) => {
        const id = requestIdOf(request);
        const response = await inference.infer(
          request.params.name,
          request.params.version,
          request.body,
          id,
          request.headers,
        );
        const reason = fallbackReasonOf(response);
        if (reason !== undefined) void reply.header(FALLBACK_HEADER, reason);
        tellLoggedId(reply, id);
        return sendAnswer(reply, response);
      });
    }

    // `/v1/models/{name}:predict` — the colon is part of the last path segment.
    app.post<{ Params: { nameAndVerb: string } }>("/v1/models/:nameAndVerb", async (request, reply) => {
      const raw = request.params.nameAndVerb;
      const cut = raw.lastIndexOf(":");
      const verb = cut < 0 ? "" : raw.slice(cut + 1);
      if (verb !== "predict") throw notFound(`use POST /v1/models/{name}:predict (got '${raw}')`);
      const id = requestIdOf(request);
      const response = await inference.predict(raw.slice(0, cut), request.body, id, request.headers);
      const reason = fallbackReasonOf(response);
      if (reason !== undefined) void reply.header(FALLBACK_HEADER, reason);
      tellLoggedId(reply, id);
      return sendAnswer(reply, response);
    });
  };
}
