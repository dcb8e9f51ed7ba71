/**
 * The regime routers (`kind: Router`): each answers at /v2/models/{router}/infer by reading the
 * regime (from the request's window, or the bound instrument's live filter), calling every
 * specialist's deployment through the serving path in parallel under the router's deadline, and
 * combining their variances with the regime's weights. A specialist that fails, is late or
 * answers nonsense is renormalised away; the router fails only when every weighted one did.
 *
 * Outcomes come in through `observeBars` (the instruments service calls it): the forecasts made
 * at the previous bar meet (scale * r)^2, every model's loss is recorded per regime, the
 * regime's weights learn (Hedge / Fixed-Share) and a challenger significantly better than the
 * regime's champion takes over that regime. Answers are logged in the store off the request
 * path (router-log.ts) and the join reads them back on the holder of the routers lease; the
 * learned state (live weights, regime scoreboard, live filter) is saved there after each batch.
 */
import { readFile } from "node:fs/promises";
import type { Clock } from "../domain/clock.js";
import { BallastError, invalid, isBallastError, notFound } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import type { EventRecorder } from "../events/event-log.js";
import type { AlertSink } from "../alerts/alerting.js";
import { parseNotifierList, type NotifierConfig } from "../alerts/notifiers/index.js";
import type { Registry } from "../registry/registry.js";
import type { ArtifactStore } from "../registry/artifacts.js";
import { invalidField, shown } from "../registry/field.js";
import { SerialQueue } from "../domain/serial-queue.js";
import { evaluationProblem, liveProblem, weightsProblem } from "../markets/router-state-checks.js";
import type { InferenceService } from "../serving/inference.js";
import type { RouterLog } from "./router-log.js";
import {
  classifyWindow,
  parseRegimeModel,
  readRegime,
  startRegime,
  stepRegime,
  type RegimeModel,
  type RegimeReading,
  type RegimeState,
} from "../markets/regime-classifier.js";
import { combine, learn, renormalise, weightsFor } from "../markets/router-weights.js";
import {
  declaredWeights,
  parseRouterSpec,
  type RouterAlert,
  type RouterSpec,
} from "../markets/router-spec.js";
import {
  challengerVerdict,
  compareModels,
  emptyScoreboard,
  performanceRows,
  recordRound,
  type ScoreboardState,
} from "../markets/regime-scoreboard.js";
import { qlike, squaredError } from "../markets/evaluation.js";
import type { RegimeLossAnswer } from "../pipelines/triggers/regime-loss-source.js";

/** The router itself, as a model in the evaluation. */
export const ROUTER_MODEL = "router";
/** Recent rounds kept per regime for Diebold–Mariano (at least the challenger's minSamples). */
const DEFAULT_ROUNDS_KEPT = 1000;

export interface ModelPerformance {
  readonly model: string;
  readonly n: number;
  readonly qlike: number | null;
  readonly mse: number | null;
  /** One-sided DM (HLN) p-value that this model's QLIKE is lower than the router's / the regime's champion's. */
  readonly dmVsRouter: number | null;
  readonly dmVsChampion: number | null;
}

/** Bounds the nonsense-event memory. */
const MAX_REMEMBERED = 10_000;

const NONSENSE_EVENT_EVERY_MS = 60_000;

/** `timeout`: the specialist's deployment gave up; `deadline`: the router did (its call is aborted). */
export type DropReason = "error" | "timeout" | "deadline" | "nonsense";

export interface RouterParts {
  /** The Router resource's declared spec, or null. */
  readonly specOf: (name: string) => Promise<Record<string, unknown> | null>;
  readonly names: () => Promise<string[]>;
  readonly registry: Registry;
  readonly artifacts: ArtifactStore;
  readonly inference: InferenceService;
  readonly events: EventRecorder;
  /** Regime changes, champion changes and nonsense answers as alert events (subscribers, triggers). */
  readonly alerts?: AlertSink;
  readonly clock: Clock;
  /** Answers written off the request path; the outcome join reads them back; learned state. */
  readonly log: RouterLog;
  /**
   * Runs the outcome join on one replica at a time (the routers lease); `ran: false` elsewhere.
   * Absent: always here (one process).
   */
  readonly lease?: (work: () => Promise<void>) => Promise<{ readonly ran: boolean }>;
  /**
   * The instrument's stored bars after `after` (all when undefined), oldest first, at most
   * `limit`: what `catchUp` reads when bars came through another replica. Absent: no catch-up.
   */
  readonly barsAfter?: (instrument: string, after: number | undefined, limit: number) => Promise<RouterBar[]>;
  /** Tells the other replicas a Router changed (the change feed's `routers` topic). */
  readonly announce?: () => Promise<void>;
  /**
   * The window a specialist's deployment declares for its `returns` input ([-1, w]), when every
   * variant declares the same fixed one: the router sends it the last w returns of each row.
   */
  readonly windowOf?: (deployment: string) => number | undefined;
}

/** A bar as a router observes it: its time and the log return it brings (null for the first). */
export interface RouterBar {
  readonly time: number;
  readonly return: number | null;
}

/** Bars a catch-up reads at a time. */
const CATCH_UP_CHUNK = 1000;

