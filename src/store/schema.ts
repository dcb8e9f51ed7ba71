/**
 * The tables, as Kysely sees them. Both dialects store JSON as text and times as epoch
 * milliseconds in BIGINT columns (the PostgreSQL pool parses INT8 into numbers), so one set of
 * queries serves SQLite and PostgreSQL alike.
 */
import type { Generated } from "kysely";

export interface RegisteredModelsTable {
  name: string;
  description: string;
  tags: string; // JSON object
  latest_version: number;
  created_at: number;
  updated_at: number;
}

export interface ModelVersionsTable {
  model: string;
  version: number;
  flavor: string;
  artifact_sha256: string;
  artifact_size: number;
  signature: string | null; // JSON Signature
  tags: string; // JSON object
  description: string;
  metrics: string; // JSON object
  lineage: string; // JSON Lineage
  source: string;
  created_at: number;
  /** Migration 0002: the version's reference profile, an artifact by hash, with its size in rows and features. */
  reference_sha256: string | null;
  reference_rows: number | null;
  reference_features: number | null;
}

export interface ModelAliasesTable {
  model: string;
  alias: string;
  version: number;
  updated_at: number;
}

export interface DeploymentsTable {
  name: string;
  spec: string; // JSON { variants, timeoutMs }
  created_at: number;
  updated_at: number;
}

export interface PredictionsTable {
  request_id: string;
  variant: string;
  deployment: string;
  model: string;
  model_version: number;
  inputs: string; // JSON
  outputs: string; // JSON
  latency_ms: number;
  created_at: number;
}

export interface FeedbackTable {
  request_id: string;
  /** Which row of the request's batch the outcome is for (0 for single-row requests). */
  row_index: number;
  kind: string;
  label: string | null; // JSON scalar
  value: number | null;
  created_at: number;
  received_at: Generated<number>;
}

export interface MonitorsTable {
  name: string;
  deployment: string;
  spec: string; // JSON MonitorSpec
  created_at: number;
  updated_at: number;
}

export interface MonitorWindowsTable {
  monitor: string;
  variant: string;
  /** '' for a variant's overall window; JSON ["feature","value"] for a segment's. */
  segment: Generated<string>;
  window_start: number;
  window_end: number;
  model: string;
  version: number;
  rows: number;
  drift: string | null;
  sketch: string;
  closed_at: number;
}

/** Migration 0011: one row per replica, its share of the (monitor, variant)'s windows. */
export interface MonitorCheckpointsTable {
  monitor: string;
  variant: string;
  replica: string;
  model: string;
  version: number;
  taken_at: number;
  state: string;
}

export interface ResourcesTable {
  kind: string;
  name: string;
  manifest: string;
  generation: number;
  source: string;
  applied_at: number;
}

export interface EventsTable {
  id: string;
  at: number;
  kind: string;
  name: string;
  type: string;
  reason: string;
  message: string;
  details: string;
}

export interface RolloutsTable {
  id: string;
  deployment: string;
  kind: string;
  active: number;
  state: string;
  strategy: string;
  started_at: number;
  updated_at: number;
}

export interface MonitorAlertStatesTable {
  monitor: string;
  identity: string;
  state: string;
  saved_at: number;
}

/** Migration 0009: the header of an artifact's database copy, written after its last chunk. */
export interface ArtifactBlobsTable {
  sha256: string;
  size: number;
  chunks: number;
  created_at: number;
}

export interface ArtifactChunksTable {
  sha256: string;
  seq: number;
  bytes: Uint8Array;
}

/** One row per change-feed topic; publishing bumps the revision. */
export interface RevisionsTable {
  topic: string;
  revision: number;
  changed_at: number;
}

/** A reconciler's lease: held by `holder` until `expires_at` unless renewed. */
export interface LeasesTable {
  name: string;
  holder: string;
  acquired_at: number;
  expires_at: number;
}

export interface ReplicasTable {
  id: string;
  started_at: number;
  last_seen: number;
  served_revision: number | null;
}

/** Migration 0010: one replica's cumulative traffic counts for one variant in one rollout epoch. */
export interface TrafficCountsTable {
  replica: string;
  deployment: string;
  variant: string;
  /** The rollout's id: the counting period every replica counts under. */
  epoch: string;
  requests: number;
  errors: number;
  latency: string; // JSON QuantileSketchJSON of latencies in milliseconds
  updated_at: number;
}

