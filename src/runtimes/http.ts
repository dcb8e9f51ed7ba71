/**
 * A model served by another Open Inference Protocol v2 server (Triton, KServe, MLServer, or
 * another Ballast). The artifact is a small JSON file that says where:
 *
 *   { "format": "ballast.http/v1", "url": "http://host:port", "model": "name",
 *     "version"?: "v", "headers"?: { "authorization": "…" } }
 *
 * The url is a base address only (see domain/remote-access.ts): calls go to the protocol's own
 * paths under it (`/v2/models/{name}[/versions/{v}]`, `/ready`, `/infer`), redirects are not
 * followed, and the server's allow-list (`--allow-remote`) is checked at registration and again
 * before every call, so a model cannot be pointed at an internal page.
 *
 * Errors: no answer in time -> timeout; anything else that is not a good answer (no
 * connection, an error status, a redirect, malformed JSON) -> upstream. One code for all of
 * them, so a client cannot tell a closed port from an open one; their messages quote the
 * remote and go to the server log only (server/errors.ts).
 */
import { readFile } from "node:fs/promises";
import { BallastError, invalid, isBallastError, unavailable } from "../domain/errors.js";
import {
  ANYWHERE,
  checkAllowed,
  checkBaseUrl,
  isAllowed,
  type RemoteAccess,
} from "../domain/remote-access.js";
import type { Signature } from "../domain/model.js";
import { isDatatype, type Tensor, type TensorSpec } from "../domain/tensor.js";
import { isPlainObject } from "../domain/json-value.js";
import { decodeTensor, encodeTensor } from "../domain/tensor-json.js";
import type { InferOptions, LoadedModel, LoadRequest, Runtime } from "./runtime.js";
import { checkInputs, selectOutputs, withFeatures } from "./signature.js";

export const HTTP_FORMAT = "ballast.http/v1";

/** Deadline for reading metadata at registration, when no deployment has set one. */
const INSPECT_TIMEOUT_MS = 10_000;

