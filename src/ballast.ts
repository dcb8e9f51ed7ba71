/**
 * The composition root: opens the store and wires the registry, runtimes, serving and metrics
 * together. `ballast serve`, the tests and the benchmarks all start Ballast through this.
 */
import { resolve } from "node:path";
import { systemClock, type Clock } from "./domain/clock.js";
import { openStore, type Store } from "./store/db.js";
import { ArtifactCopies } from "./registry/artifact-copies.js";
import { ArtifactStore } from "./registry/artifacts.js";
import { Registry } from "./registry/registry.js";
import { DeploymentStore } from "./registry/deployments.js";
import { runtimesWith } from "./runtimes/index.js";
import { ANYWHERE, type RemoteAccess } from "./domain/remote-access.js";
import type { SecretAccess } from "./domain/secret-access.js";
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
import { predictionLogTap } from "./serving/taps.js";
import { ShadowBook } from "./monitoring/shadow-book.js";
import { monitorsTap } from "./monitoring/inference-tap.js";
import { RetentionSweeper } from "./serving/retention.js";
import { createMetrics, type Metrics } from "./server/metrics.js";
import { AlertService } from "./alerts/alerting.js";
import { Monitors } from "./monitoring/monitors.js";
import { MonitorStore, monitorAlertStates, savedMonitorAlerts } from "./monitoring/monitor-store.js";
import { PerformanceMonitors } from "./monitoring/performance-monitors.js";
import { profileFormat } from "./monitoring/profile/profile-format.js";
import { validateProfile } from "./monitoring/profile/reference-profile.js";
import type { VersionSource as VersionReferences } from "./monitoring/log-drift.js";
import { EventLog } from "./events/event-log.js";
import { ResourceStore } from "./resources/resource-store.js";
import { ResourceService } from "./resources/service.js";
import { liveState } from "./resources/live.js";
import { SourceSync, type ManifestSource } from "./resources/source-sync.js";
import { TrafficMeter } from "./rollout/traffic-meter.js";
import { trafficLedgerFor } from "./rollout/traffic-ledger.js";
import { RolloutController } from "./rollout/controller.js";
import { RolloutStore } from "./rollout/rollout-store.js";
import { rolloutTargets } from "./application/rollout-targets.js";
import { DeploymentChanges } from "./application/deployment-changes.js";
import { LEASE, leased, resumeRollouts, rolloutTick } from "./application/reconcilers.js";
import { ChangeFeed } from "./store/change-feed.js";
import { LeaseKeeper } from "./store/leases.js";
import { ReplicaHeartbeat, replicaId } from "./store/replicas.js";
import { exclusiveSection } from "./store/exclusive.js";
import { measurementSource } from "./rollout/measurements.js";
import { Rollouts } from "./rollout/rollouts.js";
import { RolloutAlerts } from "./rollout/rollout-alerts.js";
import { parseStrategy } from "./rollout/strategy.js";
import { Announcements, subscribedNotifiers } from "./application/announcements.js";
import { pipelineTriggersFrom } from "./application/pipeline-triggers.js";
import type { RunStarter } from "./pipelines/run-starter.js";
import type { StepExecutor } from "./pipelines/step.js";
import { QueueExecutor } from "./pipelines/queue/bullmq.js";
import { monitorKpis } from "./pipelines/triggers/kpi-source.js";
import { TriggerService } from "./pipelines/triggers/trigger-service.js";
import { TriggerStore } from "./pipelines/triggers/trigger-store.js";

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
  /**
   * How often open monitor windows and alert states are saved (default 30 s): what a crash can
   * lose at most. Wide monitors (hundreds of features) may want it longer, their sketches are large.
   */
  readonly checkpointMs?: number;
  /** This server's address as others reach it, for links in alerts. */
  readonly publicUrl?: string;
  /**
   * Step rollouts on a timer (default). Tests on an injected clock turn it off and call
   * `rollouts.tick()` themselves, so nothing happens between their steps.
   */
  readonly rolloutTicker?: boolean;
  /** A folder or git repository whose manifests are the desired state (started by the caller). */
  readonly source?: ManifestSource;
  /** Where remote models and alert receivers may point (`--allow-remote`); anywhere by default. */
  readonly remoteAccess?: RemoteAccess;
  /** What notifiers may read as secrets (`--secrets-dir`, `--secret-env`); /run/secrets and BALLAST_SECRET_* by default. */
  readonly secretAccess?: SecretAccess;
  /**
   * `--queue redis://…` or `postgres://…`: pipeline steps that may run anywhere go to `ballast
   * worker`s through BullMQ; absent, they run in this process.
   */
  readonly queue?: string;
  /** Judge pipeline triggers (KPIs, schedules, files) on a timer (default); tests call `pipelineTriggers.tick()`. */
  readonly triggerTicker?: boolean;
  /** Where `files` triggers' globs are rooted (default: the working directory). */
  readonly triggerFilesRoot?: string;
}

