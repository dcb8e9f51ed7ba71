/**
 * The runtime table. Adding a flavor: its name in domain/model.ts FLAVORS, one module that
 * implements Runtime, and one line here.
 */
import { invalid } from "../domain/errors.js";
import type { Flavor } from "../domain/model.js";
import { builtinRuntime } from "./builtin/index.js";
import { httpRuntime } from "./http.js";
import { onnxRuntime } from "./onnx.js";
import type { Runtime } from "./runtime.js";

export const RUNTIMES: Readonly<Record<Flavor, Runtime>> = {
  onnx: onnxRuntime,
  builtin: builtinRuntime,
  http: httpRuntime,
};

export function runtimeFor(flavor: Flavor): Runtime {
  // Flavors also arrive from stored rows and YAML, where the type does not protect us.
  if (!Object.hasOwn(RUNTIMES, flavor)) {
    throw invalid(`unknown model flavor '${flavor}'; expected one of ${Object.keys(RUNTIMES).join(", ")}`);
  }
  return RUNTIMES[flavor];
}
