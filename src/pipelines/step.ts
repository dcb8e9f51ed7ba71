/**
 * The contract every pipeline step kind keeps, and the one way steps are executed (in the
 * server, in a child process, or on a `ballast worker` through a queue). The orchestrator
 * (run-controller) only ever sees these types: it resolves a step's inputs to artifacts,
 * fingerprints them with the step's spec, skips the step when that fingerprint already has
 * outputs, and otherwise hands a StepTask to a StepExecutor.
 *
 * Artifacts between steps are files addressed by their SHA-256 (the registry's ArtifactStore
 * keeps them, so every replica and worker can read them). A dataset is JSON Lines, one object
 * per row, written and read as a stream so memory stays flat in the number of rows.
 */
import type { Clock } from "../domain/clock.js";
import type { JsonValue } from "../domain/json-value.js";
import type { Flavor, Signature } from "../domain/model.js";
import type { SecretAccess } from "../domain/secret-access.js";

/** What a step produced or consumes. `path` is a local file this process may read. */
export interface ArtifactRef {
  readonly sha256: string;
  /** dataset (JSONL rows), model (any flavor's artifact), metrics (JSON), profile (JSON), file. */
  readonly kind: ArtifactKind;
  readonly bytes: number;
  /** Small facts downstream steps and lineage need: columns, rows, time range, flavor, metrics. */
  readonly meta: Readonly<Record<string, JsonValue>>;
}

export type ArtifactKind = "dataset" | "model" | "metrics" | "profile" | "file";

/** An output a step has written into its work dir, before it is stored as an artifact. */
export interface StepOutput {
  readonly file: string;
  readonly kind: ArtifactKind;
  readonly meta?: Readonly<Record<string, JsonValue>>;
}

/** Where a step runs: steps that change the registry or read the store run in the server. */
export type Placement = "server" | "anywhere";

export interface StepLog {
  /** One line of the step's log, kept with the run (bounded; overflow counted). */
  line(text: string): void;
}

/** What a step kind gets when it runs. */
export interface StepContext<S> {
  readonly runId: string;
  readonly pipeline: string;
  readonly step: string;
  readonly attempt: number;
  /** The step's spec after parameter substitution (`${params.window}`), already checked by parse. */
  readonly spec: S;
  readonly params: Readonly<Record<string, string>>;
  /** Upstream outputs by the name the spec uses: `data`, `split.train`, `train.model`. */
  readonly inputs: Readonly<Record<string, ArtifactRef & { readonly path: string }>>;
  /** A fresh directory for this attempt; outputs are written here. */
  readonly workDir: string;
  readonly log: StepLog;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Server-side capabilities; undefined on a worker (only `anywhere` steps run there). */
  readonly server?: PipelineServer;
}

/**
 * What server-placed steps may use. Defined here so step kinds depend on these ports, not on
 * the composition root; src/application/pipeline-server.ts implements them from a Ballast's
 * parts (ballast.ts wires it).
 */
export interface PipelineServer {
  /** Predictions joined with their feedback labels, read from the store. */
  readonly log: LabelledLog;
  readonly registry: PipelineRegistry;
  /** Candidates reach serving only through here (DeploymentChanges, strategy `follow`). */
  readonly handOff: DeploymentHandOff;
  readonly events: PipelineEvents;
  /** Where `files` sources may read: relative paths resolve against the first root. */
  readonly fileRoots: readonly string[];
  /** What `urlFrom` secret references may read (--secrets-dir, --secret-env). */
  readonly secretAccess?: SecretAccess;
  /** Where the bars step appends (the instruments service, as the bars API). */
  readonly instruments?: {
    appendBars(
      id: string,
      bars: unknown,
      config?: unknown,
    ): Promise<{ accepted: number; duplicates: number; reordered: number; repeated: number; gaps: number }>;
  };
}

/** One labelled production row: the logged inputs by feature name, the label when it came. */
export interface LabelledRow {
  /** `<request id>/<row>/<variant>`: unique in the log, stable across reads. */
  readonly id: string;
  /** Prediction time, epoch ms. */
  readonly at: number;
  readonly deployment: string;
  readonly variant: string;
  readonly model: string;
  readonly version: number;
  readonly features: Readonly<Record<string, JsonValue>>;
  /** The `label` feedback of this row, null while none arrived. */
  readonly label: JsonValue;
}

export interface LabelledLogQuery {
  readonly deployment: string;
  /** Epoch ms, inclusive. */
  readonly since: number;
  /** Epoch ms, exclusive. */
  readonly until: number;
  /** Only rows whose logged inputs have these values (`{merchant_category: travel}`). */
  readonly segment?: Readonly<Record<string, JsonValue>>;
  /** Only rows that have a label. */
  readonly labelledOnly: boolean;
  /** Only live variants' rows (shadows' answers are logged under the same inputs); default true. */
  readonly liveOnly?: boolean;
}

export interface LabelledLog {
  /** Matching rows, oldest first, in pages (memory flat in the window's size). */
  rows(query: LabelledLogQuery): AsyncIterable<readonly LabelledRow[]>;
  /** What identifies the window's matching predictions cheaply: their count and newest row. */
  extent(query: Omit<LabelledLogQuery, "labelledOnly" | "segment">): Promise<LogExtent>;
}

export type LogExtent = {
  readonly predictions: number;
  /** Oldest and newest prediction time in the window; null when empty. */
  readonly oldest: number | null;
  readonly newest: number | null;
  /** Feedback rows for the window's predictions and the newest time one was received. */
  readonly labels: number;
  readonly newestLabel: number | null;
};

