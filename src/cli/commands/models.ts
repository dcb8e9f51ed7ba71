/** `ballast models register|list|show|alias|reference` — clients of the server's registry API. */
import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import type { Command } from "commander";
import { invalid } from "../../domain/errors.js";
import type { ModelVersion, RegisteredModel } from "../../domain/model.js";
import { profileFile } from "../../monitoring/file-drift.js";
import {
  parseProfile,
  serializeProfile,
  type ReferenceProfile,
} from "../../monitoring/profile/reference-profile.js";
import { clientFor, serverOptions, type ServerFlags, uploadFile } from "../client.js";
import { collect, pairs, parsePositiveInt } from "../options.js";
import { formatTable, printJson } from "../table.js";
import { list } from "./profile.js";

interface RegisterOptions extends ServerFlags {
  flavor?: string;
  signature?: string;
  features?: string;
  description?: string;
  tag: string[];
  metric: string[];
  param: string[];
  parentVersion?: string;
  runId?: string;
  dataFingerprint?: string;
  alias: string[];
  allowDuplicate?: boolean;
  reference?: string;
  referenceExclude?: string;
  output?: string;
}

export function register(program: Command): void {
  const models = program.command("models").description("Register model versions and move aliases");
  const server = serverOptions;

  server(
    models
      .command("register <name> <artifact>")
      .description("Upload an artifact (.onnx, builtin .json, http .json) as a new version of <name>")
      .option("--flavor <flavor>", "onnx, builtin or http (inferred from the file when omitted)")
      .option(
        "--signature <file>",
        "JSON signature {inputs, outputs, features?} overriding what the artifact says",
      )
      .option("--features <a,b,c>", "names of the first input's columns, for the named-feature API")
      .option("--description <text>", "what this version is")
      .option("--tag <key=value>", "tag (repeatable)", collect, [])
      .option("--metric <name=number>", "evaluation metric (repeatable)", collect, [])
      .option("--param <key=value>", "training parameter, recorded as lineage (repeatable)", collect, [])
      .option("--parent-version <n>", "the version this one was derived from")
      .option("--run-id <id>", "the run (pipeline, notebook, job) that produced it")
      .option("--data-fingerprint <hash>", "fingerprint of the training data")
      .option("--alias <name>", "point this alias at the new version (repeatable)", collect, [])
      .option("--allow-duplicate", "register even if the same bytes are already a version")
      .option(
        "--reference <file>",
        "reference data (CSV or JSONL, profiled here) or a profile .json from `ballast profile`",
      )
      .option("--reference-exclude <a,b>", "columns of the reference data to leave out (labels, ids)")
      .option("-o, --output <format>", "json for machine-readable output"),
  ).action(async (name: string, artifact: string, options: RegisterOptions) => {
    const client = clientFor(options);
    // Profiled before anything is uploaded, so bad reference data costs no upload.
    const reference =
      options.reference === undefined
        ? undefined
        : await referenceFrom(options.reference, list(options.referenceExclude));
    const uploaded = await uploadFile<{ artifact: string }>(client, "/api/v1/artifacts", resolve(artifact));
    const uploadedReference =
      reference === undefined
        ? undefined
        : await client.request<{ artifact: string }>(
            "POST",
            "/api/v1/artifacts",
            Buffer.from(serializeProfile(reference), "utf8"),
          );
    const signature =
      options.signature === undefined ? undefined : await readJson(options.signature, "--signature");
    const result = await client.request<{ version: ModelVersion; created: boolean }>(
      "POST",
      `/api/v1/models/${encodeURIComponent(name)}/versions`,
      {
        artifact: uploaded.artifact,
        flavor: options.flavor,
        signature,
        features: options.features
          ?.split(",")
          .map((f) => f.trim())
          .filter((f) => f.length > 0),
        description: options.description,
        tags: pairs(options.tag, "--tag", (v) => v),
        metrics: pairs(options.metric, "--metric", (v, k) => number(v, `--metric ${k}`)),
        lineage: {
          parameters: options.param.length === 0 ? undefined : pairs(options.param, "--param", (v) => v),
          parentVersion:
            options.parentVersion === undefined
              ? undefined
              : parsePositiveInt(options.parentVersion, "--parent-version"),
          runId: options.runId,
          dataFingerprint: options.dataFingerprint,
        },
        source: resolve(artifact),
        allowDuplicate: options.allowDuplicate === true,
        reference: uploadedReference?.artifact,
      },
    );
    for (const alias of options.alias) {
      await client.request(
        "PUT",
        `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
        {
          version: result.version.version,
        },
      );
    }
    if (options.output === "json") return printJson(result);
    const v = result.version;
    const what = result.created ? "registered" : "already registered (same sha256)";
    process.stdout.write(
      `${v.model} version ${v.version} ${what}: ${v.flavor}, sha256:${v.artifactSha256.slice(0, 12)}…\n`,
    );
    if (v.referenceProfile) process.stdout.write(`reference: ${referenceLine(v)}\n`);
  });

  server(
    models
      .command("reference <name> <version> <file>")
      .description(
        "Attach a reference profile to a version, replacing any it had: reference data (CSV or JSONL) or a profile .json",
      )
      .option("--exclude <a,b>", "columns of the reference data to leave out (labels, ids)")
      .option("-o, --output <format>", "json for machine-readable output"),
  ).action(
    async (
      name: string,
      version: string,
      file: string,
      options: ServerFlags & { exclude?: string; output?: string },
    ) => {
      const n = parsePositiveInt(version, "version");
      const profile = await referenceFrom(file, list(options.exclude));
      const v = await clientFor(options).request<ModelVersion>(
        "PUT",
        `/api/v1/models/${encodeURIComponent(name)}/versions/${n}/reference`,
        profile,
      );
      if (options.output === "json") return printJson(v);
      process.stdout.write(`${v.model} version ${v.version} reference: ${referenceLine(v)}\n`);
    },
  );

  server(
    models.command("list").description("List registered models").option("-o, --output <format>", "json"),
  ).action(async (options: ServerFlags & { output?: string }) => {
    const { models: list } = await clientFor(options).request<{ models: RegisteredModel[] }>(
      "GET",
      "/api/v1/models",
    );
    if (options.output === "json") return printJson(list);
    process.stdout.write(
      formatTable(
        ["NAME", "LATEST", "ALIASES", "UPDATED"],
        list.map((m) => [
          m.name,
          m.latestVersion,
          Object.entries(m.aliases)
            .map(([a, v]) => `${a}→${v}`)
            .join(" ") || "-",
          new Date(m.updatedAt).toISOString(),
        ]),
      ),
    );
  });

  server(
    models
      .command("show <name> [version]")
      .description("Show a model and its versions, or one version")
      .option("-o, --output <format>", "json"),
  ).action(async (name: string, version: string | undefined, options: ServerFlags & { output?: string }) => {
    const client = clientFor(options);
    if (version !== undefined) {
      const v = await client.request<ModelVersion>(
        "GET",
        `/api/v1/models/${encodeURIComponent(name)}/versions/${parsePositiveInt(version, "version")}`,
      );
      if (options.output === "json") return printJson(v);
      return printVersion(v);
    }
    const model = await client.request<RegisteredModel & { versions: ModelVersion[] }>(
      "GET",
      `/api/v1/models/${encodeURIComponent(name)}`,
    );
    if (options.output === "json") return printJson(model);
    const aliasesOf = (n: number) =>
      Object.entries(model.aliases)
        .filter(([, v]) => v === n)
        .map(([a]) => a)
        .join(",") || "-";
    process.stdout.write(`${model.name}${model.description ? ` — ${model.description}` : ""}\n`);
    process.stdout.write(
      formatTable(
        ["VERSION", "FLAVOR", "ALIASES", "SHA256", "CREATED", "METRICS"],
        model.versions.map((v) => [
          v.version,
          v.flavor,
          aliasesOf(v.version),
          v.artifactSha256.slice(0, 12),
          new Date(v.createdAt).toISOString(),
          Object.entries(v.metrics)
            .map(([k, n]) => `${k}=${n}`)
            .join(" ") || "-",
        ]),
      ),
    );
  });

  server(
    models
      .command("alias <name> <alias> [version]")
      .description("Point <alias> (champion, challenger, …) at <version>; moves atomically")
      .option("--delete", "remove the alias instead")
      .option(
        "--skip-strategy",
        "deployments following the alias switch at once, even those that declare a rollout strategy",
      ),
  ).action(
    async (
      name: string,
      alias: string,
      version: string | undefined,
      options: ServerFlags & { delete?: boolean; skipStrategy?: boolean },
    ) => {
      const client = clientFor(options);
      const path = `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`;
      if (options.delete === true) {
        await client.request("DELETE", path);
        process.stdout.write(`${name}: alias ${alias} removed\n`);
        return;
      }
      if (version === undefined) throw invalid("give the version the alias should point at, or --delete");
      const n = parsePositiveInt(version, "version");
      const moved = await client.request<{ rollouts?: Array<{ deployment: string; phase: string }> }>(
        "PUT",
        `${path}${options.skipStrategy === true ? "?strategy=skip" : ""}`,
        { version: n },
      );
      process.stdout.write(`${name}: ${alias} → version ${n}\n`);
      for (const r of moved.rollouts ?? [])
        process.stdout.write(`deployment ${r.deployment}: rolling version ${n} out (${r.phase})\n`);
    },
  );
}

/**
 * A profile .json is used as it is (checked here, so a wrong file fails before any upload);
 * any other file is reference data, profiled locally with exact bin counts.
 */
async function referenceFrom(path: string, exclude: readonly string[]): Promise<ReferenceProfile> {
  if (extname(path).toLowerCase() === ".json") {
    const text = await readFile(path, "utf8").catch(() => {
      throw invalid(`--reference: cannot read ${path}`);
    });
    try {
      return parseProfile(text);
    } catch (error) {
      throw invalid(
        `--reference: ${path} is not a reference profile (${(error as Error).message}); ` +
          "make one with `ballast profile`, or pass the data as CSV or JSONL",
      );
    }
  }
  return profileFile(path, { exclude });
}

function referenceLine(v: ModelVersion, fullHash = false): string {
  const r = v.referenceProfile;
  if (!r) return "none";
  return `${r.rows} rows, ${r.features} features, sha256:${fullHash ? r.sha256 : `${r.sha256.slice(0, 12)}…`}`;
}

function printVersion(v: ModelVersion): void {
  const rows: Array<[string, string]> = [
    ["model", v.model],
    ["version", String(v.version)],
    ["flavor", v.flavor],
    ["artifact", `sha256:${v.artifactSha256} (${v.artifactSize} bytes)`],
    ["created", new Date(v.createdAt).toISOString()],
    ["description", v.description || "-"],
    ["features", v.signature?.features?.join(",") ?? "-"],
    [
      "tags",
      Object.entries(v.tags)
        .map(([k, t]) => `${k}=${t}`)
        .join(" ") || "-",
    ],
    [
      "metrics",
      Object.entries(v.metrics)
        .map(([k, m]) => `${k}=${m}`)
        .join(" ") || "-",
    ],
    ["reference", referenceLine(v, true)],
    ["source", v.source || "-"],
  ];
  for (const [key, value] of rows) process.stdout.write(`${`${key}:`.padEnd(13)}${value}\n`);
}

async function readJson(path: string, flag: string): Promise<unknown> {
  const text = await readFile(path, "utf8").catch(() => {
    throw invalid(`${flag}: cannot read ${path}`);
  });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(`${flag}: ${path} is not valid JSON (${(error as Error).message})`);
  }
}

function number(raw: string, what: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw invalid(`${what} must be a number, got '${raw}'`);
  return n;
}
