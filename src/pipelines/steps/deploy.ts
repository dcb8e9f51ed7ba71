/**
 * The deploy step: the version the register step made goes to a deployment as a canary (the
 * deployment's declared strategy rolls it out; without one it is switched to) or as a shadow
 * challenger. Only through the server's hand-off, i.e. DeploymentChanges with strategy
 * `follow`. Never cached; idempotent by run (a retried step finds the hand-off already made).
 */
import { invalid, unavailable } from "../../domain/errors.js";
import type { StepKind, StepResult } from "../step.js";
import { inputOf, number, oneOf, reference, specObject, text } from "./fields.js";

export interface DeploySpec {
  readonly deployment: string;
  readonly mode: "canary" | "shadow";
  /** The register step's `version` output (default `register`). */
  readonly from: string;
  readonly shadowWeight?: number;
}

function parseDeploy(raw: unknown, field: string): DeploySpec {
  const spec = specObject(raw, field, ["deployment", "mode", "from", "shadowWeight"]);
  const from = spec.from === undefined ? "register" : reference(spec, "from", field);
  const mode = oneOf(spec, "mode", field, ["canary", "shadow"], "canary");
  return {
    deployment: text(spec, "deployment", field),
    mode,
    from: from.includes(".") ? from : `${from}.version`,
    ...(spec.shadowWeight === undefined
      ? {}
      : { shadowWeight: number(spec, "shadowWeight", field, { min: 1, max: 100, integer: true }) }),
  };
}

export const deployStep: StepKind<DeploySpec> = {
  kind: "deploy",
  placement: "server",
  cacheable: false,
  parse: parseDeploy,
  inputs: (spec) => [spec.from],
  async run(ctx): Promise<StepResult> {
    const spec = ctx.spec;
    const server = ctx.server;
    if (server === undefined) throw unavailable("the deploy step runs in the server");
    const registered = inputOf(ctx.inputs, spec.from, `${ctx.step}.deploy.from`);
    const { model, version } = registered.meta;
    if (typeof model !== "string" || typeof version !== "number")
      throw invalid(`deploy ${ctx.step}: ${spec.from} names no registered version`);
    const target = { model, version };
    const result = await server.handOff.handOff({
      deployment: spec.deployment,
      model: target.model,
      version: target.version,
      mode: spec.mode,
      runId: ctx.runId,
      ...(spec.shadowWeight === undefined ? {} : { shadowWeight: spec.shadowWeight }),
    });
    ctx.log.line(
      `${result.started ? "handed" : "already handed (this run)"} ${target.model} v${target.version} to ${spec.deployment}: ${result.outcome}`,
    );
    return {
      outputs: {},
      summary: {
        deployment: spec.deployment,
        model: target.model,
        version: target.version,
        mode: result.mode,
        outcome: result.outcome,
        started: result.started,
        ...(result.rolloutId === undefined ? {} : { rolloutId: result.rolloutId }),
      },
    };
  },
};
