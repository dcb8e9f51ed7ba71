/**
 * Retraining a regime classifier in a pipeline:
 *
 *   train: { input: split.train, builtin: { kind: markov-switching | hmm | regime-rules,
 *            column: ret, scale: 100, regimes: 2, switchingVariance: true, window: 250,
 *            labels: [calm, turbulent], rules: {…}, alignTo: regime-classifier } }
 *
 * The returns are the dataset's `column`, in row order. Markov switching (means and variances
 * switching unless switchingVariance is false) and the HMM are fitted; rules are not fitted (the
 * step checks them and writes the classifier, so a rules change goes through the same loop).
 *
 * Label alignment: with `alignTo` (a deployment), the refit is renumbered to agree with the
 * classifier that deployment serves (regime-alignment.ts: the permutation under which their
 * filtered regime paths over the training returns agree most), so a refit whose states came
 * out flipped keeps the champion's meaning. The permutation and the agreement before and after
 * are written into the model file's `training.alignment` and the artifact's metadata, which the
 * register step copies into the version's lineage. The champion is read in the server: on a
 * `ballast worker` (no registry) a step with alignTo fails rather than skip the alignment.
 *
 * Validation (`validateRegimeClassifier`, the validate step's hook for these models): the
 * candidate must load (a degenerate regime is refused by its parser) and, when both are
 * switching models, its log-likelihood per return on the holdout must not be below the
 * champion's (in the returns' own units, so different scales compare).
 */
import { builtinModelResult } from "./builtin-output.js";
import { writeFile } from "node:fs/promises";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { invalid, unavailable } from "../domain/errors.js";
import { isPlainObject, type JsonValue } from "../domain/json-value.js";
import { fitHmm } from "../markets/hmm.js";
import { fitMarkovSwitching } from "../markets/markov-switching.js";
import { alignRegimeModel, type RegimeAlignment } from "../markets/regime-alignment.js";
import {
  defaultRegimeLabels,
  parseRegimeModel,
  regimeLogLikelihood,
  regimeModelFromHmm,
  regimeModelFromMarkovSwitching,
  type RegimeModel,
} from "../markets/regime-classifier.js";
import { ProfileBuilder } from "../monitoring/profile/profile-builder.js";
import { invalidField } from "../registry/field.js";
import { parseBuiltinModel } from "../runtimes/builtin/format.js";
import { readDataset } from "./datasets.js";
import type { ArtifactRef, StepContext, StepResult } from "./step.js";
import { bool, inputOf, number, oneOf, optionalText, specObject, text, texts } from "./steps/fields.js";

export const REGIME_TRAINERS = ["markov-switching", "hmm", "regime-rules"] as const;
export type RegimeTrainer = (typeof REGIME_TRAINERS)[number];

export interface RegimeTrainSpec {
  readonly kind: RegimeTrainer;
  readonly column: string;
  readonly scale: number;
  readonly regimes: number;
  readonly switchingVariance: boolean;
  readonly window: number;
  readonly labels?: readonly string[];
  readonly rules?: Readonly<Record<string, unknown>>;
  /** The deployment whose classifier the refit is aligned to. */
  readonly alignTo?: string;
}

/** Whether a train step's `builtin` names a regime classifier (then parseRegimeTrain reads it). */
export function isRegimeTrainer(builtin: unknown): boolean {
  return isPlainObject(builtin) && (REGIME_TRAINERS as readonly unknown[]).includes(builtin.kind);
}

export function parseRegimeTrain(raw: unknown, field: string): RegimeTrainSpec {
  const b = specObject(raw, field, [
    "kind",
    "column",
    "scale",
    "regimes",
    "switchingVariance",
    "window",
    "labels",
    "rules",
    "alignTo",
  ]);
  const kind = oneOf(b, "kind", field, REGIME_TRAINERS);
  const regimes = number(b, "regimes", field, {
    min: 2,
    max: kind === "hmm" ? 3 : 4,
    integer: true,
    fallback: 2,
  });
  const labels = b.labels === undefined ? undefined : texts(b, "labels", field);
  if (labels !== undefined && labels.length !== regimes)
    throw invalidField(`${field}.labels`, `names ${labels.length} regimes for ${regimes} regimes`);
  if (kind === "regime-rules" && !isPlainObject(b.rules))
    throw invalidField(`${field}.rules`, "a regime-rules classifier needs its rules (an object)");
  if (kind !== "regime-rules" && b.rules !== undefined)
    throw invalidField(`${field}.rules`, "rules are for kind regime-rules");
  if (kind === "hmm" && b.switchingVariance !== undefined)
    throw invalidField(`${field}.switchingVariance`, "an HMM's states always have their own variance");
  const alignTo = optionalText(b, "alignTo", field);
  return {
    kind,
    column: text(b, "column", field),
    scale: number(b, "scale", field, { fallback: 1 }),
    regimes,
    switchingVariance: bool(b, "switchingVariance", field, true),
    window: number(b, "window", field, { min: 1, max: 20_000, integer: true, fallback: 250 }),
    ...(labels === undefined ? {} : { labels }),
    ...(kind === "regime-rules" ? { rules: b.rules as Record<string, unknown> } : {}),
    ...(alignTo === undefined ? {} : { alignTo }),
  };
}

