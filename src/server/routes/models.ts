/**
 * The registry over HTTP: artifact upload (content-addressed), models, versions and aliases.
 * The CLI's `ballast models …` commands are clients of these routes.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import type { FastifyPluginAsync } from "fastify";
import { strategyChoice } from "../../application/change-plan.js";
import type { Ballast } from "../../ballast.js";
import { invalid, notFound } from "../../domain/errors.js";
import { FLAVORS, type Flavor, type Lineage, type Signature } from "../../domain/model.js";
import { isPlainObject } from "../../domain/json-value.js";
import { parseProfile, type ReferenceProfile } from "../../monitoring/profile/reference-profile.js";
import type { ArtifactStore } from "../../registry/artifacts.js";

interface VersionParams {
  name: string;
  version: string;
}

export function modelRoutes(ballast: Ballast, options: { artifactLimit: number }): FastifyPluginAsync {
  const { registry, artifacts } = ballast;

  return async (app) => {
    // Uploads stream to a temporary file and are then stored under their sha256.
    await app.register(async (uploads) => {
      uploads.addContentTypeParser(
        "application/octet-stream",
        { bodyLimit: options.artifactLimit },
        (_req, payload, done) => done(null, payload),
      );
      uploads.post("/api/v1/artifacts", { bodyLimit: options.artifactLimit }, async (request, reply) => {
        if (!(request.body instanceof Object) || typeof (request.body as Readable).pipe !== "function") {
          throw invalid("send the artifact bytes with content-type application/octet-stream");
        }
        const dir = join(ballast.dataDir, "uploads");
        await mkdir(dir, { recursive: true });
        const temp = join(dir, randomUUID());
        try {
          await pipeline(request.body as Readable, createWriteStream(temp));
          const stored = await artifacts.put(temp);
          return reply
            .status(201)
            .send({ artifact: `sha256:${stored.sha256}`, sha256: stored.sha256, size: stored.size });
        } finally {
          await rm(temp, { force: true });
        }
      });
    });

    app.get("/api/v1/models", async () => ({ models: await registry.listModels() }));

    app.get<{ Params: { name: string } }>("/api/v1/models/:name", async (request) => {
      const model = await registry.getModel(request.params.name);
      const versions = await registry.listVersions(request.params.name);
      return { ...model, versions };
    });

    app.delete<{ Params: { name: string } }>("/api/v1/models/:name", async (request) => {
      await registry.deleteModel(request.params.name);
      return { deleted: request.params.name };
    });

    app.post<{ Params: { name: string } }>("/api/v1/models/:name/versions", async (request, reply) => {
      const body = request.body;
      if (!isPlainObject(body))
        throw invalid("the request body must be a JSON object with an artifact field");
      const artifact = body.artifact;
      if (typeof artifact !== "string" || !/^sha256:[0-9a-f]{64}$/.test(artifact)) {
        throw invalid('artifact must be "sha256:<64 hex>" as returned by POST /api/v1/artifacts');
      }
      const sha = artifact.slice("sha256:".length);
      if (!(await artifacts.exists(sha)))
        throw notFound(`artifact ${artifact} was not uploaded; POST it to /api/v1/artifacts first`);
      if (body.flavor !== undefined && !(FLAVORS as readonly unknown[]).includes(body.flavor)) {
        throw invalid(`flavor must be one of ${FLAVORS.join(", ")}`);
      }
      const result = await registry.registerVersion({
        model: request.params.name,
        artifactPath: await artifacts.ensureLocal(sha),
        flavor: body.flavor as Flavor | undefined,
        signature: optionalObject(body.signature, "signature") as Signature | undefined,
        features: optionalStrings(body.features, "features"),
        tags: optionalObject(body.tags, "tags") as Record<string, string> | undefined,
        description: optionalString(body.description, "description"),
        metrics: optionalObject(body.metrics, "metrics") as Record<string, number> | undefined,
        lineage: optionalObject(body.lineage, "lineage") as Lineage | undefined,
        source: optionalString(body.source, "source"),
        allowDuplicate: body.allowDuplicate === true,
        referenceProfile: await uploadedReference(artifacts, body.reference),
      });
      return reply.status(result.created ? 201 : 200).send(result);
    });

    app.get<{ Params: VersionParams }>("/api/v1/models/:name/versions/:version", async (request) =>
      registry.getVersion(request.params.name, versionNumber(request.params.version)),
    );

    app.patch<{ Params: VersionParams }>("/api/v1/models/:name/versions/:version", async (request) => {
      const body = request.body;
      if (!isPlainObject(body)) throw invalid("the request body must be a JSON object");
      return registry.updateVersion(request.params.name, versionNumber(request.params.version), {
        tags: optionalObject(body.tags, "tags") as Record<string, string> | undefined,
        description: optionalString(body.description, "description"),
        metrics: optionalObject(body.metrics, "metrics") as Record<string, number> | undefined,
      });
    });

    app.delete<{ Params: VersionParams }>("/api/v1/models/:name/versions/:version", async (request) => {
      await registry.deleteVersion(request.params.name, versionNumber(request.params.version));
      return { deleted: { model: request.params.name, version: Number(request.params.version) } };
    });

    app.get<{ Params: VersionParams }>(
      "/api/v1/models/:name/versions/:version/reference",
      async (request) => {
        const { name } = request.params;
        const version = versionNumber(request.params.version);
        const profile = await registry.getReference(name, version);
        if (profile === null) {
          throw notFound(
            `model "${name}" version ${version} has no reference profile; attach one with ` +
              `PUT /api/v1/models/${name}/versions/${version}/reference or \`ballast models reference\``,
            { model: name, version },
          );
        }
        return profile;
      },
    );

    app.put<{ Params: VersionParams }>("/api/v1/models/:name/versions/:version/reference", async (request) =>
      registry.attachReference(
        request.params.name,
        versionNumber(request.params.version),
        request.body as ReferenceProfile, // validated by the registry
      ),
    );

    app.put<{ Params: { name: string; alias: string }; Querystring: { strategy?: string } }>(
      "/api/v1/models/:name/aliases/:alias",
      async (request) => {
        const body = request.body;
        const version = isPlainObject(body) ? body.version : undefined;
        if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 1) {
          throw invalid('body must be {"version": <positive integer>}');
        }
        // Deployments that follow the alias move with it, through their strategy unless skipped.
        const moved = await ballast.changes.moveAlias(request.params.name, request.params.alias, version, {
          strategy: strategyChoice(request.query.strategy),
        });
        return {
          model: request.params.name,
          alias: request.params.alias,
          version,
          problems: moved.problems,
          rollouts: moved.rollouts.map((r) => ({
            deployment: r.deployment,
            id: r.rollout.id,
            phase: r.rollout.phase,
          })),
        };
      },
    );

    app.delete<{ Params: { name: string; alias: string } }>(
      "/api/v1/models/:name/aliases/:alias",
      async (request) => {
        await registry.deleteAlias(request.params.name, request.params.alias);
        return { deleted: request.params.alias };
      },
    );
  };
}

export function versionNumber(raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) throw invalid(`version must be a positive integer, got '${raw}'`);
  return Number(raw);
}

/** The profile behind `"reference": "sha256:…"`, an artifact uploaded before. */
async function uploadedReference(
  artifacts: ArtifactStore,
  reference: unknown,
): Promise<ReferenceProfile | undefined> {
  if (reference === undefined || reference === null) return undefined;
  if (typeof reference !== "string" || !/^sha256:[0-9a-f]{64}$/.test(reference)) {
    throw invalid('reference must be "sha256:<64 hex>" of a profile uploaded to POST /api/v1/artifacts');
  }
  const sha = reference.slice("sha256:".length);
  if (!(await artifacts.exists(sha))) {
    throw notFound(`reference ${reference} was not uploaded; POST the profile to /api/v1/artifacts first`);
  }
  try {
    return parseProfile(await readFile(await artifacts.ensureLocal(sha), "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalid(`reference ${reference} is not a reference profile: ${reason}`, { field: "reference" });
  }
}

function optionalObject(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw invalid(`${field} must be an object`);
  return value;
}

function optionalStrings(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
    throw invalid(`${field} must be an array of strings`);
  return value as string[];
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalid(`${field} must be a string`);
  return value;
}