/** Migration 0012: a pipeline run. JSON columns are text. */
export interface PipelineRunsTable {
  id: string;
  pipeline: string;
  state: string;
  params: string;
  trigger: string;
  spec: string;
  reason: string | null;
  registered: string | null;
  deployed: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

/** Migration 0012: one step of a pipeline run, as of its latest attempt. */
export interface PipelineStepsTable {
  run_id: string;
  step: string;
  position: number;
  kind: string;
  state: string;
  attempt: number;
  cached: number;
  cached_from: string | null;
  fingerprint: string | null;
  not_before: number | null;
  started_at: number | null;
  deadline_at: number | null;
  finished_at: number | null;
  inputs: string;
  outputs: string;
  summary: string | null;
  error: string | null;
  log_lines: number;
  log_dropped: number;
  updated_at: number;
}

/** Migration 0012: one log line of a pipeline step. */
export interface PipelineStepLogsTable {
  run_id: string;
  step: string;
  seq: number;
  attempt: number;
  at: number;
  line: string;
}

export interface Database {
  registered_models: RegisteredModelsTable;
  model_versions: ModelVersionsTable;
  model_aliases: ModelAliasesTable;
  deployments: DeploymentsTable;
  predictions: PredictionsTable;
  feedback: FeedbackTable;
  monitors: MonitorsTable;
  monitor_windows: MonitorWindowsTable;
  monitor_checkpoints: MonitorCheckpointsTable;
  resources: ResourcesTable;
  events: EventsTable;
  rollouts: RolloutsTable;
  monitor_alert_states: MonitorAlertStatesTable;
  artifact_blobs: ArtifactBlobsTable;
  artifact_chunks: ArtifactChunksTable;
  revisions: RevisionsTable;
  leases: LeasesTable;
  replicas: ReplicasTable;
  traffic_counts: TrafficCountsTable;
  pipeline_runs: PipelineRunsTable;
  pipeline_steps: PipelineStepsTable;
  pipeline_step_logs: PipelineStepLogsTable;
  pipeline_trigger_states: PipelineTriggerStatesTable;
  pipeline_trigger_files: PipelineTriggerFilesTable;
  instruments: InstrumentsTable;
  instrument_bars: InstrumentBarsTable;
  instrument_states: InstrumentStatesTable;
  router_answers: RouterAnswersTable;
  router_states: RouterStatesTable;
}

/** Migration 0015: one router answer (the last row's), JSON columns as text. */
export interface RouterAnswersTable {
  router: string;
  request_id: string;
  at: number;
  origin: number | null;
  regime: number;
  probabilities: string;
  weights: string;
  forecasts: string;
}

/** Migration 0015: a router's learned state as JSON. */
export interface RouterStatesTable {
  router: string;
  state: string;
  updated_at: number;
}

/** Migration 0013: one pipeline trigger's memory (keyed by its canonical spec). */
export interface PipelineTriggerStatesTable {
  pipeline: string;
  trigger: string;
  kind: string;
  last_fired_at: number | null;
  last_started_at: number | null;
  last_run_id: string | null;
  evaluated_at: number | null;
  state: string; // JSON
}

/** Migration 0013: a file a `files` trigger has seen, as it was then. */
export interface PipelineTriggerFilesTable {
  pipeline: string;
  trigger: string;
  name: string;
  size: number;
  mtime_ms: number;
}

/** Migration 0014: an instrument and its configuration. */
export interface InstrumentsTable {
  id: string;
  config: string; // JSON
  created_at: number;
  updated_at: number;
}

/** Migration 0014: one bar of an instrument, with the indicators after it. */
export interface InstrumentBarsTable {
  instrument: string;
  time: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number;
  volume: number | null;
  indicators: string; // JSON
}

/** Migration 0014: an instrument's indicator state (newest bar, and a checkpoint behind it). */
export interface InstrumentStatesTable {
  instrument: string;
  state: string; // JSON
  checkpoint: string; // JSON
  bars: number;
  last_time: number | null;
  last_bar: string | null; // JSON
  revision: number;
  updated_at: number;
}