const MONITOR_TICK_MS = 1000;
/** The change-feed topic of what deployments serve (deployments, aliases). */
const DEPLOYMENTS_TOPIC = "deployments";
/** How often rollouts step; their analyses run at the interval each strategy declares. */
const ROLLOUT_TICK_MS = 1000;
/** How often open monitor windows are saved: what a crash can lose at most. */
const CHECKPOINT_MS = 30_000;
/** How often pipeline triggers judge KPIs, schedules (minute-grained cron) and file arrivals. */
const TRIGGER_TICK_MS = 15_000;

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
  /** Shadow variants' answers compared with the live ones. */
  readonly shadows: ShadowBook;
  readonly metrics: Metrics;
  readonly monitors: Monitors;
  readonly references: VersionReferences;
  readonly monitorStore: MonitorStore;
  readonly events: EventLog;
  readonly resources: ResourceService;
  /** The watched folder or repository, when there is one. */
  readonly sourceSync: SourceSync | undefined;
  readonly rollouts: Rollouts;
  readonly rolloutAlerts: RolloutAlerts;
  /** The one way to change what a deployment serves (HTTP, manifests, aliases, rollouts). */
  readonly changes: DeploymentChanges;
  /** This process among the replicas sharing the store: its id, leases and heartbeat. */
  readonly replica: {
    readonly id: string;
    readonly leases: LeaseKeeper;
    readonly heartbeat: ReplicaHeartbeat;
  };
  /** Tells every replica (this one included) what changed in the store. */
  readonly feed: ChangeFeed;
  /** Every alert (drift, performance, rollout): its states, notifiers and subscribers. */
  readonly alerts: AlertService;
  /** Points a deployment's monitors at the versions it serves now (after it or they change). */
  prepareMonitors(deployment: string): void;
  /** Registry and pipeline events into the event log and subscribed Notifiers (recordRunEvent's Announcer). */
  readonly announcements: Announcements;
  /** Alerts, KPIs, schedules, files and manual starts of pipeline runs. */
  readonly pipelineTriggers: TriggerService;
  /** With `--queue`: where `anywhere` steps are executed (BullMQ); undefined runs them embedded. */
  readonly stepQueue: StepExecutor | undefined;
  close(): Promise<void>;
}

