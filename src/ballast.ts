/**
 * The composition root: opens the store and wires the registry, runtimes, serving and metrics
 * together. `ballast serve`, the tests and the benchmarks all start Ballast through this.
 */
import { resolve } from "node:path";
import { systemClock, type Clock } from "./domain/clock.js";
import { openStore, type Store } from "./store/db.js";
import { ArtifactStore } from "./registry/artifacts.js";
import { Registry } from "./registry/registry.js";
import { DeploymentStore } from "./registry/deployments.js";
import { runtimeFor } from "./runtimes/index.js";
import { ModelPool } from "./serving/model-pool.js";
import { Endpoints } from "./serving/endpoints.js";
import {
  DEFAULT_PREDICTION_LOG,
  PredictionLog,
  type PredictionLogOptions,
} from "./serving/prediction-log.js";
import { PredictionStore } from "./serving/prediction-store.js";
import { SqlitePredictionWriter } from "./store/sqlite-prediction-writer.js";
import { InferenceService } from "./serving/inference.js";
import { RetentionSweeper } from "./serving/retention.js";
import { createMetrics, type Metrics } from "./server/metrics.js";
import { Monitors } from "./monitoring/monitors.js";
import { MonitorStore } from "./monitoring/monitor-store.js";
import { profileFormat } from "./monitoring/profile/profile-format.js";
import { validateProfile } from "./monitoring/profile/reference-profile.js";
import type { VersionSource as VersionReferences } from "./monitoring/log-drift.js";

export interface BallastOptions {
  /** Where the SQLite file and the artifacts live. */
  readonly dataDir: string;
  /** A postgres:// URL; SQLite in dataDir when absent. */
  readonly storeUrl?: string;
  readonly clock?: Clock;
  readonly predictionLog?: Partial<PredictionLogOptions>;
  /** Prediction-log rows and feedback older than this are deleted; undefined keeps them forever. */
  readonly retentionMs?: number;
  /** Node's process metrics in /metrics (off in tests that build many apps). */
  readonly defaultMetrics?: boolean;
  /** This server's address as others reach it, for links in alerts. */
  readonly publicUrl?: string;
}

const MONITOR_TICK_MS = 1000;
/** How often open monitor windows are saved: what a crash can lose at most. */
const CHECKPOINT_MS = 30_000;

export interface Ballast {
  readonly dataDir: string;
  readonly clock: Clock;
  readonly store: Store;
  readonly artifacts: ArtifactStore;
  readonly registry: Registry;
  readonly deployments: DeploymentStore;
  readonly pool: ModelPool;
  readonly endpoints: Endpoints;
  readonly predictionLog: PredictionLog;
  readonly predictions: PredictionStore;
  readonly inference: InferenceService;
  readonly metrics: Metrics;
  readonly monitors: Monitors;
  readonly references: VersionReferences;
  readonly monitorStore: MonitorStore;
  close(): Promise<void>;
}

export async function openBallast(options: BallastOptions): Promise<Ballast> {
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(options.dataDir);
  const store = await openStore({ dataDir, url: options.storeUrl });
  const artifacts = new ArtifactStore(dataDir);
  const registry = new Registry(store, artifacts, {
    profiles: profileFormat,
    clock,
    inspect: (flavor, path) => runtimeFor(flavor).inspect(path),
  });
  const deployments = new DeploymentStore(store, registry, clock);
  const predictions = new PredictionStore(store.db);
  // better-sqlite3 is synchronous: its batch inserts run on a thread of their own so they never
  // stall the requests being served. PostgreSQL writes are asynchronous I/O already.
  const writer = store.sqliteFile === undefined ? undefined : new SqlitePredictionWriter(store.sqliteFile);
  const predictionLog = new PredictionLog(writer ?? predictions, {
    ...DEFAULT_PREDICTION_LOG,
    ...options.predictionLog,
  });
  const metrics = createMetrics({
    predictionLog: () => predictionLog.stats(),
    defaultMetrics: options.defaultMetrics,
  });
  const pool = new ModelPool(runtimeFor, (sha) => artifacts.pathFor(sha), metrics);
  const endpoints = new Endpoints(deployments, registry, pool);
  const monitorStore = new MonitorStore(store.db, clock);
  // Versions with their reference profiles read as profiles (the registry stores them as JSON).
  const references: VersionReferences = {
    getVersion: (model, version) => registry.getVersion(model, version),
    getReference: async (model, version) => {
      const stored = await registry.getReference(model, version);
      return stored === null ? null : validateProfile(stored);
    },
  };
  const monitors = new Monitors(references, metrics, options.publicUrl, {
    // Off the request path; a failed write is counted, and the window's numbers stay in memory.
    windowClosed: (window, sketch) =>
      void monitorStore.saveWindow(window, sketch, clock.now()).catch(() => metrics.monitorPersistFailed()),
  });
  const specs = await monitorStore.list();
  for (const spec of specs) monitors.put(spec);
  // Open windows resume where the last checkpoint left them; requests served after it are counted.
  const deploymentOf = new Map(specs.map((s) => [s.name, s.deployment]));
  for (const c of await monitorStore.checkpoints()) {
    const deployment = deploymentOf.get(c.monitor);
    if (deployment === undefined) continue;
    monitors.restore(c, await predictions.countSince(deployment, c.variant, c.takenAt));
  }
  const checkpoint = () => monitorStore.saveCheckpoints(monitors.checkpoints(), clock.now());
  const checkpointer = setInterval(
    () => void checkpoint().catch(() => metrics.monitorPersistFailed()),
    CHECKPOINT_MS,
  );
  checkpointer.unref();
  const inference = new InferenceService(endpoints, pool, predictionLog, clock, metrics, monitors);
  // Time windows close on their own when traffic stops.
  const ticker = setInterval(() => monitors.tick(clock.now()), MONITOR_TICK_MS);
  ticker.unref();
  const retention =
    options.retentionMs === undefined
      ? undefined
      : new RetentionSweeper(predictions, clock, options.retentionMs);

  predictionLog.start();
  retention?.start();
  await endpoints.sync();
  for (const d of endpoints.list()) {
    monitors.prepare(
      d.deployment.name,
      d.variants.map((v) => ({
        variant: v.variant.name,
        model: v.version.model,
        version: v.version.version,
      })),
    );
  }

  return {
    dataDir,
    clock,
    store,
    artifacts,
    registry,
    deployments,
    pool,
    endpoints,
    predictionLog,
    predictions,
    inference,
    metrics,
    monitors,
    references,
    monitorStore,
    async close() {
      clearInterval(ticker);
      clearInterval(checkpointer);
      await checkpoint().catch(() => metrics.monitorPersistFailed());
      monitors.close();
      retention?.stop();
      await predictionLog.stop();
      await writer?.close();
      await pool.close();
      await store.close();
    },
  };
}
