/**
 * The layers of src/, bottom first: an import may point down the list or stay in its layer,
 * never up. Read by .dependency-cruiser.cjs (the rule) and scripts/layer-index.mjs (each
 * layer's index.ts). A new folder gets a place here before it gets code.
 */
const LAYERS = [
  ["domain"],
  ["math"],
  ["store", "events", "io", "sim", "markets"],
  ["registry"],
  ["runtimes"],
  ["alerts"],
  ["monitoring"],
  ["serving"],
  ["rollout"],
  ["pipelines"],
  ["observability"],
  ["application"],
  ["resources"],
  ["ballast.ts"],
  ["server"],
  ["cli"],
];

/** What each folder is for, one line (the header of its index.ts). */
const LAYER_PURPOSE = {
  domain:
    "types and rules every layer shares: tensors, models, errors, clock, ids, access to remotes and secrets.",
  math: "special functions, drift tests, sequential experiment statistics, quantile sketches and an optimizer (BFGS); pure.",
  store: "the database (SQLite or PostgreSQL through Kysely), migrations, change feed, leases, replicas.",
  events: "the event log: every change with its reason and numbers.",
  io: "reading CSV and JSON Lines files in batches.",
  sim: "seeded generators of volatile worlds for tests, examples and benchmarks.",
  registry: "models, versions, aliases, deployments and content-addressed artifacts.",
  runtimes: "one Runtime interface and its flavors (onnx, builtin, http).",
  alerts: "the alerting service: alert lifecycles, notifiers, subscribers.",
  monitoring: "reference profiles, drift and performance monitors, shadow comparison.",
  serving: "the request path: codecs, plan, executor, taps, the prediction log.",
  rollout: "progressive delivery: strategies, rollout kinds, analysis, the controller.",
  pipelines: "retraining pipelines: steps, runs, triggers, executors.",
  markets:
    "volatility and regime models for market series: GARCH, Markov switching, HMM, streaming indicators.",
  observability: "Prometheus metrics for every layer.",
  application: "the services that change what is served, and the reconcilers under leases.",
  resources: "declared state: manifests, kinds, apply, source sync.",
  server: "the HTTP adapter (Fastify).",
  cli: "the command-line adapter (commander).",
};

const LAYER_DIRS = LAYERS.flat().filter((name) => !name.endsWith(".ts"));

module.exports = { LAYERS, LAYER_DIRS, LAYER_PURPOSE };