export interface HttpArtifact {
  readonly url: string;
  readonly model: string;
  readonly version?: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Parses and checks an http artifact: JSON text or an already-parsed value. */
export function parseHttpArtifact(source: unknown): HttpArtifact {
  let value = source;
  if (typeof source === "string") {
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw invalid(`the http model artifact is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isPlainObject(value)) throw invalid("an http model artifact must be a JSON object");
  const fields = ["format", "url", "model", "version", "headers"];
  const unknown = Object.keys(value).find((k) => !fields.includes(k));
  if (unknown !== undefined)
    throw invalid(`unknown field '${unknown}' in http model artifact`, { field: unknown });
  if (value.format !== HTTP_FORMAT) {
    throw invalid(`format must be "${HTTP_FORMAT}", not ${JSON.stringify(value.format)}`, {
      field: "format",
    });
  }
  const { url, model, version, headers } = value;
  const base = checkBaseUrl(url, "url");
  // "." and ".." would be resolved as path steps and leave /v2/models/; anything else is encoded.
  if (typeof model !== "string" || model === "" || model === "." || model === "..") {
    throw invalid("model must name the model on the remote server", { field: "model" });
  }
  if (version !== undefined && (typeof version !== "string" || version === "" || /^\.\.?$/.test(version))) {
    throw invalid("version must be a non-empty string when given", { field: "version" });
  }
  if (
    headers !== undefined &&
    (!isPlainObject(headers) || !Object.values(headers).every((v) => typeof v === "string"))
  ) {
    throw invalid("headers must be an object of strings", { field: "headers" });
  }
  return {
    url: base,
    model,
    ...(version === undefined ? {} : { version }),
    headers: (headers as Record<string, string> | undefined) ?? {},
  };
}

function modelPath(artifact: HttpArtifact): string {
  const base = `${artifact.url}/v2/models/${encodeURIComponent(artifact.model)}`;
  return artifact.version === undefined ? base : `${base}/versions/${encodeURIComponent(artifact.version)}`;
}

/** The remote model by name only, for messages a client may see (timeouts, unloaded). */
const shortLabel = (artifact: HttpArtifact): string =>
  `remote model '${artifact.model}'${artifact.version === undefined ? "" : ` version ${artifact.version}`}`;

/** With its address, for messages that go to the server log. */
const label = (artifact: HttpArtifact): string => `${shortLabel(artifact)} at ${artifact.url}`;

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function remoteError(body: unknown, text: string): string {
  if (isPlainObject(body) && typeof body.error === "string") return body.error;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * One call to the remote server. Non-2xx answers are returned, not thrown, when
 * `acceptStatus` lets them through (readiness is such a case).
 */
async function call(
  access: RemoteAccess,
  artifact: HttpArtifact,
  path: string,
  init: { method: "GET" | "POST"; body?: unknown },
  timeoutMs: number,
  signal: AbortSignal | undefined,
  acceptStatus: (status: number) => boolean = (status) => status >= 200 && status < 300,
): Promise<Answer> {
  // Again at every call: a model registered before the list was narrowed is refused too.
  if (!isAllowed(access, artifact.url)) {
    throw new BallastError("upstream", `${label(artifact)} is not an allowed remote host (--allow-remote)`);
  }
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
  const headers: Record<string, string> = { accept: "application/json", ...artifact.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let status: number;
  let text: string;
  try {
    const response = await fetch(path, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: combined,
      // A redirect could lead anywhere, past the allow-list: it is a failure, not followed.
      redirect: "manual",
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) {
      throw isBallastError(signal.reason)
        ? signal.reason
        : new BallastError("timeout", `the call to ${shortLabel(artifact)} was cancelled before it answered`);
    }
    if (timeout.aborted) {
      throw new BallastError("timeout", `${shortLabel(artifact)} did not answer within ${timeoutMs} ms`, {
        timeoutMs,
      });
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new BallastError(
      "upstream",
      `cannot reach ${label(artifact)}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (status >= 300 && status < 400) {
    throw new BallastError(
      "upstream",
      `${label(artifact)} answered ${status} (a redirect, which Ballast does not follow)`,
      { status },
    );
  }
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    if (acceptStatus(status))
      throw new BallastError("upstream", `${label(artifact)} answered with invalid JSON`);
  }
  if (!acceptStatus(status)) {
    throw new BallastError("upstream", `${label(artifact)} answered ${status}: ${remoteError(body, text)}`, {
      status,
    });
  }
  return { status, body };
}

function parseSpecs(value: unknown, role: string, artifact: HttpArtifact): TensorSpec[] {
  const malformed = (why: string): BallastError =>
    new BallastError("upstream", `the metadata of ${label(artifact)} is malformed: ${why}`);
  if (!Array.isArray(value)) throw malformed(`${role} is not an array`);
  return value.map((spec, i): TensorSpec => {
    if (!isPlainObject(spec) || typeof spec.name !== "string") throw malformed(`${role}[${i}] has no name`);
    if (!isDatatype(spec.datatype))
      throw malformed(`${role}[${i}] has datatype ${JSON.stringify(spec.datatype)}`);
    const shape = spec.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= -1)) {
      throw malformed(`${role}[${i}] has no valid shape`);
    }
    return { name: spec.name, datatype: spec.datatype, shape: shape as number[] };
  });
}

async function fetchSignature(
  access: RemoteAccess,
  artifact: HttpArtifact,
  timeoutMs: number,
): Promise<Signature> {
  const { body } = await call(access, artifact, modelPath(artifact), { method: "GET" }, timeoutMs, undefined);
  if (!isPlainObject(body)) {
    throw new BallastError("upstream", `the metadata of ${label(artifact)} is not a JSON object`);
  }
  // Ballast (and servers like it) name the first input's columns in `parameters.features`; a
  // remote that does not is still served, only without the named-feature API.
  const parameters = isPlainObject(body.parameters) ? body.parameters : {};
  const features = parameters.features;
  const named =
    Array.isArray(features) && features.length > 0 && features.every((f) => typeof f === "string");
  return {
    inputs: parseSpecs(body.inputs, "inputs", artifact),
    outputs: parseSpecs(body.outputs, "outputs", artifact),
    ...(named ? { features: features as string[] } : {}),
  };
}

