/**
 * A model served by another Open Inference Protocol v2 server (Triton, KServe, MLServer, or
 * another Ballast). The artifact is a small JSON file that says where:
 *
 *   { "format": "ballast.http/v1", "url": "http://host:port", "model": "name",
 *     "version"?: "v", "headers"?: { "authorization": "…" } }
 *
 * Errors keep their cause: no answer in time -> timeout, an error answer -> upstream (with
 * the remote `error` text), no connection -> unavailable.
 */
import { readFile } from "node:fs/promises";
import { BallastError, invalid, isBallastError, unavailable } from "../domain/errors.js";
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
  let parsed: URL | undefined;
  try {
    parsed = typeof url === "string" ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw invalid(`url must be an http:// or https:// URL, not ${JSON.stringify(url)}`, { field: "url" });
  }
  if (typeof model !== "string" || model === "") {
    throw invalid("model must name the model on the remote server", { field: "model" });
  }
  if (version !== undefined && (typeof version !== "string" || version === "")) {
    throw invalid("version must be a non-empty string when given", { field: "version" });
  }
  if (
    headers !== undefined &&
    (!isPlainObject(headers) || !Object.values(headers).every((v) => typeof v === "string"))
  ) {
    throw invalid("headers must be an object of strings", { field: "headers" });
  }
  return {
    url: (url as string).replace(/\/+$/, ""),
    model,
    ...(version === undefined ? {} : { version }),
    headers: (headers as Record<string, string> | undefined) ?? {},
  };
}

function modelPath(artifact: HttpArtifact): string {
  const base = `${artifact.url}/v2/models/${encodeURIComponent(artifact.model)}`;
  return artifact.version === undefined ? base : `${base}/versions/${encodeURIComponent(artifact.version)}`;
}

const label = (artifact: HttpArtifact): string =>
  `remote model '${artifact.model}'${artifact.version === undefined ? "" : ` version ${artifact.version}`} at ${artifact.url}`;

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
  artifact: HttpArtifact,
  path: string,
  init: { method: "GET" | "POST"; body?: unknown },
  timeoutMs: number,
  signal: AbortSignal | undefined,
  acceptStatus: (status: number) => boolean = (status) => status >= 200 && status < 300,
): Promise<Answer> {
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
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) {
      throw isBallastError(signal.reason)
        ? signal.reason
        : new BallastError("timeout", `the call to ${label(artifact)} was cancelled before it answered`);
    }
    if (timeout.aborted) {
      throw new BallastError("timeout", `${label(artifact)} did not answer within ${timeoutMs} ms`, {
        timeoutMs,
      });
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(
      `cannot reach ${label(artifact)}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
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

async function fetchSignature(artifact: HttpArtifact, timeoutMs: number): Promise<Signature> {
  const { body } = await call(artifact, modelPath(artifact), { method: "GET" }, timeoutMs, undefined);
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

async function checkReady(artifact: HttpArtifact, timeoutMs: number): Promise<void> {
  const { status, body } = await call(
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
    private readonly artifact: HttpArtifact,
    readonly signature: Signature,
    private readonly timeoutMs: number,
  ) {}

  async infer(inputs: readonly Tensor[], options: InferOptions = {}): Promise<Tensor[]> {
    if (this.unloaded) throw unavailable(`${label(this.artifact)} was unloaded`);
    checkInputs(this.signature, inputs);
    const wanted = selectOutputs(this.signature, options.outputs);
    const request = {
      // The remote server takes JSON numbers only: a 64-bit value beyond 2^53 is the caller's to fix.
      inputs: inputs.map((t) => encodeTensor(t, invalid)),
      ...(options.outputs === undefined ? {} : { outputs: wanted.map((name) => ({ name })) }),
    };
    const { body } = await call(
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
    await checkReady(this.artifact, this.timeoutMs);
  }

  async unload(): Promise<void> {
    this.unloaded = true;
  }
}

export const httpRuntime: Runtime = {
  flavor: "http",

  async inspect(artifactPath: string): Promise<Signature> {
    return fetchSignature(await readArtifact(artifactPath), INSPECT_TIMEOUT_MS);
  },

  async load(request: LoadRequest): Promise<LoadedModel> {
    const artifact = await readArtifact(request.artifactPath);
    const signature = withFeatures(await fetchSignature(artifact, request.timeoutMs), request.signature);
    await checkReady(artifact, request.timeoutMs);
    return new HttpModel(artifact, signature, request.timeoutMs);
  },
};
