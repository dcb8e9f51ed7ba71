/**
 * The declared Pipelines as their triggers see them, read from the resource store the way
 * Monitors load their specs: each Pipeline's `triggers` and `cooldown` (checked when it was
 * applied; one that no longer parses is left out rather than stopping the others).
 */
import { parseDuration } from "../domain/duration.js";
import { isPlainObject } from "../domain/json-value.js";

/** What is read of the declared resources (the resource store; resources/ sits above this layer). */
export interface DeclaredSpecs {
  list(): Promise<
    ReadonlyArray<{
      readonly manifest: {
        readonly kind: string;
        readonly metadata: { readonly name: string };
        readonly spec: unknown;
      };
    }>
  >;
}
import type { PipelineTriggers } from "../pipelines/triggers/trigger-service.js";
import { parseTriggers } from "../pipelines/triggers/trigger-spec.js";

const PIPELINE_KIND = "Pipeline";

export function pipelineTriggersFrom(resources: DeclaredSpecs) {
  return async (): Promise<PipelineTriggers[]> => {
    const declared = (await resources.list()).filter((r) => r.manifest.kind === PIPELINE_KIND);
    return declared.flatMap((r) => {
      const spec = r.manifest.spec;
      if (!isPlainObject(spec)) return [];
      try {
        const triggers = parseTriggers(spec.triggers, "triggers");
        const cooldownMs = typeof spec.cooldown === "string" ? parseDuration(spec.cooldown, "cooldown") : 0;
        return triggers.length === 0 ? [] : [{ pipeline: r.manifest.metadata.name, cooldownMs, triggers }];
      } catch {
        return [];
      }
    });
  };
}
