/**
 * What every builtin trainer (linear, trees, volatility specialists, regime classifiers) hands
 * the steps after it: the model written as a builtin file in the step's work folder, and its
 * `model` output whose meta says it is a builtin model and what the validate step needs to know.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JsonValue } from "../domain/json-value.js";
import { serializeBuiltinModel, type BuiltinModel } from "../runtimes/builtin/format.js";
import type { StepResult } from "./step.js";

export async function builtinModelResult(
  workDir: string,
  model: BuiltinModel,
  meta: Readonly<Record<string, JsonValue>>,
  summary: Readonly<Record<string, JsonValue>>,
): Promise<StepResult> {
  const file = join(workDir, "model.json");
  await writeFile(file, serializeBuiltinModel(model));
  return { outputs: { model: { file, kind: "model", meta: { flavor: "builtin", ...meta } } }, summary };
}