export async function openBallast(options: BallastOptions): Promise<Ballast> {
  const clock = options.clock ?? systemClock;
  const dataDir = resolve(options.dataDir);
  const store = await openStore({ dataDir, url: options.storeUrl });
  // Every replica serves; reconcilers run on the one holding their lease.
  const replica = replicaId();
  // On SQLite there is one node: a restarted process holds its predecessor's leases at once.
  const leases = new LeaseKeeper(store, { holder: store.dialect === "sqlite" ? "local" : replica });
  const heartbeat = new ReplicaHeartbeat(store.db, { id: replica, clock });
  const feed = new ChangeFeed(store);
  const remoteAccess = options.remoteAccess ?? ANYWHERE;
  const runtimeFor = runtimesWith(remoteAccess);
  // On PostgreSQL the bytes go into the database too, so every replica can load every version.
  const artifacts = new ArtifactStore(
    dataDir,
    store.dialect === "postgres" ? new ArtifactCopies(store.db, store.dialect, { clock }) : undefined,
  );
  // Versions registered and aliases moved, by any door, are announced once the parts exist.
  let announcements: Announcements | undefined = undefined;
  const registry = new Registry(store, artifacts, {
    profiles: profileFormat,
    clock,
    inspect: (flavor, path) => runtimeFor(flavor).inspect(path),
    observer: {
      versionRegistered: (version) => announcements?.versionRegistered(version),
      aliasMoved: (change) => announcements?.aliasMoved(change),
    },
  });
  // The registry keeps a deployment's strategy as declared; rollout/ says what is a strategy.
  const deployments = new DeploymentStore(store, registry, clock, { strategy: parseStrategy });
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
    // Read at scrape time, once the inference service below exists.
    shadows: () => shadows.reports(),
    alerts: () => alerts.stats(),
    defaultMetrics: options.defaultMetrics,
  });
  const pool = new ModelPool(runtimeFor, (sha) => artifacts.ensureLocal(sha), metrics);
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
  // One alerting service: monitors and rollouts publish, notifiers and subscribers hear.
  const alerts = new AlertService({ remoteAccess, secretAccess: options.secretAccess });
  const performance = new PerformanceMonitors(
    {
      scan: (deployment, since, until) => predictions.scan(deployment, since, until),
      feedbackFor: (ids) => predictions.feedbackFor(ids),
      flush: () => predictionLog.flush(),
    },
    references,
    alerts,
    metrics,
    options.publicUrl,
  );
  const monitors = new Monitors(
    references,
    alerts,
    metrics,
    options.publicUrl,
    {
      // Off the request path; a failed write is counted, and the window's numbers stay in memory.
      windowClosed: (window, sketch) =>
        void monitorStore.saveWindow(window, sketch, clock.now()).catch(() => metrics.monitorPersistFailed()),
    },
    performance,
  );
  const specs = await monitorStore.listAll();
  for (const spec of specs) monitors.put(spec);
  // Open windows resume where the last checkpoint left them; requests served after it are counted.
  const deploymentOf = new Map(specs.map((s) => [s.name, s.deployment]));
  for (const c of await monitorStore.checkpoints()) {
    const deployment = deploymentOf.get(c.monitor);
    if (deployment === undefined) continue;
    monitors.restore(c, await predictions.countSince(deployment, c.variant, c.takenAt));
  }
  alerts.restore(monitorAlertStates(await monitorStore.alertStates(), specs));
  const checkpoint = async () => {
    await monitorStore.saveCheckpoints(monitors.checkpoints(), clock.now());
    await monitorStore.saveAlertStates(savedMonitorAlerts(alerts.states()), clock.now());
  };
  const checkpointer = setInterval(
    () => void checkpoint().catch(() => metrics.monitorPersistFailed()),
    options.checkpointMs ?? CHECKPOINT_MS,
  );
  checkpointer.unref();
  // Rollouts count requests, errors and latency per variant of the deployments they watch.
  // Each replica counts its share; whoever judges a canary sums every replica's rows (PostgreSQL).
  const meter = new TrafficMeter({
    ledger: trafficLedgerFor(store, replica, clock),
    onFlushError: () => metrics.rolloutTickFailed(),
  });
  meter.start();
  const shadows = new ShadowBook();
  const inference = new InferenceService(endpoints, pool, clock, {
    taps: [
      predictionLogTap(predictionLog),
      monitorsTap(monitors),
      shadows,
      { finished: (outcome) => metrics.observe(outcome) },
      { finished: (outcome) => meter.observe(outcome) },
    ],
    events: {
      fallbackAnswered: metrics.fallbackAnswered,
      requestShed: metrics.requestShed,
      circuitChanged: metrics.circuitChanged,
    },
    random: Math.random,
  });
  // Time windows close on their own when traffic stops.
  const ticker = setInterval(() => monitors.tick(clock.now()), MONITOR_TICK_MS);
  ticker.unref();
  const retention =
    options.retentionMs === undefined
      ? undefined
      : new RetentionSweeper(predictions, clock, options.retentionMs, leased(leases, LEASE.retention));

  const prepareMonitors = (deployment: string): void => {
    const served = endpoints.list().find((d) => d.deployment.name === deployment);
    if (served === undefined) return;
    monitors.prepare(
      deployment,
      served.variants.map((v) => ({
        variant: v.variant.name,
        model: v.version.model,
        version: v.version.version,
      })),
    );
  };
  const changes = new DeploymentChanges({
    deployments,
    registry,
    serve: () => endpoints.sync(),
    pointMonitors: prepareMonitors,
    announce: async () => void (await feed.publish(DEPLOYMENTS_TOPIC)),
    rollouts: () => ({
      rollsOut: (strategy) => rollouts.rollsOut(strategy),
      rollingTo: (deployment) => rollouts.rollingTo(deployment),
      start: (deployment, to) => rollouts.startPinned(deployment, to),
    }),
  });
  const events = new EventLog(store.db, clock);
  const resourceStore = new ResourceStore(store.db);
  const resources = new ResourceService(
    resourceStore,
    liveState({
      registry,
      deployments,
      changes,
      monitors,
      monitorStore,
      resources: resourceStore,
      prepareMonitors,
      remoteAccess,
      secretAccess: options.secretAccess,
      get rollouts() {
        return rollouts;
      },
    }),
    events,
    clock,
  );

  const sourceSync =
    options.source === undefined
      ? undefined
      : new SourceSync(options.source, resources, events, clock, leased(leases, LEASE.sourceSync));
  const rolloutAlerts = new RolloutAlerts(alerts, options.publicUrl, remoteAccess, options.secretAccess);
  const targets = rolloutTargets({ deployments, registry, changes });
  const controller: RolloutController = new RolloutController(
    new RolloutStore(store.db),
    targets,
    measurementSource({
      meter,
      predictions,
      log: predictionLog,
      monitors,
      needs: (deployment) => controller.needs(deployment),
    }),
    events,
    clock,
    (state, notes, strategy) => {
      metrics.rolloutChanged(state.deployment, state.weight, state.phase);
      // Counted from the start event on, before the first traffic moves.
      if (state.phase !== "Succeeded" && state.phase !== "Aborted") meter.watch(state.deployment, state.id);
      rolloutAlerts.notify(state, notes, strategy.notifiers ?? []);
    },
    // With replicas, every rollout action runs under one lock and starts from the store.
    store.dialect === "postgres" ? exclusiveSection(store, "ballast.rollouts") : undefined,
  );
  const rollouts = new Rollouts(
    controller,
    deployments,
    registry,
    targets,
    meter,
    events,
    {
      scan: (deployment, since, until) => predictions.scan(deployment, since, until),
      feedbackFor: (ids) => predictions.feedbackFor(ids),
      flush: () => predictionLog.flush(),
    },
    clock,
  );
  const tickRollouts = rolloutTick(leases, rollouts);
  const rolloutTicker =
    options.rolloutTicker === false
      ? undefined
      : setInterval(() => void tickRollouts().catch(() => metrics.rolloutTickFailed()), ROLLOUT_TICK_MS);
  rolloutTicker?.unref();

  predictionLog.start();
  retention?.start();
  announcements = new Announcements(events, alerts, subscribedNotifiers(resourceStore), options.publicUrl);
  // Pipeline triggers: the Pipelines' declared triggers, judged on the pipelines lease's holder.
  // The orchestrator (pipe-core's run controller) is the RunStarter; until it is wired, starts are refused.
  const runStarter: RunStarter = {
    start: async () => ({ started: false, reason: "no pipeline orchestrator is wired in this build" }),
  };
  const pipelineTriggers = new TriggerService({
    starter: runStarter,
    pipelines: pipelineTriggersFrom(resourceStore),
    alerts,
    kpis: monitorKpis(() => performance.list()),
    store: new TriggerStore(store.db),
    events,
    clock,
    filesRoot: resolve(options.triggerFilesRoot ?? process.cwd()),
    guard: leased(leases, LEASE.pipelines),
  });
  const triggerTicker =
    options.triggerTicker === false
      ? undefined
      : setInterval(() => void pipelineTriggers.tick().catch(() => undefined), TRIGGER_TICK_MS);
  triggerTicker?.unref();
  const stepQueue = options.queue === undefined ? undefined : new QueueExecutor(options.queue);
  // Changes made through other replicas (or missed while the connection was down) are served here.
  await feed.subscribe(DEPLOYMENTS_TOPIC, (change) =>
    change.cause === "local" ? undefined : changes.heard(),
  );
  await feed.start();
  leases.start();
  heartbeat.start();
  await endpoints.sync();
  for (const d of endpoints.list()) prepareMonitors(d.deployment.name);
  // A rollout interrupted by a restart continues from its last saved state.
  await resumeRollouts(leases, rollouts);
  await pipelineTriggers.start();

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
    shadows,
    metrics,
    monitors,
    references,
    monitorStore,
    events,
    resources,
    sourceSync,
    rollouts,
    rolloutAlerts,
    changes,
    replica: { id: replica, leases, heartbeat },
    feed,
    alerts,
    prepareMonitors,
    announcements,
    pipelineTriggers,
    stepQueue,
    async close() {
      await sourceSync?.stop();
      await feed.close();
      clearInterval(rolloutTicker);
      await controller.serialized(async () => {});
      clearInterval(ticker);
      clearInterval(checkpointer);
      await checkpoint().catch(() => metrics.monitorPersistFailed());
      clearInterval(triggerTicker);
      await pipelineTriggers.close();
      await stepQueue?.close();
      await announcements?.settled();
      monitors.close();
      alerts.close();
      retention?.stop();
      await predictionLog.stop();
      await writer?.close();
      await meter.close();
      await pool.close();
      await heartbeat.close();
      await leases.close();
      await store.close();
    },
  };
}