/** What a deployment's primary (live, non-shadow) variant serves now. */
export interface Champion {
  readonly deployment: string;
  readonly model: string;
  readonly version: number;
  readonly flavor: Flavor;
  /** A local file this process may read. */
  readonly artifactPath: string;
  readonly signature: Signature | null;
}

export interface CandidateRegistration {
  readonly model: string;
  readonly artifactPath: string;
  readonly flavor?: Flavor;
  /** The pipeline run: a second registration for the same run returns the first version. */
  readonly runId: string;
  readonly lineage: {
    readonly dataFingerprint: string;
    readonly parameters: Readonly<Record<string, JsonValue>>;
    readonly parentVersion?: number;
  };
  readonly metrics?: Readonly<Record<string, number>>;
  readonly tags?: Readonly<Record<string, string>>;
  readonly description?: string;
  readonly referenceProfile?: unknown;
  /** Moved onto the new version (registry only: deployments following it are not changed). */
  readonly alias?: string;
}

export interface RegisteredCandidate {
  readonly model: string;
  readonly version: number;
  /** False when this run had registered it already. */
  readonly created: boolean;
}

export interface PipelineRegistry {
  /** Null when the deployment does not exist or serves nothing live. */
  champion(deployment: string): Promise<Champion | null>;
  register(candidate: CandidateRegistration): Promise<RegisteredCandidate>;
  attachReference(model: string, version: number, profile: unknown): Promise<void>;
}

export type HandOffMode = "canary" | "shadow";

export interface HandOffRequest {
  readonly deployment: string;
  readonly model: string;
  readonly version: number;
  readonly mode: HandOffMode;
  readonly runId: string;
  /** Shadow only: the percentage of requests mirrored to it (default 100). */
  readonly shadowWeight?: number;
}

export interface HandOffResult {
  readonly mode: HandOffMode;
  /** False when this run's hand-off had happened already (found, not repeated). */
  readonly started: boolean;
  /** canary: a rollout started; switched: the deployment had no strategy and switched at once. */
  readonly outcome: "rollout" | "switched" | "shadow";
  readonly rolloutId?: string;
}

export interface DeploymentHandOff {
  handOff(request: HandOffRequest): Promise<HandOffResult>;
}

export interface PipelineEvents {
  /** Into the event log (kind `Pipeline`, name the pipeline). */
  record(event: {
    readonly name: string;
    readonly reason: string;
    readonly message: string;
    readonly type?: "Normal" | "Warning";
    readonly details?: Record<string, unknown>;
  }): Promise<void>;
}

export interface StepResult {
  /** By output name: `train`, `holdout`, `model`, `metrics`. */
  readonly outputs: Readonly<Record<string, StepOutput>>;
  /** A short summary shown in `ballast pipeline show` (rows read, metrics, version registered). */
  readonly summary?: Readonly<Record<string, JsonValue>>;
}

/** A step kind (source, split, train, validate, register, deploy): one file each under steps/. */
export interface StepKind<S = unknown> {
  readonly kind: string;
  readonly placement: Placement;
  /** Checks the raw spec (errors name the field, e.g. `steps[2].train.timeout`); pure. */
  parse(raw: unknown, field: string): S;
  /** The upstream references the spec names (`split.train`); the DAG's edges. */
  inputs(spec: S): readonly string[];
  /**
   * What, beyond the spec and input hashes, decides whether a cached result still holds: the
   * resolved time window of a log source, the newest matching file's mtime. Undefined: nothing.
   */
  volatility?(ctx: StepContext<S>): Promise<JsonValue | undefined>;
  /** False for steps with effects (register, deploy): never skipped by the cache. */
  readonly cacheable: boolean;
  run(ctx: StepContext<S>): Promise<StepResult>;
}

/** One attempt of one step, as handed to an executor (serialisable for a queue). */
export interface StepTask {
  readonly runId: string;
  readonly pipeline: string;
  readonly step: string;
  readonly kind: string;
  readonly attempt: number;
  readonly spec: JsonValue;
  readonly params: Readonly<Record<string, string>>;
  readonly inputs: Readonly<Record<string, ArtifactRef>>;
  readonly timeoutMs: number;
  readonly fingerprint: string;
}

/** Outputs stored as artifacts, as the orchestrator records them. */
export interface StepTaskResult {
  readonly outputs: Readonly<Record<string, ArtifactRef>>;
  readonly summary?: Readonly<Record<string, JsonValue>>;
}

/**
 * Runs step attempts: embedded (in this process; `command` steps as child processes) or through
 * a queue to `ballast worker` processes (BullMQ on Redis, a PostgreSQL-backed queue). A rejected
 * promise is a failed attempt; the orchestrator owns retries and backoff.
 */
export interface StepExecutor {
  execute(task: StepTask, signal: AbortSignal): Promise<StepTaskResult>;
  close(): Promise<void>;
}

/** Where and how one attempt runs: what differs between the server, a worker and a cache check. */
export interface AttemptPlace {
  readonly inputs: StepContext<unknown>["inputs"];
  readonly workDir: string;
  readonly log: StepLog;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly server?: PipelineServer;
}

/**
 * The context a step kind gets for one attempt of `task`: the task's identity and parameters,
 * its spec checked by the kind (errors name `steps.<step>.<kind>`), and the place it runs in.
 */
export function stepContext(kind: StepKind, task: StepTask, place: AttemptPlace): StepContext<unknown> {
  const { server, ...where } = place;
  return {
    runId: task.runId,
    pipeline: task.pipeline,
    step: task.step,
    attempt: task.attempt,
    spec: kind.parse(task.spec, `steps.${task.step}.${task.kind}`),
    params: task.params,
    ...where,
    ...(server === undefined ? {} : { server }),
  };
}
