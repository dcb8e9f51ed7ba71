/**
 * The runtime table. Adding a flavor: its name in domain/model.ts FLAVORS, one module that
 * implements Runtime, and one line here.
 */
import { invalid } from "../domain/errors.js";
import type { Flavor } from "../domain/model.js";
import { builtinRuntime } from "./builtin/index.js";
import type { RemoteAccess } from "../domain/remote-access.js";
import { createHttpRuntime, httpRuntime } from "./http.js";
import { onnxRuntime } from "./onnx.js";
import type { Runtime } from "./runtime.js";

export const RUNTIMES: Readonly<Record<Flavor, Runtime>> = {
  onnx: onnxRuntime,
  builtin: builtinRuntime,
  http: httpRuntime,
};

export function runtimeFor(flavor: Flavor): Runtime {
  return lookUp(RUNTIMES, flavor);
}

/** The table with remote models limited to where `access` allows (`ballast serve --allow-remote`). */
export function runtimesWith(access: RemoteAccess): (flavor: Flavor) => Runtime {
  const table: Readonly<Record<Flavor, Runtime>> = { ...RUNTIMES, http: createHttpRuntime(access) };
  return (flavor) => lookUp(table, flavor);
}

function lookUp(table: Readonly<Record<Flavor, Runtime>>, flavor: Flavor): Runtime {
  // Flavors also arrive from stored rows and YAML, where the type does not protect us.
  if (!Object.hasOwn(table, flavor)) {
    throw invalid(`unknown model flavor '${flavor}'; expected one of ${Object.keys(table).join(", ")}`);
  }
  return table[flavor];
}