/** The dataset's column as returns, in row order; a row without a finite number is named. */
export async function readReturns(path: string, column: string, signal?: AbortSignal): Promise<number[]> {
  const out: number[] = [];
  for await (const batch of readDataset(path, signal === undefined ? {} : { signal })) {
    for (const row of batch) {
      const v = row[column];
      if (typeof v !== "number" || !Number.isFinite(v))
        throw invalid(
          `row ${out.length + 1}: column '${column}' holds ${JSON.stringify(v ?? null)}, not a finite return`,
        );
      out.push(v);
    }
  }
  return out;
}

function fitClassifier(
  spec: RegimeTrainSpec,
  returns: readonly number[],
): { model: RegimeModel; fit: Record<string, JsonValue> } {
  const labels = spec.labels ?? defaultRegimeLabels(spec.regimes);
  const y = returns.map((v) => v * spec.scale);
  if (spec.kind === "hmm") {
    const fit = fitHmm(y, spec.regimes);
    return {
      model: regimeModelFromHmm(fit, labels, spec.scale),
      fit: { n: fit.n, loglik: fit.loglik, iterations: fit.iterations },
    };
  }
  if (spec.kind === "markov-switching") {
    const fit = fitMarkovSwitching(y, { regimes: spec.regimes, switchingVariance: spec.switchingVariance });
    return {
      model: regimeModelFromMarkovSwitching(fit, labels, spec.scale),
      fit: { n: fit.n, loglik: fit.loglik, iterations: fit.optimizer.iterations },
    };
  }
  return {
    model: parseRegimeModel({ method: "rules", labels, scale: spec.scale, rules: spec.rules }),
    fit: { n: returns.length },
  };
}

/** The classifier a deployment serves now, or null when it serves none. */
async function championClassifier(
  ctx: StepContext<unknown>,
  deployment: string,
): Promise<{ model: RegimeModel; name: string; version: number } | null> {
  const server = ctx.server;
  if (server === undefined)
    throw unavailable(
      `alignTo ${deployment}: the champion is read from the registry, which only the server has; run this step in the server (not on a worker)`,
    );
  const champion = await server.registry.champion(deployment);
  if (champion === null) return null;
  const parsed = parseBuiltinModel(await readFile(champion.artifactPath, "utf8"));
  if (!("regimes" in parsed))
    throw invalid(
      `alignTo ${deployment}: it serves ${champion.model} v${champion.version}, a ${parsed.kind} model, not a regime classifier`,
    );
  return { model: parsed.regimes, name: champion.model, version: champion.version };
}

export async function trainRegimeClassifier(
  ctx: StepContext<{ readonly input: string }>,
  spec: RegimeTrainSpec,
): Promise<StepResult> {
  const input = inputOf(ctx.inputs, ctx.spec.input, `${ctx.step}.train.input`);
  const returns = await readReturns(input.path, spec.column, ctx.signal);
  ctx.log.line(`${returns.length} returns from column '${spec.column}'`);
  const started = Date.now();
  const { model: fitted, fit } = fitClassifier(spec, returns);
  ctx.log.line(`fitted ${spec.kind} in ${Date.now() - started} ms: ${JSON.stringify(fit)}`);
  let model = fitted;
  let alignment: Record<string, JsonValue> | undefined;
  if (spec.alignTo !== undefined) {
    const champion = await championClassifier(ctx, spec.alignTo);
    if (champion === null)
      ctx.log.line(`deployment ${spec.alignTo} serves no classifier: nothing to align to`);
    else {
      const aligned: RegimeAlignment = alignRegimeModel(fitted, champion.model, returns);
      model = aligned.model;
      alignment = {
        to: { model: champion.name, version: champion.version },
        permutation: aligned.permutation,
        permuted: aligned.permuted,
        agreement: aligned.agreement,
        agreementBefore: aligned.agreementBefore,
        bars: aligned.bars,
      };
      ctx.log.line(
        `aligned to ${champion.name} v${champion.version}: permutation [${aligned.permutation.join(", ")}], agreement ${aligned.agreement.toFixed(4)} (before ${aligned.agreementBefore.toFixed(4)})`,
      );
    }
  }
  const builtin = parseBuiltinModel({
    format: "ballast.builtin/v1",
    kind: spec.kind,
    window: spec.window,
    regimes: model,
    training: {
      ...fit,
      column: spec.column,
      scale: spec.scale,
      ...(alignment === undefined ? {} : { alignment }),
    },
  });
  return builtinModelResult(
    ctx.workDir,
    builtin,
    {
      trainer: spec.kind,
      task: "regime",
      column: spec.column,
      labels: [...model.labels],
      ...(alignment === undefined ? {} : { alignment }),
    },
    { trainer: spec.kind, rows: returns.length, ...(alignment === undefined ? {} : { alignment }) },
  );
}