interface LoadedRouter {
  readonly name: string;
  readonly spec: RouterSpec;
  /** Whom its alerts reach: the spec's notifiers, parsed in the Monitors' schema. */
  readonly notifiers: readonly NotifierConfig[];
  readonly classifier: RegimeModel;
  /** The live weights per regime (declared, then learned and taken over). */
  weights: number[][];
  readonly declared: number[][];
  /** Per regime and model (the router's own answers under ROUTER_MODEL): losses and recent rounds. */
  evaluation: ScoreboardState;
  /** The instrument's live regime, when bound and bars have come. */
  live?: {
    state: RegimeState;
    reading?: RegimeReading;
    lastBar: number;
    /** The regime last announced (a RegimeChanged event): the reading must leave it surely. */
    announced?: number;
    /** Consecutive bars the reading has been surely in this other regime (regimeChange.minBars). */
    held?: { regime: number; bars: number };
  };
  /**
   * Per regime, its round count at the last takeover: the next one waits for minSamples more
   * rounds, so a champion that online learning lifts back above its challenger is not taken
   * over again on the same evidence at every outcome.
   */
  takenAt: number[];
  /**
   * Per regime, its champion's index: the largest declared weight at first, then the challenger
   * that last took the regime. Designated, not read off the live weights: online learning moves
   * weights at every outcome, and a champion that changed with them would be "taken" again and
   * again on the same evidence (and a dead specialist's kept weight would make it champion).
   */
  champions: number[];
  readonly failures: Map<string, number>;
  answers: number;
}

export interface RouterAnswerParameters {
  readonly regime: string[];
  readonly answered: string[];
  readonly weights: Record<string, number>[];
  readonly dropped: Record<string, string>;
}

/** The classifier version's regime model: the builtin artifact's `regimes` field. */
export function parseClassifierArtifact(raw: unknown): RegimeModel {
  const doc = isPlainObject(raw) && raw.regimes !== undefined ? raw.regimes : raw;
  return parseRegimeModel(doc);
}

function deadline(ms: number): { promise: Promise<"timeout">; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** The `returns` input as a flat row-major array with its shape. */
function returnsOf(body: unknown): { rows: number; window: number; data: number[]; parameters: unknown } {
  if (!isPlainObject(body) || !Array.isArray(body.inputs))
    throw invalid("expected an OIP v2 request with `inputs`");
  const input = body.inputs.find((i: unknown) => isPlainObject(i) && i.name === "returns") as
    Record<string, unknown> | undefined;
  if (input === undefined) throw invalid("a router needs the input `returns` [n, window]");
  const shape = input.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d > 0))
    throw invalid(`returns: shape must be [n, window], got ${JSON.stringify(shape)}`);
  const data = (Array.isArray(input.data) ? input.data.flat(2) : []) as unknown[];
  const [rows, window] = shape as [number, number];
  if (data.length !== rows * window)
    throw invalid(`returns: shape [${rows}, ${window}] needs ${rows * window} values, got ${data.length}`);
  data.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalid(`returns: value ${i} is not a finite number`);
  });
  return { rows, window, data: data as number[], parameters: body.parameters };
}

type SpecialistResult =
  | { readonly ok: true; readonly variance: ArrayLike<unknown>; readonly horizon: number }
  | { readonly ok: false; readonly reason: DropReason; readonly message: string };

export class RouterService {
  readonly #loaded = new Map<string, LoadedRouter>();
  readonly #loading = new Map<string, Promise<LoadedRouter | null>>();
  readonly #nonsenseAt = new Map<string, number>();
  /** Bumped by every Router change: a load begun before it is not kept (see #load). */
  #generation = 0;
  /** Per router, its observations in order (see #serially). */
  readonly #queues = new Map<string, SerialQueue>();
  /** Saved-state problems already said in a Warning event (bounded). */
  readonly #warned = new Set<string>();

  constructor(private readonly parts: RouterParts) {}

  /**
   * A specialist answered nonsense (negative or NaN variance): a Warning event, at most one a
   * minute per router and specialist so a broken model cannot flood the log.
   */
  #nonsense(router: string, specialist: string, message: string): Promise<void> | undefined {
    const key = `${router}\u0000${specialist}`;
    const now = this.parts.clock.now();
    if (now - (this.#nonsenseAt.get(key) ?? -Infinity) < NONSENSE_EVENT_EVERY_MS) return undefined;
    this.#nonsenseAt.set(key, now);
    if (this.#nonsenseAt.size > MAX_REMEMBERED) this.#nonsenseAt.clear();
    this.#alert(router, "RouterSpecialistNonsense", "warning", `${specialist} answered ${message}`, {
      specialist,
    });
    return this.parts.events
      .record({
        kind: "Router",
        name: router,
        type: "Warning",
        reason: "SpecialistNonsense",
        message: `${specialist} answered ${message}; its weight was set to 0 for that answer`,
        details: { specialist, problem: message },
      })
      .then(
        () => undefined,
        () => undefined,
      );
  }

