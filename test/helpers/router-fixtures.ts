/**
 * A regime router's parts for in-process tests: a 2-regime markov-switching classifier, two
 * builtin volatility specialists deployed on their own, windows of returns, the manifests, and
 * daily bars of an instrument the router is bound to.
 */
import assert from "node:assert/strict";
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

/** Deploys the two specialists BASE names: `ewma` (lambda 0.9) and `last`. */
export async function deploySpecialists(s: TestServer): Promise<void> {
  await deploy(s, "ewma", { format: "ballast.builtin/v1", kind: "ewma", window: W, lambda: 0.9 });
  await deploy(s, "last", { format: "ballast.builtin/v1", kind: "last-value", window: W });
}

/** HAR-RV with a negative intercept forecasts a non-positive variance: a specialist that always fails. */
export const FAILING_SPECIALIST = {
  format: "ballast.builtin/v1",
  kind: "har-rv",
  window: W,
  coefficients: { intercept: -1, daily: 0, weekly: 0, monthly: 0 },
};

const DAY = 86_400_000;

/** Closes from returns, one bar a day from `start`, each with a high and a low (ATR needs them). */
export function barsOf(returns: readonly number[], start: number) {
  let close = 100;
  const bar = (i: number) => ({
    time: new Date(start + i * DAY).toISOString(),
    close,
    high: close * 1.01,
    low: close * 0.99,
  });
  const bars = [bar(0)];
  returns.forEach((r, i) => {
    close *= Math.exp(r);
    bars.push(bar(i + 1));
  });
  return bars;
}

/** When the bars of MARKET_BARS start. */
export const MARKET_START = Date.UTC(2026, 0, 5);
/** A calm stretch, a turbulent one and one bar more: W + 1 bars, W more, then the outcome. */
export const MARKET_BARS = barsOf([...CALM, ...TURBULENT, 0.03], MARKET_START);

export async function postBars(s: TestServer, instrument: string, bars: object[]) {
  return s.app.inject({ method: "POST", url: `/api/v1/instruments/${instrument}/bars`, payload: { bars } });
}

/**
 * Feeds MARKET_BARS to instrument `cac` in three parts, asking router `name` after the first (at
 * the last calm bar) and, a minute later, after the second (at the last turbulent bar); the third
 * part brings the outcomes of both answers. `asked`: the rows each of the two requests sends.
 */
export async function askAcrossRegimes(
  s: TestServer,
  name: string,
  asked: [number[][], number[][]],
): Promise<void> {
  const post = async (bars: object[]) => {
    const r = await postBars(s, "cac", bars);
    assert.equal(r.statusCode, 200, `bars: ${r.body}`);
  };
  const ask = async (rows: number[][]) => {
    const r = await infer(s, name, rows);
    assert.equal(r.statusCode, 200, `router ${name}: ${r.body}`);
  };
  await post(MARKET_BARS.slice(0, W + 1));
  await ask(asked[0]);
  await post(MARKET_BARS.slice(W + 1, 2 * W + 1));
  s.clock.advance(60_000);
  await ask(asked[1]);
  await post(MARKET_BARS.slice(2 * W + 1));
}
