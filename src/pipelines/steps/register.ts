/**
 * The register step: the trained artifact becomes a new version of a registered model, with
 * its lineage (pipeline, run, the data's fingerprint — the SHA-256 of every dataset the run
 * read —, source and window, parameters, validation metrics, the champion it is meant to
 * replace as parent) and the reference profile validation built. Never cached; idempotent by
 * run (a retried step finds the version its first attempt registered).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { invalid, unavailable } from "../../domain/errors.js";
import { isPlainObject, type JsonValue } from "../../domain/json-value.js";
import { FLAVORS, type Flavor } from "../../domain/model.js";
import type { StepKind, StepResult } from "../step.js";
import { inputOf, optionalText, reference, specObject, text, texts } from "./fields.js";

export interface RegisterSpec {
  readonly model: string;
  readonly from: string;
  /** The validate step: its metrics and profile. */
  readonly validation?: string;
  /** Datasets whose hashes make the data fingerprint (default: the inputs the run gave). */
  readonly data: readonly string[];
  /** The deployment whose champion is the parent version. */
  readonly deployment?: string;
  readonly alias?: string;
  readonly description?: string;
}

function parseRegister(raw: unknown, field: string): RegisterSpec {
  const spec = specObject(raw, field, [
    "model",
    "from",
    "validation",
    "data",
    "deployment",
    "alias",
    "description",
  ]);
  const validation = spec.validation === undefined ? undefined : reference(spec, "validation", field);
  if (validation?.includes(".") === true)
    throw invalid(`${field}.validation: name the validate step (its metrics and profile are both read)`);
  const data = texts(spec, "data", field, { optional: true });
  const deployment = optionalText(spec, "deployment", field);
  const alias = optionalText(spec, "alias", field);
  const description = optionalText(spec, "description", field);
  return {
    model: text(spec, "model", field),
    from: reference(spec, "from", field),
    ...(validation === undefined ? {} : { validation }),
    data,
    ...(deployment === undefined ? {} : { deployment }),
    ...(alias === undefined ? {} : { alias }),
    ...(description === undefined ? {} : { description }),
  };
}

export const registerStep: StepKind<RegisterSpec> = {
  kind: "register",
  placement: "server",
  cacheable: false,
  parse: parseRegister,
  inputs: (spec) => [
    spec.from,
    ...(spec.validation === undefined ? [] : [`${spec.validation}.metrics`, `${spec.validation}.profile`]),
    ...spec.data,
  ],
  async run(ctx): Promise<StepResult> {
    const spec = ctx.spec;
    const server = ctx.server;
    if (server === undefined) throw unavailable("the register step runs in the server");
    const model = inputOf(ctx.inputs, spec.from, `${ctx.step}.register.from`);
    const flavorText = typeof model.meta.flavor === "string" ? model.meta.flavor : "builtin";
    if (!(FLAVORS as readonly string[]).includes(flavorText))
      throw invalid(`the model's flavor '${flavorText}' is unknown`);
    let metrics: Record<string, number> = {};
    let profile: unknown;
    if (spec.validation !== undefined) {
      const m = inputOf(ctx.inputs, `${spec.validation}.metrics`, `${ctx.step}.register.validation`);
      const report = JSON.parse(await readFile(m.path, "utf8")) as {
        candidate?: Record<string, number | null>;
      };
      metrics = Object.fromEntries(
        Object.entries(report.candidate ?? {}).filter((e): e is [string, number] => typeof e[1] === "number"),
      );
      const p = inputOf(ctx.inputs, `${spec.validation}.profile`, `${ctx.step}.register.validation`);
      profile = JSON.parse(await readFile(p.path, "utf8"));
    }
    // The data fingerprint: every dataset among the inputs, by name and hash, in a stable order.
    const datasets = Object.entries(ctx.inputs)
      .filter(([, ref]) => ref.kind === "dataset")
      .sort(([a], [b]) => a.localeCompare(b));
    const fingerprint = createHash("sha256")
      .update(datasets.map(([name, ref]) => `${name}=${ref.sha256}`).join("\n"))
      .digest("hex");
    const sources = datasets
      .map(([, ref]) => ref.meta.source)
      .filter((s): s is Record<string, JsonValue> => isPlainObject(s));
    const champion = spec.deployment === undefined ? null : await server.registry.champion(spec.deployment);
    const parameters: Record<string, JsonValue> = {
      pipeline: ctx.pipeline,
      run: ctx.runId,
      params: { ...ctx.params },
      datasets: Object.fromEntries(datasets.map(([name, ref]) => [name, ref.sha256])),
      ...(sources.length === 0 ? {} : { source: sources.length === 1 ? (sources[0] as JsonValue) : sources }),
      ...(typeof model.meta.trainer === "string" ? { trainer: model.meta.trainer } : {}),
      // A regime classifier aligned to the champion: the permutation it was renumbered by.
      ...(model.meta.alignment === undefined ? {} : { alignment: model.meta.alignment }),
      model: model.sha256,
    };
    const registered = await server.registry.register({
      model: spec.model,
      artifactPath: model.path,
      flavor: flavorText as Flavor,
      runId: ctx.runId,
      lineage: {
        dataFingerprint: fingerprint,
        parameters,
        ...(champion === null || champion.model !== spec.model ? {} : { parentVersion: champion.version }),
      },
      metrics,
      tags: { "ballast.pipeline": ctx.pipeline, "ballast.run": ctx.runId },
      description: spec.description ?? `trained by pipeline ${ctx.pipeline}, run ${ctx.runId}`,
      ...(profile === undefined ? {} : { referenceProfile: profile }),
      ...(spec.alias === undefined ? {} : { alias: spec.alias }),
    });
    ctx.log.line(
      `${registered.created ? "registered" : "already registered by this run:"} ${registered.model} v${registered.version}`,
    );
    if (registered.created)
      await server.events.record({
        name: ctx.pipeline,
        reason: "VersionRegistered",
        message: `${registered.model} v${registered.version} registered by run ${ctx.runId}`,
        details: {
          runId: ctx.runId,
          model: registered.model,
          version: registered.version,
          dataFingerprint: fingerprint,
        },
      });
    // What deploy reads: the version, as a small artifact (also the DAG edge register -> deploy).
    const file = join(ctx.workDir, "version.json");
    const version = { model: registered.model, version: registered.version, runId: ctx.runId };
    await writeFile(file, `${JSON.stringify(version)}\n`);
    return {
      outputs: { version: { file, kind: "file", meta: version } },
      summary: {
        model: registered.model,
        version: registered.version,
        created: registered.created,
        dataFingerprint: fingerprint,
      },
    };
  },
};