  /** An alert event (no state, never resolves) from a router; its subscribers hear it. */
  #alert(
    router: string,
    alertname: RouterAlert,
    severity: string,
    summary: string,
    labels: Record<string, string>,
  ) {
    const notifiers = this.#loaded.get(router)?.notifiers ?? [];
    this.parts.alerts?.publish({
      source: { kind: "router", name: router },
      severity,
      labels: { alertname, router, ...labels },
      annotations: { summary },
      at: this.parts.clock.now(),
      notifiers,
    });
  }

  /** The Router resource changed: forget what was loaded (its learned state starts again). */
  /**
   * The Router resource changed (applied or deleted) through this replica: it is read again at
   * its next use, and the other replicas are told (topic `routers`) to do the same.
   */
  async changed(name: string): Promise<void> {
    this.#generation++;
    this.#loaded.delete(name);
    this.#loading.delete(name);
    await this.parts.announce?.();
  }

  /**
   * A Router changed through another replica (or changes may have been missed): every router is
   * read again from its declaration and saved state, so the replicas answer with the same spec.
   */
  async heard(): Promise<void> {
    this.#generation++;
    this.#loaded.clear();
    this.#loading.clear();
    await this.loadAll();
  }

  /** Checks what only the server can: the classifier version exists and has the router's regimes. */
  async check(_name: string, raw: Record<string, unknown>): Promise<void> {
    const spec = parseRouterSpec(raw);
    this.parts.alerts?.checkAccess(routerNotifiers(spec));
    let model: RegimeModel;
    try {
      model = await this.#classifier(spec);
    } catch (error) {
      if (isBallastError(error)) throw invalidField("classifier", error.message);
      throw error;
    }
    if (model.labels.length !== spec.regimes.length)
      throw invalidField(
        "regimes",
        `the classifier has ${model.labels.length} regimes (${model.labels.join(", ")}); the router names ${spec.regimes.length}`,
      );
  }

  async #classifier(spec: RouterSpec): Promise<RegimeModel> {
    const { model, version, alias } = spec.classifier;
    const found = await this.parts.registry.resolve(
      model,
      version !== undefined ? { version } : { alias: alias ?? "latest" },
    );
    const path = await this.parts.artifacts.ensureLocal(found.artifactSha256);
    return parseClassifierArtifact(JSON.parse(await readFile(path, "utf8")) as unknown);
  }

  /** The router, or undefined when `name` is not one (then it may be a deployment). */
  /**
   * Loads every declared router, as a start does: its series are on /metrics (and its saved
   * state checked) from the start, not only after its first answer or bar. One that cannot load
   * (its classifier gone) is left to say so when it is asked for.
   */
  async loadAll(): Promise<void> {
    for (const name of await this.parts.names()) await this.find(name).catch(() => undefined);
  }

  async find(name: string): Promise<LoadedRouter | undefined> {
    const loaded = this.#loaded.get(name);
    if (loaded !== undefined) return loaded;
    let loading = this.#loading.get(name);
    if (loading === undefined) {
      loading = this.#load(name);
      this.#loading.set(name, loading);
    }
    try {
      return (await loading) ?? undefined;
    } finally {
      this.#loading.delete(name);
    }
  }

  async #load(name: string): Promise<LoadedRouter | null> {
    // A change heard while this load reads is newer than what it read: it answers its caller
    // but is not kept, so the next use reads again (else a stale spec would be served on).
    const generation = this.#generation;
    const raw = await this.parts.specOf(name);
    if (raw === null) return null;
    const spec = parseRouterSpec(raw);
    const classifier = await this.#classifier(spec);
    const declared = declaredWeights(spec);
    const router: LoadedRouter = {
      name,
      spec,
      notifiers: routerNotifiers(spec),
      classifier,
      declared,
      weights: declared.map((r) => [...r]),
      evaluation: emptyScoreboard(
        [ROUTER_MODEL, ...spec.specialists.map((s) => s.name)],
        spec.regimes,
        Math.max(DEFAULT_ROUNDS_KEPT, spec.challenger?.minSamples ?? 0),
      ),
      takenAt: spec.regimes.map(() => 0),
      champions: declared.map(largest),
      failures: new Map(),
      answers: 0,
    };
    await this.#restore(router, true);
    if (generation === this.#generation) this.#loaded.set(name, router);
    return router;
  }

  /**
   * Puts the router's saved state back (see `restore`); a part of it not trusted is reset and
   * said in a Warning event, so a corrupt row is seen rather than silently obeyed or forgotten.
   */
  async #restore(router: LoadedRouter, withLive: boolean): Promise<void> {
    const problems = restore(router, await this.parts.log.loadState(router.name), withLive);
    for (const problem of problems) {
      // Replicas without the lease read the state back at every bar: one warning per problem.
      const key = `${router.name}\u0000${problem.field}\u0000${problem.message}`;
      if (this.#warned.has(key)) continue;
      if (this.#warned.size >= 1000) this.#warned.clear();
      this.#warned.add(key);
      // The router serves on whether or not the warning can be written.
      await this.parts.events
        .record({
          kind: "Router",
          name: router.name,
          type: "Warning",
          reason: "SavedStateReset",
          message: `saved state of router ${router.name}: ${problem.message}; ${problem.reset}`,
          details: { field: problem.field, problem: problem.message },
        })
        .catch(() => undefined);
    }
  }

  async #get(name: string): Promise<LoadedRouter> {
    const router = await this.find(name);
    if (router === undefined) throw notFound(`no router '${name}'`);
    return router;
  }

  /** OIP model metadata for GET /v2/models/{router}. */
  async metadata(name: string) {
    const r = await this.#get(name);
    return {
      name,
      versions: [],
      platform: "ballast_router",
      inputs: [{ name: "returns", datatype: "FP64", shape: [-1, -1] }],
      outputs: [
        { name: "variance", datatype: "FP64", shape: [-1, -1] },
        { name: "regime", datatype: "INT64", shape: [-1] },
        { name: "regime_probability", datatype: "FP64", shape: [-1] },
      ],
      parameters: { regimes: r.spec.regimes, specialists: r.spec.specialists.map((s) => s.name) },
    };
  }

  /** `POST /v2/models/{router}/infer`. */
  async infer(name: string, body: unknown, requestId: string) {
    const router = await this.#get(name);
    const { spec, classifier } = router;
    const request = returnsOf(body);
    const { rows, window, data } = request;

    // The regime per row: the instrument's live one when bound and fed, else the row's window
    // read from the classifier's prior (stateless: every replica agrees).
    // The request's returns are in the specialists' units (scale x the raw return); the
    // classifier applies its own scale to raw returns, so it reads them divided back.
    const raw = router.live === undefined && spec.scale !== 1 ? data.map((v) => v / spec.scale) : data;
    const readings: RegimeReading[] = [];
    for (let r = 0; r < rows; r++)
      readings.push(router.live?.reading ?? classifyWindow(classifier, raw, r * window, window));

    const names = spec.specialists.map((s) => s.name);
    const forward = { inputs: [{ name: "returns", datatype: "FP64", shape: [rows, window], data }] };
    // A specialist that reads fewer returns (an LSTM of 20 beside a HAR-RV of 22) gets the most
    // recent ones of each row; one that needs more is sent the whole row and refuses it itself.
    const bodyFor = (deployment: string) => {
      const w = this.parts.windowOf?.(deployment);
      if (w === undefined || w >= window) return forward;
      return {
        inputs: [
          { name: "returns", datatype: "FP64", shape: [rows, w], data: lastColumns(data, rows, window, w) },
        ],
      };
    };
    const timer = deadline(spec.deadlineMs);
    // Aborted at the deadline: an http specialist's request is closed rather than left running.
    const giveUp = new AbortController();
    const results = await Promise.all(
      spec.specialists.map(async (s): Promise<SpecialistResult> => {
        const call = this.parts.inference
          .infer(s.deployment, undefined, bodyFor(s.deployment), `${requestId}.${s.name}`, {}, giveUp.signal)
          .then(
            (response): SpecialistResult => {
              const out = response.outputs.find((o) => o.name === "variance") ?? response.outputs[0];
              if (out === undefined || out.shape.length !== 2 || out.shape[0] !== rows)
                return { ok: false, reason: "nonsense", message: "no variance [n, horizon] in the answer" };
              return { ok: true, variance: out.data, horizon: out.shape[1] as number };
            },
            (error: unknown): SpecialistResult => ({
              ok: false,
              reason: isBallastError(error) && error.code === "timeout" ? "timeout" : "error",
              message: error instanceof Error ? error.message : String(error),
            }),
          );
        const first = await Promise.race([call, timer.promise]);
        return first === "timeout"
          ? { ok: false, reason: "deadline", message: `no answer within ${spec.deadlineMs} ms` }
          : first;
      }),
    );
    timer.cancel();
    if (results.some((r) => !r.ok && r.reason === "deadline"))
      giveUp.abort(new BallastError("timeout", `router '${name}' deadline of ${spec.deadlineMs} ms passed`));

    const dropped: Record<string, string> = {};
    // Rare (at most one a minute per specialist): awaited so the event is there with the answer.
    const warnings: Promise<void>[] = [];
    const drop = (i: number, reason: DropReason, message: string) => {
      const s = names[i] as string;
      if (dropped[s] === undefined) {
        dropped[s] = `${reason}: ${message}`;
        const key = `${s}\u0000${reason}`;
        router.failures.set(key, (router.failures.get(key) ?? 0) + 1);
        const noted = reason === "nonsense" ? this.#nonsense(name, s, message) : undefined;
        if (noted !== undefined) warnings.push(noted);
      }
    };
    results.forEach((res, i) => {
      if (!res.ok) drop(i, res.reason, res.message);
    });
    const horizons = results.filter((r) => r.ok).map((r) => (r as { horizon: number }).horizon);
    const horizon = horizons.length === 0 ? 1 : Math.min(...horizons);

    const variance: number[] = [];
    const usedWeights: Record<string, number>[] = [];
    const h1: Record<string, number>[] = [];
    for (let r = 0; r < rows; r++) {
      const reading = readings[r] as RegimeReading;
      const answered = results.map((res, i) => {
        if (!res.ok) return false;
        for (let k = 0; k < horizon; k++) {
          const v = res.variance[r * res.horizon + k];
          if (typeof v !== "number" || !Number.isFinite(v) || !(v > 0)) {
            drop(i, "nonsense", `variance ${String(v)} at row ${r + 1}`);
            return false;
          }
        }
        return true;
      });
      const weights = renormalise(weightsFor(spec.mode, router.weights, reading.probabilities), answered);
      if (weights === undefined) {
        const why = Object.entries(dropped)
          .map(([s, m]) => `${s}: ${m}`)
          .join("; ");
        throw new BallastError(
          "unavailable",
          `router '${name}': no specialist with weight answered (${why || "none has weight"})`,
          { dropped },
        );
      }
      const forecasts: Record<string, number> = {};
      for (let k = 0; k < horizon; k++) {
        const column = results.map((res) => (res.ok ? (res.variance[r * res.horizon + k] as number) : NaN));
        variance.push(combine(weights, column));
        if (k === 0) column.forEach((f, i) => answered[i] && (forecasts[names[i] as string] = f));
      }
      forecasts[ROUTER_MODEL] = variance[r * horizon] as number;
      h1.push(forecasts);
      const used: Record<string, number> = {};
      weights.forEach((w, i) => w > 0 && (used[names[i] as string] = w));
      usedWeights.push(used);
    }
    router.answers++;
    if (warnings.length > 0) await Promise.all(warnings);
    this.#remember(router, requestId, request.parameters, readings, usedWeights, h1);

    const parameters: RouterAnswerParameters = {
      regime: readings.map((x) => x.label),
      answered: names.filter((_, i) => results[i]?.ok === true && dropped[names[i] as string] === undefined),
      weights: usedWeights,
      dropped,
    };
    return {
      model_name: name,
      id: requestId,
      parameters,
      outputs: [
        { name: "variance", datatype: "FP64", shape: [rows, horizon], data: variance },
        { name: "regime", datatype: "INT64", shape: [rows], data: readings.map((x) => x.regime) },
        {
          name: "regime_probability",
          datatype: "FP64",
          shape: [rows],
          data: readings.map((x) => x.probabilities[x.regime] as number),
        },
      ],
    };
  }

  /** Logs the last row's answer (its h = 1 forecasts) for its outcome, when it has an origin. */
  #remember(
    router: LoadedRouter,
    requestId: string,
    parameters: unknown,
    readings: readonly RegimeReading[],
    weights: readonly Record<string, number>[],
    forecasts: readonly Record<string, number>[],
  ): void {
    const given = isPlainObject(parameters) ? parameters.origin : undefined;
    const origin =
      router.live?.lastBar ?? (typeof given === "number" && Number.isFinite(given) ? given : null);
    const last = readings.length - 1;
    const reading = readings[last] as RegimeReading;
    this.parts.log.append({
      router: router.name,
      requestId,
      at: this.parts.clock.now(),
      origin,
      regime: reading.regime,
      probabilities: reading.probabilities,
      weights: weights[last] as Record<string, number>,
      forecasts: forecasts[last] as Record<string, number>,
    });
  }

  /**
   * Bars of an instrument, oldest first, each with its log return (null for the first). For
   * every router bound to it: outcomes joined, losses recorded, weights learned, challengers
   * judged, and the live regime moved on.
   */
  async observeBars(instrument: string, bars: readonly RouterBar[]) {
    for (const name of await this.parts.names()) {
      const router = await this.find(name).catch(() => undefined);
      if (router === undefined || router.spec.instrument !== instrument) continue;
      await this.#serially(name, () => this.#observeAll(router, bars));
    }
  }

  /**
   * Bars appended through another replica (heard on the change feed): every router bound to an
   * instrument reads the stored bars after the last one it has seen and observes them, so the
   * lease holder joins their outcomes, and every replica's live regime moves, whichever replica
   * took the POST. A bar already seen is skipped, so hearing a change twice is harmless.
   */
  async catchUp(): Promise<void> {
    const barsAfter = this.parts.barsAfter;
    if (barsAfter === undefined) return;
    for (const name of await this.parts.names()) {
      const router = await this.find(name).catch(() => undefined);
      const instrument = router?.spec.instrument;
      if (router === undefined || instrument === undefined) continue;
      await this.#serially(name, async () => {
        for (;;) {
          const bars = await barsAfter(instrument, router.live?.lastBar, CATCH_UP_CHUNK);
          if (bars.length > 0) await this.#observeAll(router, bars);
          if (bars.length < CATCH_UP_CHUNK) return;
        }
      });
    }
  }

  /** One router's observations one batch at a time: a catch-up and a POST never interleave. */
  #serially<T>(name: string, work: () => Promise<T>): Promise<T> {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new SerialQueue();
      this.#queues.set(name, queue);
    }
    return queue.run(work);
  }

  async #observeAll(router: LoadedRouter, bars: readonly RouterBar[]): Promise<void> {
    const lease = this.parts.lease ?? (async (work: () => Promise<void>) => (await work(), { ran: true }));
    const held = await lease(async () => {
      await this.parts.log.flush();
      for (const bar of bars) await this.#observe(router, bar, true);
      await this.parts.log.saveState(router.name, saved(router), this.parts.clock.now());
    });
    if (held.ran) return;
    // Elsewhere: the live regime moves on alike (the same bars, the same filter); weights and
    // evaluation are the lease holder's, read back from the store.
    for (const bar of bars) await this.#observe(router, bar, false);
    await this.#restore(router, false);
  }

  async #observe(
    router: LoadedRouter,
    bar: { time: number; return: number | null },
    holder: boolean,
  ): Promise<void> {
    const { spec } = router;
    const previous = router.live?.lastBar;
    // Seen already (through this replica, or a catch-up that overlapped a POST): once is all.
    if (previous !== undefined && bar.time <= previous) return;
    if (holder && bar.return !== null && Number.isFinite(bar.return) && previous !== undefined) {
      const realized = (spec.scale * bar.return) ** 2;
      for (const answer of await this.parts.log.madeAt(router.name, previous))
        await this.#outcome(router, answer.regime, answer.forecasts, realized);
    }
    // The live regime: the filter moved on by this bar's return.
    let state = router.live?.state ?? startRegime(router.classifier);
    if (bar.return !== null && Number.isFinite(bar.return)) {
      try {
        state = stepRegime(router.classifier, state, bar.return);
      } catch {
        // a return impossible under every regime leaves the reading where it was
      }
    }
    // Undefined while a rules classifier warms up: answers then read each request's window.
    const reading = readRegime(router.classifier, state);
    // Announced once it has differed from the last announced regime with at least
    // minProbability for minBars bars in a row, so a filter wavering around 0.5, or a one-day
    // spike, does not make an event (and an alert) every other bar.
    const announced = router.live?.announced ?? router.live?.reading?.regime;
    const probability = reading === undefined ? 0 : (reading.probabilities[reading.regime] as number);
    const sure =
      reading !== undefined &&
      announced !== undefined &&
      reading.regime !== announced &&
      probability >= spec.regimeChange.minProbability;
    const before = router.live?.held;
    const held = sure
      ? { regime: reading.regime, bars: before?.regime === reading.regime ? before.bars + 1 : 1 }
      : undefined;
    const changed = held !== undefined && held.bars >= spec.regimeChange.minBars;
    const now = changed || announced === undefined ? reading?.regime : announced;
    router.live = {
      state,
      ...(reading === undefined ? {} : { reading }),
      lastBar: bar.time,
      ...(now === undefined ? {} : { announced: now }),
      ...(held === undefined || changed ? {} : { held }),
    };
    if (holder && changed && announced !== undefined && reading !== undefined) {
      const from = spec.regimes[announced] as string;
      const to = spec.regimes[reading.regime] as string;
      await this.parts.events.record({
        kind: "Router",
        name: router.name,
        reason: "RegimeChanged",
        message: `${spec.instrument ?? ""} turned ${to} (from ${from}, p = ${probability.toFixed(3)})`,
        details: { instrument: spec.instrument, from, to, probability, at: bar.time },
      });
      this.#alert(
        router.name,
        "RegimeChanged",
        "info",
        `${spec.instrument ?? ""} turned ${to} (from ${from})`,
        {
          instrument: spec.instrument ?? "",
          from,
          to,
        },
      );
    }
  }

  async #outcome(
    router: LoadedRouter,
    regime: number,
    forecasts: Readonly<Record<string, number>>,
    realized: number,
  ): Promise<void> {
    const { spec } = router;
    if (regime < 0 || regime >= spec.regimes.length) return; // made under another spec
    const p = { regime };
    const names = spec.specialists.map((s) => s.name);
    recordRound(
      router.evaluation,
      regime,
      realized,
      router.evaluation.models.map((m) => forecasts[m]),
    );
    if (spec.learning !== undefined) {
      const loss = spec.learning.loss === "mse" ? squaredError : qlike;
      const losses = names.map((s) => {
        const f = forecasts[s];
        return f !== undefined && f > 0 && realized > 0 ? loss(realized, f) : NaN;
      });
      router.weights[p.regime] = learn(spec.learning, router.weights[p.regime] as number[], losses);
    }
    if (spec.challenger === undefined) return;
    const rounds = roundsIn(router.evaluation, regime);
    if (rounds - (router.takenAt[regime] ?? 0) < spec.challenger.minSamples) return;
    const weights = router.weights[p.regime] as number[];
    const champion = names[router.champions[regime] as number] as string;
    const verdict = challengerVerdict(router.evaluation, spec.regimes[regime] as string, champion, {
      alpha: spec.challenger.alpha,
      minSamples: spec.challenger.minSamples,
      candidates: names,
    });
    if (verdict === undefined) return;
    const c = names.indexOf(verdict.challenger);
    const o = names.indexOf(champion);
    if (spec.challenger.action === "route") {
      router.weights[p.regime] = names.map((_, i) => (i === c ? 1 : 0));
    } else {
      // The challenger takes the champion's weight and the champion the challenger's.
      const next = [...weights];
      next[c] = weights[o] as number;
      next[o] = weights[c] as number;
      router.weights[p.regime] = next;
    }
    router.takenAt[p.regime] = rounds;
    router.champions[p.regime] = c;
    const label = spec.regimes[p.regime] as string;
    await this.parts.events.record({
      kind: "Router",
      name: router.name,
      reason: "RegimeChampionChanged",
      message: `${verdict.challenger} took ${label} from ${champion} (DM p = ${verdict.pValue.toPrecision(3)}, n = ${verdict.n})`,
      details: {
        regime: label,
        old: champion,
        new: verdict.challenger,
        pValue: verdict.pValue,
        n: verdict.n,
      },
    });
    this.#alert(
      router.name,
      "RegimeChampionChanged",
      "info",
      `${verdict.challenger} took ${label} from ${champion}`,
      {
        regime: label,
        old: champion,
        new: verdict.challenger,
      },
    );
  }

  /** GET /api/v1/routers. */
  async list() {
    const out = [];
    for (const name of await this.parts.names()) {
      const r = await this.find(name).catch(() => undefined);
      out.push({
        name,
        mode: r?.spec.mode ?? null,
        instrument: r?.spec.instrument ?? null,
        regime: r?.live?.reading?.label ?? null,
        specialists: r?.spec.specialists.map((s) => s.name) ?? [],
        answers: r?.answers ?? 0,
      });
    }
    return { routers: out };
  }

  /** GET /api/v1/routers/{name}. */
  async describe(name: string) {
    const r = await this.#get(name);
    const names = r.spec.specialists.map((s) => s.name);
    const table = (t: number[][]) =>
      Object.fromEntries(
        r.spec.regimes.map((g, k) => [g, Object.fromEntries(names.map((s, i) => [s, t[k]?.[i]]))]),
      );
    return {
      name,
      spec: r.spec,
      live:
        r.live?.reading === undefined
          ? null
          : {
              regime: r.live.reading.label,
              probabilities: Object.fromEntries(
                r.spec.regimes.map((g, k) => [g, r.live?.reading?.probabilities[k]]),
              ),
              lastBar: r.live.lastBar,
            },
      weights: { declared: table(r.declared), live: table(r.weights) },
      champions: Object.fromEntries(r.spec.regimes.map((g, k) => [g, names[r.champions[k] as number]])),
      specialists: r.spec.specialists.map((s) => ({
        ...s,
        failures: Object.fromEntries(
          [...r.failures]
            .filter(([k]) => k.startsWith(`${s.name}\u0000`))
            .map(([k, n]) => [k.split("\u0000")[1], n]),
        ),
      })),
      answers: r.answers,
      log: this.parts.log.stats(),
    };
  }

  /** A router's newest logged answers (regime, probabilities, weights), oldest first. */
  async recentAnswers(name: string, limit: number) {
    await this.#get(name);
    // What this replica still holds in its queue is written first, so the page is current.
    await this.parts.log.flush();
    return this.parts.log.recent(name, limit);
  }

  /** The regime classifier a router reads (its transition matrix, for the dashboard). */
  async classifierOf(name: string): Promise<RegimeModel> {
    return (await this.#get(name)).classifier;
  }

  /** GET /api/v1/routers/{name}/performance?by=regime: per regime, then "all". */
  async performance(name: string): Promise<{ name: string; regimes: Record<string, ModelPerformance[]> }> {
    const r = await this.#get(name);
    return { name, regimes: this.#performance(r) };
  }

  #performance(r: LoadedRouter): Record<string, ModelPerformance[]> {
    const names = r.spec.specialists.map((s) => s.name);
    const board = r.evaluation;
    const out: Record<string, ModelPerformance[]> = {};
    const p = (regime: string, a: string, b: string) =>
      a === b ? null : (compareModels(board, regime, a, b, { alternative: "less" })?.pValue ?? null);
    for (const row of performanceRows(board)) {
      const k = r.spec.regimes.indexOf(row.regime);
      // Over all regimes there is no champion.
      const champion = k < 0 ? undefined : names[r.champions[k] as number];
      (out[row.regime] ??= []).push({
        model: row.model,
        n: row.n,
        qlike: row.qlike,
        mse: row.mse,
        dmVsRouter: p(row.regime, row.model, ROUTER_MODEL),
        dmVsChampion: champion === undefined ? null : p(row.regime, row.model, champion),
      });
    }
    return out;
  }

  /**
   * The router's per-regime scoreboard for a `regimeLoss` trigger: as last saved by the holder of
   * the routers lease (the trigger runs on the pipelines lease's, maybe another replica), else
   * this replica's own.
   */
  async evaluation(name: string): Promise<RegimeLossAnswer> {
    let r: LoadedRouter | undefined;
    try {
      r = await this.find(name);
    } catch (error) {
      return {
        problem: `router ${name} cannot be loaded: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    if (r === undefined) return { problem: `no router ${name}` };
    const stored = await this.parts.log.loadState(name);
    const board =
      isPlainObject(stored) && sameLearning(stored.spec, r.spec)
        ? (stored as unknown as ReturnType<typeof saved>).evaluation
        : r.evaluation;
    return { regimes: r.spec.regimes, specialists: r.spec.specialists.map((s) => s.name), board };
  }

  /** For the metrics: each loaded router's live numbers, read at scrape time. */
  snapshot() {
    return [...this.#loaded.values()].map((r) => {
      const names = r.spec.specialists.map((s) => s.name);
      return {
        router: r.name,
        regimes: r.spec.regimes,
        specialists: names,
        weights: r.weights,
        probabilities: r.live?.reading?.probabilities ?? null,
        failures: [...r.failures].map(([k, n]) => {
          const [specialist, reason] = k.split("\u0000") as [string, string];
          return { specialist, reason, n };
        }),
        performance: ((perf) => r.spec.regimes.map((g) => perf[g] ?? []))(this.#performance(r)),
        logDropped: this.parts.log.stats().dropped,
      };
    });
  }
}

/** The spec's notifiers in the Monitors' schema; errors name the field (`notifiers[0].url`). */
function routerNotifiers(spec: RouterSpec): NotifierConfig[] {
  return parseNotifierList(spec.notifiers);
}

/** Whether a saved state was learned under this spec: whom alerts reach does not change what was learned. */
function sameLearning(saved: unknown, spec: RouterSpec): boolean {
  const learning = (x: unknown) =>
    JSON.stringify({ ...(x as Record<string, unknown>), notifiers: undefined });
  return isPlainObject(saved) && learning(saved) === learning(spec);
}

/** What is saved of a router: its spec (a changed spec starts afresh), weights, evaluation, live filter. */
function saved(r: LoadedRouter) {
  return {
    spec: r.spec,
    weights: r.weights,
    evaluation: r.evaluation,
    live: r.live ?? null,
    takenAt: r.takenAt,
    champions: r.champions,
  };
}

/**
 * The rounds judged in a regime so far: its most-scored model's count. Read from a saved
 * evaluation too, so a board without its counts is 0 rounds rather than a throw.
 */
function roundsIn(evaluation: ScoreboardState, regime: number): number {
  const counts: unknown = (evaluation.totals as ScoreboardState["totals"] | undefined)?.[regime]?.n;
  return Array.isArray(counts) ? Math.max(0, ...counts.filter((n): n is number => typeof n === "number")) : 0;
}

interface RestoreProblem {
  readonly field: string;
  readonly message: string;
  /** What the router does instead. */
  readonly reset: string;
}

/**
 * Puts a saved state back when it was saved under the same spec; `live` too unless told not to.
 * Returns what of it was not trusted, each reset to its fresh value instead.
 */
function restore(r: LoadedRouter, raw: unknown, withLive = true): RestoreProblem[] {
  if (!isPlainObject(raw) || !sameLearning(raw.spec, r.spec)) return [];
  const state = raw as unknown as ReturnType<typeof saved>;
  const problems: RestoreProblem[] = [];
  const regimes = r.spec.regimes.length;
  const weights = weightsProblem(raw.weights, regimes, r.spec.specialists.length);
  if (weights === undefined) r.weights = state.weights.map((row) => [...row]);
  else problems.push({ field: "weights", message: weights, reset: "the declared weights stand" });
  const evaluation = evaluationProblem(raw.evaluation, r.evaluation);
  if (evaluation === undefined) r.evaluation = state.evaluation;
  else problems.push({ field: "evaluation", message: evaluation, reset: "outcomes are counted afresh" });
  if (withLive) {
    const live = liveProblem(raw.live);
    if (live !== undefined)
      problems.push({
        field: "live",
        message: live,
        reset: "the live regime starts again from the next bar",
      });
    else if (state.live !== null) r.live = state.live;
  }
  // Saved before takeovers were remembered: none counted.
  if (raw.takenAt !== undefined) {
    // Trusted, a count beyond the rounds seen would keep the challenger from judging for as many
    // rounds, and a non-number would never hold it back: counted afresh instead.
    const problem = perRegimeProblem("takenAt", "a whole number of rounds", raw.takenAt, regimes, (g) =>
      roundsIn(r.evaluation, g),
    );
    r.takenAt = problem === undefined ? [...state.takenAt] : r.spec.regimes.map(() => 0);
    if (problem !== undefined)
      problems.push({ field: "takenAt", message: problem, reset: "takeovers are counted afresh from 0" });
  }
  // Saved before champions were designated: the declared ones stand.
  if (raw.champions !== undefined) {
    const specialists = r.spec.specialists.length;
    const problem = perRegimeProblem(
      "champions",
      "a specialist's index",
      raw.champions,
      regimes,
      () => specialists - 1,
    );
    r.champions = problem === undefined ? [...state.champions] : r.declared.map(largest);
    if (problem !== undefined)
      problems.push({ field: "champions", message: problem, reset: "the declared champions stand" });
  }
  return problems;
}

/**
 * Why a saved per-regime list cannot be trusted, or undefined: it must hold one whole number per
 * regime, from 0 to `most(regime)` (for takenAt, the rounds the regime has seen).
 */
function perRegimeProblem(
  field: string,
  what: string,
  values: unknown,
  regimes: number,
  most: (regime: number) => number,
): string | undefined {
  if (!Array.isArray(values) || values.length !== regimes)
    return `${field} must hold ${what} per regime (${regimes}), got ${shown(values)}`;
  for (const [regime, n] of values.entries()) {
    const max = most(regime);
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max)
      return `${field}[${regime}] must be ${what} from 0 to ${max}, got ${shown(n)}`;
  }
  return undefined;
}

export type RouterSnapshot = ReturnType<RouterService["snapshot"]>[number];

/** The index of the largest weight (the first of equals): a regime's champion as declared. */
function largest(weights: readonly number[]): number {
  let top = 0;
  for (let i = 1; i < weights.length; i++) if ((weights[i] as number) > (weights[top] as number)) top = i;
  return top;
}

/** Each row's last `w` of its `window` columns, row-major. */
export function lastColumns(data: ArrayLike<number>, rows: number, window: number, w: number): number[] {
  const out = new Array<number>(rows * w);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < w; c++) out[r * w + c] = data[r * window + (window - w) + c] as number;
  return out;
}
