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
import { runtimesWith } from "./runtimes/table.js";
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
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { AlertService } from "./alerts/alerting.js";
import { Monitors } from "./monitoring/monitors.js";
import { MonitorStore } from "./monitoring/monitor-store.js";
import { SharedWindowEvaluator } from "./monitoring/shared-windows.js";
import { MonitorChanges } from "./application/monitor-changes.js";
import { MonitoringService } from "./application/monitoring-service.js";
import { RouterService } from "./application/routers.js";
import { RouterLog } from "./application/router-log.js";
import { registerRouterSeries } from "./observability/router-series.js";
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
import { LEASE, leased, pipelineTick, resumeRollouts, rolloutTick } from "./application/reconcilers.js";
import { RunController } from "./pipelines/run-controller.js";
import { RunStore } from "./pipelines/run-store.js";
import { parsePipelineSpec } from "./pipelines/pipeline-spec.js";
import type { PipelineServer, StepExecutor } from "./pipelines/step.js";
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
import { pipelineServer } from "./application/pipeline-server.js";
import { recordRunEvent } from "./pipelines/run-events.js";
import { pipelineSeries } from "./observability/pipeline-series.js";
import type { RunStarter } from "./pipelines/run-starter.js";
import { QueueExecutor } from "./pipelines/queue/bullmq.js";
import { monitorKpis } from "./pipelines/triggers/kpi-source.js";
import { TriggerService } from "./pipelines/triggers/trigger-service.js";
import { TriggerStore } from "./pipelines/triggers/trigger-store.js";
import { Instruments } from "./application/instruments.js";
import { InstrumentStore } from "./markets/instrument-store.js";
import { instrumentSeries } from "./observability/instrument-series.js";

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
  /** Move pipeline runs along on a timer (default); tests turn it off and call `pipelines.tick()`. */
  readonly pipelineTicker?: boolean;
  /** Where pipeline steps placed `anywhere` run (a queue); in this process when absent. */
  readonly pipelineExecutor?: StepExecutor;
  /** What server-placed pipeline steps may use (registry, prediction log, deployment changes). */
  readonly pipelineServer?: PipelineServer;
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
  /** The variant split's randomness (weights, canary share); Math.random unless a test seeds it. */
  readonly random?: () => number;
  /** Where `files` triggers' globs are rooted (default: the working directory). */
  readonly triggerFilesRoot?: string;
}

