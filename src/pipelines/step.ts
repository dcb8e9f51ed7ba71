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
 * What server-placed steps may use. Defined here so step kinds depend on this interface, not on
 * the composition root; ballast.ts gives the implementation.
 */
export interface PipelineServer {
  /** Everything a step may ask of the rest of Ballast, wired in ballast.ts (registry, log, changes). */
  readonly [capability: string]: unknown;
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
