/**
 * A regime router's parts for in-process tests: a 2-regime markov-switching classifier, two
 * builtin volatility specialists deployed on their own, windows of returns, and the manifests.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestServer } from "./app.js";
import { parseBuiltinModel, serializeBuiltinModel } from "../../src/runtimes/builtin/format.js";

export const W = 22;
export const CLASSIFIER = {
  format: "ballast.builtin/v1",
  kind: "markov-switching",
  window: W,
  regimes: {
    method: "markov-switching",
    labels: ["calm", "turbulent"],
    transition: [
      [0.95, 0.05],
      [0.1, 0.9],
    ],
    means: [0, 0],
    variances: [0.5, 6],
    scale: 100,
  },
};

/** A deterministic window of returns with the given size (percent-ish scale). */
export function windowOf(size: number, seed: number): number[] {
  return Array.from(
    { length: W },
    (_, i) => size * Math.sin(1.7 * i + seed) * (1 + 0.3 * Math.cos(i * seed)),
  );
}
export const CALM = windowOf(0.004, 1);
export const TURBULENT = windowOf(0.03, 2);
export const MIXED = [...windowOf(0.004, 3).slice(0, W - 3), 0.012, -0.011, 0.013];

export async function deploy(s: TestServer, name: string, model: object): Promise<void> {
  const path = join(s.dataDir, `${name}.json`);
  await writeFile(path, serializeBuiltinModel(parseBuiltinModel(model)));
  const { version } = await s.ballast.registry.registerVersion({ model: name, artifactPath: path });
  await s.ballast.deployments.put({
    name,
    variants: [{ name: "stable", model: name, ref: { version: version.version }, weight: 100 }],
  });
  await s.ballast.endpoints.sync();
}

/** Registers the classifier version: a builtin markov-switching model, inspected like any other. */
export async function registerClassifier(s: TestServer, classifier: object = CLASSIFIER): Promise<void> {
  const path = join(s.dataDir, "regimes.json");
  await writeFile(path, JSON.stringify(classifier));
  await s.ballast.registry.registerVersion({ model: "regimes", artifactPath: path });
}

export function router(name: string, spec: Record<string, unknown>) {
  return { apiVersion: "ballast/v1", kind: "Router", metadata: { name }, spec };
}

export async function apply(s: TestServer, ...manifests: object[]) {
  return s.app.inject({
    method: "POST",
    url: "/api/v1/apply",
    payload: { resources: manifests.map((manifest) => ({ manifest })), source: { via: "cli" } },
  });
}

export async function infer(s: TestServer, name: string, rows: number[][], parameters?: object) {
  return s.app.inject({
    method: "POST",
    url: `/v2/models/${name}/infer`,
    payload: {
      inputs: [{ name: "returns", datatype: "FP64", shape: [rows.length, W], data: rows.flat() }],
      ...(parameters === undefined ? {} : { parameters }),
    },
  });
}

export const SPECIALISTS = [
  { name: "ewma", deployment: "ewma" },
  { name: "last", deployment: "last" },
];
export const BASE = {
  classifier: { model: "regimes", version: 1 },
  regimes: ["calm", "turbulent"],
  specialists: SPECIALISTS,
  weights: { calm: { route: "ewma" }, turbulent: { weights: { ewma: 0.25, last: 0.75 } } },
};