/**
 * The validate step for a regime classifier (its artifact's meta says task: regime). Writes the
 * `metrics` and `profile` outputs the register step reads.
 */
export async function validateRegimeClassifier(
  ctx: StepContext<{ readonly holdout: string; readonly deployment?: string }>,
  modelRef: ArtifactRef & { readonly path: string },
): Promise<StepResult> {
  const holdout = inputOf(ctx.inputs, ctx.spec.holdout, `${ctx.step}.validate.holdout`);
  const column = typeof modelRef.meta.column === "string" ? modelRef.meta.column : "ret";
  let candidate: RegimeModel;
  try {
    const parsed = parseBuiltinModel(await readFile(modelRef.path, "utf8"));
    if (!("regimes" in parsed)) throw invalid(`it is a ${parsed.kind} model, not a regime classifier`);
    candidate = parsed.regimes;
  } catch (error) {
    throw invalid(`validation failed: the candidate does not load: ${(error as Error).message}`);
  }
  const returns = await readReturns(holdout.path, column, ctx.signal);
  if (returns.length === 0) throw invalid("validation failed: the holdout has no returns");
  const perReturn = (m: RegimeModel): number | null => {
    const l = regimeLogLikelihood(m, returns);
    return l === undefined ? null : l / returns.length;
  };
  const mine = perReturn(candidate);
  const champion =
    ctx.spec.deployment === undefined || ctx.server === undefined
      ? null
      : await championClassifier(ctx, ctx.spec.deployment);
  const theirs = champion === null ? null : perReturn(champion.model);
  const problems: string[] = [];
  if (mine !== null && !Number.isFinite(mine))
    problems.push(`the candidate gives the holdout a log-likelihood of ${mine}`);
  // Below by more than rounding: a refit of the same data must not fail on the last digit.
  if (mine !== null && theirs !== null && mine < theirs - 1e-9 * Math.abs(theirs))
    problems.push(
      `the candidate's holdout log-likelihood per return (${mine.toFixed(6)}) is below the champion's (${theirs.toFixed(6)}, ${champion?.name} v${champion?.version})`,
    );
  for (const p of problems) ctx.log.line(`FAILED ${p}`);
  if (problems.length > 0) throw invalid(`validation failed: ${problems.join("; ")}`, { reasons: problems });
  const report = {
    rows: returns.length,
    candidate: { loglik: mine },
    champion: champion === null ? null : { loglik: theirs },
    ...(champion === null ? {} : { championVersion: { model: champion.name, version: champion.version } }),
    failures: [],
  };
  const builder = new ProfileBuilder({ columns: [column], clock: ctx.clock });
  for await (const batch of readDataset(holdout.path, { signal: ctx.signal })) builder.add(batch);
  const metricsFile = join(ctx.workDir, "metrics.json");
  const profileFile = join(ctx.workDir, "profile.json");
  await writeFile(metricsFile, `${JSON.stringify(report, null, 2)}\n`);
  const profile = builder.finish();
  await writeFile(profileFile, JSON.stringify(profile));
  ctx.log.line(`candidate log-likelihood per return ${mine}; champion ${theirs}`);
  return {
    outputs: {
      metrics: { file: metricsFile, kind: "metrics", meta: { metrics: { loglik: mine } } },
      profile: { file: profileFile, kind: "profile", meta: { rows: profile.rows } },
    },
    summary: {
      rows: returns.length,
      metrics: { loglik: mine },
      ...(theirs === null ? {} : { champion: { loglik: theirs } }),
    },
  };
}