async function checkReady(access: RemoteAccess, artifact: HttpArtifact, timeoutMs: number): Promise<void> {
  const { status, body } = await call(
    access,
    artifact,
    `${modelPath(artifact)}/ready`,
    { method: "GET" },
    timeoutMs,
    undefined,
    () => true,
  );
  // Servers answer readiness with the status code, some also with { "ready": bool }.
  const ready = status >= 200 && status < 300 && !(isPlainObject(body) && body.ready === false);
  if (!ready) throw unavailable(`${label(artifact)} is not ready (HTTP ${status})`, { status });
}

async function readArtifact(path: string): Promise<HttpArtifact> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw invalid(`cannot read the http model artifact at ${path}: ${(error as Error).message}`, { path });
  }
  return parseHttpArtifact(text);
}

class HttpModel implements LoadedModel {
  readonly cancellable = true;
  private unloaded = false;

  constructor(
    private readonly access: RemoteAccess,
    private readonly artifact: HttpArtifact,
    readonly signature: Signature,
    private readonly timeoutMs: number,
  ) {}

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    if (this.unloaded) throw unavailable(`${shortLabel(this.artifact)} was unloaded`);
    checkInputs(this.signature, inputs);
    const wanted = selectOutputs(this.signature, options.outputs);
    const request = {
      // The remote server takes JSON numbers only: a 64-bit value beyond 2^53 is the caller's to fix.
      inputs: inputs.map((t) => encodeTensor(t, invalid)),
      ...(options.outputs === undefined ? {} : { outputs: wanted.map((name) => ({ name })) }),
    };
    const { body } = await call(
      this.access,
      this.artifact,
      `${modelPath(this.artifact)}/infer`,
      { method: "POST", body: request },
      this.timeoutMs,
      options.signal,
    );
    const upstream = (message: string): BallastError =>
      new BallastError("upstream", `${label(this.artifact)} answered with a malformed response: ${message}`);
    if (!isPlainObject(body) || !Array.isArray(body.outputs)) throw upstream("it has no outputs array");
    const outputs = body.outputs.map((value, i) =>
      decodeTensor(value, { where: `outputs[${i}]`, role: "output", fail: upstream }),
    );
    // A server may ignore the requested outputs; only the wanted ones go back, in that order.
    return wanted.map((name) => {
      const output = outputs.find((t) => t.name === name);
      if (output === undefined) throw upstream(`output '${name}' is missing`);
      return output;
    });
  }

  /** Asks for readiness rather than running zeros, which a remote model might log or bill. */
  async warm(): Promise<void> {
    await checkReady(this.access, this.artifact, this.timeoutMs);
  }

  async unload(): Promise<void> {
    this.unloaded = true;
  }
}

/**
 * The http runtime under an allow-list: registration (`inspect`) refuses a url outside it with
 * a 400 naming the field; loads and calls refuse it as a model failure.
 */
export function createHttpRuntime(access: RemoteAccess): Runtime {
  return {
    flavor: "http",

    async inspect(artifactPath: string): Promise<Signature> {
      const artifact = await readArtifact(artifactPath);
      checkAllowed(access, artifact.url, "url");
      return fetchSignature(access, artifact, INSPECT_TIMEOUT_MS);
    },

    async load(request: LoadRequest): Promise<LoadedModel> {
      const artifact = await readArtifact(request.artifactPath);
      const signature = withFeatures(
        await fetchSignature(access, artifact, request.timeoutMs),
        request.signature,
      );
      await checkReady(access, artifact, request.timeoutMs);
      return new HttpModel(access, artifact, signature, request.timeoutMs);
    },
  };
}

/** No allow-list: any base URL (what `ballast serve` does without `--allow-remote`). */
export const httpRuntime: Runtime = createHttpRuntime(ANYWHERE);