/** The change-feed topic of what deployments serve (deployments, aliases). */
const DEPLOYMENTS_TOPIC = "deployments";
/** The change-feed topic of monitor specs (created, changed, deleted). */
const MONITORS_TOPIC = "monitors";
/** The change-feed topic of Router resources (applied, deleted): replicas read them again. */
const ROUTERS_TOPIC = "routers";
/** The change-feed topic of bars appended to any instrument (routers catch up from the store). */
const BARS_TOPIC = "bars";
/** How often rollouts step; their analyses run at the interval each strategy declares. */
const ROLLOUT_TICK_MS = 1000;
/** How often pipeline runs are looked at (an attempt that ends also asks for a tick at once). */
const PIPELINE_TICK_MS = 1000;
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
  /** The regime routers (`kind: Router`): answers, outcomes (observeBars), per-regime evaluation. */
  readonly routers: RouterService;
  /** The watched folder or repository, when there is one. */
  readonly sourceSync: SourceSync | undefined;
  readonly rollouts: Rollouts;
  readonly rolloutAlerts: RolloutAlerts;
  /** The pipeline orchestrator: starts runs (also for triggers), cancels them, reads them. */
  readonly pipelines: RunController;
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
  /** The one way to change a monitor: stored, run here, announced to the other replicas. */
  readonly monitorChanges: MonitorChanges;
  /** Market data: instruments, their bars and indicators; `onBars` hears accepted bars. */
  readonly instruments: Instruments;
  /**
   * Monitor windows shared between replicas (PostgreSQL; undefined on SQLite): `save` writes
   * this replica's share now, `evaluate` runs one evaluator pass if this replica holds the
   * monitors lease (false when it does not). Both also run on their own timers.
   */
  readonly sharedWindows:
    | {
        readonly evaluator: SharedWindowEvaluator;
        save(): Promise<void>;
        evaluate(): Promise<boolean>;
      }
    | undefined;
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
  // With replicas each saves its share of the monitors' windows under its id, and one evaluates
  // them merged; a single process saves (and resumes) its own windows as before.
  const shareWindows = store.dialect === "postgres";
  const feed = new ChangeFeed(store);
  const remoteAccess = options.remoteAccess ?? ANYWHERE;
  const runtimeFor = runtimesWith(remoteAccess);
  // On PostgreSQL the bytes go into the database too, so every replica can load every version.
  const artifacts = new ArtifactStore(
    dataDir,
    store.dialect === "postgres" ? new ArtifactCopies(store.db, store.dialect, { clock }) : undefined,
  );
  // Artifacts this data dir holds from before the database kept copies (or from a replica that
  // died before copying) go into it now, so every replica can load every version.
  await artifacts.shareLocal();
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
    deployments: () => endpoints.list().map((d) => d.deployment.name),
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
  const monitoring = await MonitoringService.open({
    store: monitorStore,
    log: {
      scan: (deployment, since, until) => predictions.scan(deployment, since, until),
      feedbackFor: (ids) => predictions.feedbackFor(ids),
      flush: () => predictionLog.flush(),
      countSince: (deployment, variant, at) => predictions.countSince(deployment, variant, at),
    },
    references,
    alerts,
    metrics,
    publicUrl: options.publicUrl,
    leases,
    heartbeat,
    replica,
    shareWindows,
    served: () => endpoints.list(),
    clock,
    checkpointMs: options.checkpointMs,
  });
  const { monitors } = monitoring;
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
    random: options.random ?? Math.random,
  });
  const retention =
    options.retentionMs === undefined
      ? undefined
      : new RetentionSweeper(predictions, clock, options.retentionMs, leased(leases, LEASE.retention));

  const prepareMonitors = (deployment: string): void => monitoring.prepare(deployment);
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
  const monitorChanges = new MonitorChanges({
    store: monitorStore,
    monitors,
    pointMonitors: prepareMonitors,
    announce: async () => void (await feed.publish(MONITORS_TOPIC)),
    forgetWindows: (monitor) => monitorStore.forgetShares(monitor, monitoring.savedAs),
  });
  const events = new EventLog(store.db, clock);
  const resourceStore = new ResourceStore(store.db);
  const routerLog = new RouterLog(store.db);
  const routers = new RouterService({
    log: routerLog,
    lease: (work) => leases.run(LEASE.routers, work),
    alerts,
    specOf: async (name) => (await resourceStore.get("Router", name))?.manifest.spec ?? null,
    names: async () => (await resourceStore.list("Router")).map((r) => r.manifest.metadata.name),
    registry,
    artifacts,
    inference,
    events,
    clock,
    announce: async () => void (await feed.publish(ROUTERS_TOPIC)),
    windowOf: (deployment) => endpoints.columnsOf(deployment, "returns"),
    // Read when another replica took bars (the "bars" topic below).
    barsAfter: async (instrument, after, limit) =>
      (await instrumentStore.bars(instrument, after, undefined, limit + 1))
        .filter((r) => after === undefined || r.bar.time > after)
        .slice(0, limit)
        .map((r) => ({ time: r.bar.time, return: r.indicators.logReturn })),
  });
  registerRouterSeries(metrics.registry, () => routers.snapshot());
  const resources = new ResourceService(
    resourceStore,
    liveState({
      registry,
      deployments,
      changes,
      monitors,
      monitorStore,
      monitorChanges,
      resources: resourceStore,
      prepareMonitors,
      remoteAccess,
      secretAccess: options.secretAccess,
      routers,
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

  const stepQueue = options.queue === undefined ? undefined : new QueueExecutor(options.queue);
  const stepExecutor = options.pipelineExecutor ?? stepQueue;
  let tickPipelinesSoon = (): void => {};
  const pipelines = new RunController({
    store: new RunStore(store.db),
    pipelines: async (name) => {
      const declared = await resourceStore.get("Pipeline", name);
      return declared === null ? null : parsePipelineSpec(declared.manifest.spec);
    },
    artifacts,
    dataDir,
    clock,
    ...(stepExecutor === undefined ? {} : { executor: stepExecutor }),
    server:
      options.pipelineServer ??
      pipelineServer({
        db: store.db,
        predictions,
        flush: () => predictionLog.flush(),
        registry,
        artifacts,
        deployments,
        changes,
        rollingTo: (d) => rollouts.rollingTo(d),
        events,
        fileRoots: [dataDir, resolve(options.triggerFilesRoot ?? process.cwd())],
        ...(options.secretAccess === undefined ? {} : { secretAccess: options.secretAccess }),
        // Constructed further down; a run reaches it only once the server is up.
        instruments: { appendBars: (id, bars, config) => instruments.appendBars(id, bars, config) },
      }),
    exclusive: exclusiveSection(store, "ballast.pipelines.start"),
    kick: () => tickPipelinesSoon(),
  });
  const tickPipelines = pipelineTick(leases, pipelines);
  const pipelineTicker =
    options.pipelineTicker === false
      ? undefined
      : // A failed tick changes nothing it has not recorded; the next one tries again.
        setInterval(() => void tickPipelines().catch(() => undefined), PIPELINE_TICK_MS);
  pipelineTicker?.unref();
  if (pipelineTicker !== undefined) {
    // One tick soon after an attempt ends, rather than one per attempt or a second later.
    let soon: NodeJS.Immediate | undefined;
    tickPipelinesSoon = () => {
      soon ??= setImmediate(() => {
        soon = undefined;
        void tickPipelines().catch(() => undefined);
      });
    };
  }

  predictionLog.start();
  retention?.start();
  announcements = new Announcements(events, alerts, subscribedNotifiers(resourceStore), options.publicUrl);
  // Pipeline triggers: the Pipelines' declared triggers, judged on the pipelines lease's holder.
  // The orchestrator is the RunStarter: triggers start runs through it (coalesced by its rules).
  const runStarter: RunStarter = pipelines;
  // Every finished run (and a candidate stopped at validation) into the event log and Notifiers.
  const announcer = announcements;
  const pipelineRuns = pipelineSeries(metrics.registry, async () =>
    (await resourceStore.list("Pipeline")).map((r) => r.manifest.metadata.name),
  );
  pipelines.subscribe((run) => {
    pipelineRuns.runFinished(run);
    const failedStep = run.steps.find((st) => st.state === "Failed");
    const registered = run.registered as { model?: unknown; version?: unknown } | null | undefined;
    void (async () => {
      if (failedStep !== undefined && failedStep.kind === "validate")
        await recordRunEvent(announcer, {
          type: "validation-failed",
          pipeline: run.pipeline,
          runId: run.id,
          step: failedStep.step,
          reasons: (failedStep.error ?? run.reason ?? "validation failed").split("; "),
        });
      await recordRunEvent(announcer, {
        type: "run-finished",
        pipeline: run.pipeline,
        runId: run.id,
        state: run.state as "Succeeded" | "Failed" | "Cancelled",
        ...(run.reason === null || run.reason === undefined ? {} : { reason: run.reason }),
        trigger: run.trigger.reason,
        ...(typeof registered?.model === "string" && typeof registered.version === "number"
          ? { registered: { model: registered.model, version: registered.version } }
          : {}),
        rolloutStarted: run.deployed !== null && run.deployed !== undefined,
      });
    })().catch(() => undefined);
  });
  const pipelineTriggers = new TriggerService({
    starter: runStarter,
    pipelines: pipelineTriggersFrom(resourceStore),
    alerts,
    kpis: monitorKpis(() => monitoring.performance.list()),
    regimeLosses: { read: (router) => routers.evaluation(router) },
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
  const instrumentStore = new InstrumentStore(store);
  const instruments = new Instruments(instrumentStore, clock);
  instrumentSeries(metrics.registry, instrumentStore, () => instruments.stats());
  // A bar brings the realized value of the forecasts made at the bar before it, and moves the
  // live regime of every router bound to its instrument.
  instruments.onBars(async (instrument, accepted) => {
    await routers.observeBars(
      instrument,
      accepted.map((a) => ({ time: a.bar.time, return: a.logReturn })),
    );
    // The other replicas read them from the store: the routers lease's holder joins their
    // outcomes wherever the POST landed, and every live regime moves.
    await feed.publish(BARS_TOPIC);
  });
  // Changes made through other replicas (or missed while the connection was down) are served here.
  await feed.subscribe(DEPLOYMENTS_TOPIC, (change) =>
    change.cause === "local" ? undefined : changes.heard(),
  );
  await feed.subscribe(MONITORS_TOPIC, (change) =>
    change.cause === "local" ? undefined : monitorChanges.heard(),
  );
  await feed.subscribe(BARS_TOPIC, (change) => (change.cause === "local" ? undefined : routers.catchUp()));
  await feed.subscribe(ROUTERS_TOPIC, (change) => (change.cause === "local" ? undefined : routers.heard()));
  await feed.start();
  // Leases taken (or not) before the first tick, so the first evaluations run where they belong.
  await monitoring.start();
  leases.start();
  heartbeat.start();
  await endpoints.sync();
  for (const d of endpoints.list()) prepareMonitors(d.deployment.name);
  await routers.loadAll();
  // A rollout interrupted by a restart continues from its last saved state.
  await resumeRollouts(leases, rollouts);
  await pipelineTriggers.start();

  return {
    dataDir,
    clock,
    store,
    artifacts,
    registry,
    routers,
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
    pipelines,
    changes,
    replica: { id: replica, leases, heartbeat },
    feed,
    alerts,
    prepareMonitors,
    announcements,
    pipelineTriggers,
    stepQueue,
    monitorChanges,
    instruments,
    sharedWindows:
      monitoring.evaluator === undefined
        ? undefined
        : {
            evaluator: monitoring.evaluator,
            save: () => monitoring.saveShares(),
            evaluate: () => monitoring.evaluateShared(),
          },
    async close() {
      await sourceSync?.stop();
      await feed.close();
      clearInterval(rolloutTicker);
      clearInterval(pipelineTicker);
      tickPipelinesSoon = () => {};
      await pipelines.close();
      await controller.serialized(async () => {});
      clearInterval(triggerTicker);
      await pipelineTriggers.close();
      await stepQueue?.close();
      await announcements?.settled();
      await monitoring.close();
      alerts.close();
      retention?.stop();
      await predictionLog.stop();
      await routerLog.close().catch(() => undefined);
      await writer?.close();
      await meter.close();
      await pool.close();
      await heartbeat.close();
      await leases.close();
      await store.close();
    },
  };
}
