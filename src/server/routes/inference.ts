/** The Open Inference Protocol v2 model endpoints and the named-feature v1 endpoint. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Ballast } from "../../ballast.js";
import { invalid, notFound } from "../../domain/errors.js";
import { needsChunks, stringifyInChunks } from "../../domain/json-chunks.js";
import type { Flavor } from "../../domain/model.js";
import type { ServedDeployment, ServedVariant } from "../../serving/endpoints.js";
import {
  fallbackReasonOf,
  type InferenceResponse,
  type NamedPredictionResponse,
} from "../../serving/inference.js";
import { RequestId } from "../../serving/request-ids.js";
import {
  hotPath,
  type BodyParser,
  type HotPathStats,
  type InferenceAnswer,
  type InferenceCall,
} from "./inference-hot-path.js";

export type { InferenceAnswer } from "./inference-hot-path.js";

/** Names the client's id when it had been used before and the prediction was logged under a new one. */
const REUSED_HEADER = "x-ballast-request-id-reused";

/** Set when a fallback answered, so proxies and clients see it without parsing the body. */
const FALLBACK_HEADER = "x-ballast-fallback";

/** The request's id, and whether the client chose it (the app keeps a client's id when it looks like one). */
function requestIdOf(request: FastifyRequest): RequestId {
  return new RequestId(request.id, request.id === request.headers["x-request-id"]);
}

const NO_HEADERS: Readonly<Record<string, string>> = {};

/**
 * The answer's JSON text and headers. The text is sent as is: Fastify's generic serialisation
 * and preSerialization hooks are skipped (no inference route is one whose replies are redacted,
 * see redaction.ts). A large answer (a maximal batch's outputs) is written a slice at a time
 * between turns of the event loop; the text is the same JSON.stringify would give. x-request-id
 * says the id the prediction was logged under (the one feedback must name) when the client's
 * was used before.
 */
async function answerOf(
  response: InferenceResponse | NamedPredictionResponse,
  id: RequestId,
): Promise<InferenceAnswer> {
  const text = needsChunks(response) ? await stringifyInChunks(response) : JSON.stringify(response);
  const reason = fallbackReasonOf(response);
  if (reason === undefined && !id.reused) return { text: text as string, headers: NO_HEADERS };
  const headers: Record<string, string> = {};
  if (reason !== undefined) headers[FALLBACK_HEADER] = reason;
  if (id.reused) {
    headers["x-request-id"] = id.logged;
    headers[REUSED_HEADER] = id.given;
  }
  return { text: text as string, headers };
}

/** What the inference routes need from the app besides Ballast. */
export interface InferenceRouteOptions {
  /** The app's JSON body parser, for the hot path to read bodies exactly as the routes do. */
  readonly parseBody: BodyParser;
  readonly bodyLimit: number;
  /** Counts of requests the hot path answered and left to the routes. */
  readonly hotPath: HotPathStats;
}

interface ModelParams {
  name: string;
  version?: string;
}

const PLATFORMS: Record<Flavor, string> = {
  onnx: "onnxruntime_onnx",
  builtin: "ballast_builtin",
  http: "ballast_remote_v2",
};

export function inferenceRoutes(ballast: Ballast, options: InferenceRouteOptions): FastifyPluginAsync {
  const { endpoints, pool, inference, routers } = ballast;

  /** A name that is not a deployment may be a Router (both answer at /v2/models/{name}). */
  const routerNamed = async (params: ModelParams): Promise<boolean> =>
    params.version === undefined &&
    !endpoints.has(params.name) &&
    (await routers.find(params.name)) !== undefined;

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

  /** A router is ready when any specialist's deployment is. */
  async function routerReady(name: string, reply: FastifyReply) {
    const described = await routers.describe(name);
    const notReady = described.spec.specialists.filter((s) => {
      try {
        return !ready({ name: s.deployment }).ready;
      } catch {
        return true;
      }
    });
    // Ready while any specialist is: the others are renormalised away.
    if (notReady.length < described.spec.specialists.length)
      return {
        name,
        ready: true,
        ...(notReady.length === 0 ? {} : { notReady: notReady.map((s) => s.name) }),
      };
    return reply.status(503).send({
      name,
      ready: false,
      error: `specialists not ready: ${notReady.map((s) => s.name).join(", ")}`,
    });
  }

  /** `POST /v2/models/{name}[/versions/{v}]/infer`. */
  const infer: InferenceCall = async (request, body) => {
    const params = request.params as ModelParams;
    const id = requestIdOf(request);
    if (await routerNamed(params)) {
      const answer = await routers.infer(params.name, body, id.given);
      return { text: JSON.stringify(answer), headers: NO_HEADERS };
    }
    const response = await inference.infer(params.name, params.version, body, id, request.headers);
    return answerOf(response, id);
  };

  /** `/v1/models/{name}:predict`: the colon is part of the last path segment. */
  const predict: InferenceCall = async (request, body) => {
    const raw = (request.params as { nameAndVerb: string }).nameAndVerb;
    const cut = raw.lastIndexOf(":");
    const verb = cut < 0 ? "" : raw.slice(cut + 1);
    if (verb !== "predict") throw notFound(`use POST /v1/models/{name}:predict (got '${raw}')`);
    const id = requestIdOf(request);
    const response = await inference.predict(raw.slice(0, cut), body, id, request.headers);
    return answerOf(response, id);
  };

  const hot = { parse: options.parseBody, bodyLimit: options.bodyLimit, stats: options.hotPath };

  /** The route's own way, for what the hot path leaves to it. */
  const handler = (call: InferenceCall) => async (request: FastifyRequest, reply: FastifyReply) => {
    const answer = await call(request, request.body);
    for (const name in answer.headers) void reply.header(name, answer.headers[name]);
    return reply.type("application/json; charset=utf-8").send(answer.text);
  };

  return async (app) => {
    for (const prefix of ["/v2/models/:name", "/v2/models/:name/versions/:version"]) {
      app.get<{ Params: ModelParams }>(prefix, async (request) =>
        (await routerNamed(request.params))
          ? routers.metadata(request.params.name)
          : metadata(request.params),
      );

      app.get<{ Params: ModelParams }>(`${prefix}/ready`, async (request, reply) => {
        if (await routerNamed(request.params)) return routerReady(request.params.name, reply);
        const { name, ready: isReady, notReady } = ready(request.params);
        if (isReady) return { name, ready: true };
        const which = notReady.map((v) => `version ${v.version.version}`).join(", ");
        return reply.status(503).send({ name, ready: false, error: `${which} of '${name}' not loaded yet` });
      });

      app.post(`${prefix}/infer`, { onRequest: hotPath(infer, hot) }, handler(infer));
    }

    app.post("/v1/models/:nameAndVerb", { onRequest: hotPath(predict, hot) }, handler(predict));
  };
}
