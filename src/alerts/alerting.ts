/**
 * The one alerting service. Drift windows, performance buckets and rollouts publish what they
 * observe, named by their source (kind + name) and the alert's identity within it; the service
 * owns every alert's state (one book per source, so two sources never share an identity), runs
 * the pure lifecycle, queues what is due on one dispatcher per notifier configuration (bounded
 * queue, retries with backoff; a receiver named by several sources keeps one ordered queue), and
 * tells in-process subscribers (retraining triggers) beside the notifiers.
 *
 * Publishing never throws and never waits: a notifier that cannot be built, or a subscriber that
 * throws (or rejects), is counted and skipped, and the others still hear of the alert.
 */
import { AlertBook, alertIdentity, type IdentifiedAction } from "./alert-book.js";
import {
  Dispatcher,
  type DispatcherOptions,
  type DispatcherStats,
  type NotifierStats,
} from "./dispatcher.js";
import type { AlertPhase, AlertRule, AlertState } from "./lifecycle.js";
import { notificationFor } from "./notification.js";
import type { AlertNotification } from "./notifier.js";
import { checkNotifierAccess, createNotifier, type NotifierConfig } from "./notifiers/index.js";
import { ANYWHERE, type RemoteAccess } from "../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../domain/secret-access.js";

export type AlertSourceKind = "drift" | "performance" | "rollout" | "registry" | "router";

/** Who publishes: a drift or performance monitor by its name, a rollout by its deployment. */
export interface AlertSource {
  readonly kind: AlertSourceKind;
  readonly name: string;
}

/** A condition that holds or not at each observation; it goes through the lifecycle. */
export interface AlertCondition {
  readonly breached: boolean;
  readonly value: number;
  readonly threshold: number;
  readonly rule: AlertRule;
}

export interface AlertPublication {
  readonly source: AlertSource;
  readonly severity: string;
  /**
   * The labels that identify the alert (alertname, deployment, variant, feature, metric…); the
   * severity is added to them, and the identity is computed from them (see alertIdentity).
   */
  readonly labels: Readonly<Record<string, string>>;
  /** Summary, description, link…; a condition's score and threshold are added. */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly generatorUrl?: string;
  /** Epoch ms of the observation (the end of the window, the evaluation, the transition). */
  readonly at: number;
  /**
   * Absent for an event (a rollback, a rollout waiting for a person): it is sent once as firing,
   * keeps no state and never resolves.
   */
  readonly condition?: AlertCondition;
  /** Where it goes; none still reaches the subscribers. */
  readonly notifiers: readonly NotifierConfig[];
}

export interface Published {
  readonly identity: string;
  /** The alert's phase after this observation; null for an event. */
  readonly phase: AlertPhase | null;
  /** Whether the phase changed (a new alert counts as changed). */
  readonly changed: boolean;
}

/** What a subscriber hears: the same notification the notifiers get, with its source. */
export interface AlertTransition {
  readonly type: "fired" | "repeated" | "resolved";
  readonly source: AlertSource;
  readonly identity: string;
  readonly notification: AlertNotification;
}

export type AlertSubscriber = (transition: AlertTransition) => void | Promise<void>;

export interface AlertSummary {
  readonly identity: string;
  readonly phase: AlertPhase;
  readonly since: number;
}

/** One alert's state as a checkpoint saves it. */
export interface SourcedAlertState {
  readonly source: AlertSource;
  readonly identity: string;
  readonly state: AlertState;
}

/** What publishers (monitors, rollouts) depend on; the composition root gives them the service. */
export interface AlertSink {
  publish(publication: AlertPublication): Published;
  /** The alerts of one source, as status pages show them. */
  alerts(source: AlertSource): AlertSummary[];
  /** Delivery counters of the notifiers named (zeros for one that has sent nothing yet). */
  delivery(notifiers: readonly NotifierConfig[]): DispatcherStats;
  /** Refuses, with a 400 naming the field, notifiers this server may not send to. */
  checkAccess(notifiers: readonly NotifierConfig[]): void;
  /** Drops a source's alerts (its monitor was deleted or replaced), and notifiers no one names. */
  forget(source: AlertSource): void;
  /** Resolves once every queued notification has been tried (tests, shutdown). */
  idle(): Promise<void>;
}

export interface AlertServiceOptions {
  /** Where notifiers may send (`--allow-remote`), checked at each send. */
  readonly remoteAccess?: RemoteAccess;
  /** What notifiers may read as secrets (`--secrets-dir`, `--secret-env`), checked at apply and send. */
  readonly secretAccess?: SecretAccess;
  /** Queue, retry and time settings of every dispatcher. */
  readonly dispatch?: Omit<DispatcherOptions, "notifiers">;
}

export interface AlertServiceStats {
  readonly subscribers: number;
  /** Subscriber calls that threw or rejected. */
  readonly subscriberErrors: number;
  readonly lastSubscriberError: string | null;
  /** Notifier configurations that could not be built (their notifications were not sent). */
  readonly notifierErrors: number;
  readonly lastNotifierError: string | null;
}

interface SourceBook {
  readonly source: AlertSource;
  readonly book: AlertBook;
}

const TRANSITIONS: Readonly<Record<IdentifiedAction["type"], AlertTransition["type"]>> = {
  "notify-firing": "fired",
  renotify: "repeated",
  "notify-resolved": "resolved",
};

export class AlertService implements AlertSink {
  readonly #books = new Map<string, SourceBook>();
  /** Notifier configuration (as JSON) -> its dispatcher. */
  readonly #dispatchers = new Map<string, Dispatcher>();
  /** Source -> the notifier configurations it last published to, so unused ones are closed. */
  readonly #uses = new Map<string, Set<string>>();
  readonly #subscribers = new Set<AlertSubscriber>();
  readonly #remoteAccess: RemoteAccess;
  readonly #secretAccess: SecretAccess;
  readonly #dispatch: Omit<DispatcherOptions, "notifiers">;
  #subscriberErrors = 0;
  #lastSubscriberError: string | null = null;
  #notifierErrors = 0;
  #lastNotifierError: string | null = null;
  #closed = false;

  constructor(options: AlertServiceOptions = {}) {
    this.#remoteAccess = options.remoteAccess ?? ANYWHERE;
    this.#secretAccess = options.secretAccess ?? DEFAULT_SECRET_ACCESS;
    this.#dispatch = options.dispatch ?? {};
  }

  publish(publication: AlertPublication): Published {
    const { source, condition } = publication;
    const labels = { ...publication.labels, severity: publication.severity };
    const identity = alertIdentity(labels);
    const description = {
      labels,
      ...(publication.annotations === undefined ? {} : { annotations: publication.annotations }),
      ...(publication.generatorUrl === undefined ? {} : { generatorUrl: publication.generatorUrl }),
    };
    const notifiers = this.#use(source, publication.notifiers);
    if (condition === undefined) {
      const notification: AlertNotification = {
        status: "firing",
        identity,
        labels,
        annotations: { ...publication.annotations },
        startsAt: publication.at,
        ...(publication.generatorUrl === undefined ? {} : { generatorUrl: publication.generatorUrl }),
      };
      this.#deliver(notifiers, { type: "fired", source, identity, notification });
      return { identity, phase: null, changed: false };
    }
    const { book } = this.#bookOf(source, true) as SourceBook;
    const before = book.get(identity)?.phase;
    const actions = book.observe(
      identity,
      {
        breached: condition.breached,
        value: condition.value,
        threshold: condition.threshold,
        at: publication.at,
      },
      condition.rule,
    );
    const phase = book.get(identity)?.phase as AlertPhase;
    for (const action of actions) {
      const notification = notificationFor(action, description);
      this.#deliver(notifiers, { type: TRANSITIONS[action.type], source, identity, notification });
    }
    return { identity, phase, changed: phase !== before };
  }

  /**
   * Registers an in-process subscriber, told of every firing, repeat and resolve (and event)
   * synchronously, after the notifications are queued. Returns the way to unsubscribe.
   */
  subscribe(subscriber: AlertSubscriber): () => void {
    this.#subscribers.add(subscriber);
    return () => void this.#subscribers.delete(subscriber);
  }

  alerts(source: AlertSource): AlertSummary[] {
    return this.#bookOf(source, false)?.book.summary() ?? [];
  }

  /** Alerts pending or firing now, of every source. */
  open(): Array<AlertSummary & { source: AlertSource }> {
    return [...this.#books.values()].flatMap(({ source, book }) =>
      book
        .summary()
        .filter((a) => a.phase === "pending" || a.phase === "firing")
        .map((a) => ({ source, ...a })),
    );
  }

  delivery(notifiers: readonly NotifierConfig[]): DispatcherStats {
    const total = { sent: 0, failed: 0, retried: 0, dropped: 0 };
    const byName: Record<string, NotifierStats> = {};
    for (const config of notifiers) {
      const stats = this.#dispatchers.get(JSON.stringify(config))?.stats().notifiers[config.name] ?? {
        kind: config.kind,
        sent: 0,
        failed: 0,
        retried: 0,
        dropped: 0,
        queued: 0,
      };
      byName[config.name] = stats;
      total.sent += stats.sent;
      total.failed += stats.failed;
      total.retried += stats.retried;
      total.dropped += stats.dropped;
    }
    return { total, notifiers: byName };
  }

  checkAccess(notifiers: readonly NotifierConfig[]): void {
    checkNotifierAccess(notifiers, this.#remoteAccess, "notifiers", this.#secretAccess);
  }

  forget(source: AlertSource): void {
    this.#books.delete(sourceKey(source));
    this.#use(source, []);
    this.#uses.delete(sourceKey(source));
  }

  /** Every alert's state, for a checkpoint (events keep none). */
  states(): SourcedAlertState[] {
    return [...this.#books.values()].flatMap(({ source, book }) =>
      [...book.entries()].map(([identity, state]) => ({ source, identity, state })),
    );
  }

  /**
   * Puts back states saved before a restart, so an alert that was firing is not fired again
   * (receivers would see a duplicate) and one that had resolved keeps its cooldown.
   */
  restore(states: readonly SourcedAlertState[]): void {
    for (const { source, identity, state } of states) {
      (this.#bookOf(source, true) as SourceBook).book.restore(identity, state);
    }
  }

  stats(): AlertServiceStats {
    return {
      subscribers: this.#subscribers.size,
      subscriberErrors: this.#subscriberErrors,
      lastSubscriberError: this.#lastSubscriberError,
      notifierErrors: this.#notifierErrors,
      lastNotifierError: this.#lastNotifierError,
    };
  }

  async idle(): Promise<void> {
    await Promise.all([...this.#dispatchers.values()].map((d) => d.idle()));
  }

  /** Stops delivering (what is queued is dropped and counted); later alerts reach subscribers only. */
  close(): void {
    this.#closed = true;
    for (const dispatcher of this.#dispatchers.values()) dispatcher.close();
    this.#dispatchers.clear();
  }

  #bookOf(source: AlertSource, create: boolean): SourceBook | undefined {
    const key = sourceKey(source);
    let entry = this.#books.get(key);
    if (entry === undefined && create) {
      entry = { source: { kind: source.kind, name: source.name }, book: new AlertBook() };
      this.#books.set(key, entry);
    }
    return entry;
  }

  /**
   * Records which notifiers the source names now, and closes the dispatchers no source names any
   * more (a spec changed its receivers, a monitor was deleted).
   */
  #use(source: AlertSource, notifiers: readonly NotifierConfig[]): Map<string, NotifierConfig> {
    const key = sourceKey(source);
    const configs = new Map(notifiers.map((config) => [JSON.stringify(config), config]));
    const before = this.#uses.get(key);
    this.#uses.set(key, new Set(configs.keys()));
    for (const config of before ?? []) {
      if (!configs.has(config) && ![...this.#uses.values()].some((used) => used.has(config))) {
        this.#dispatchers.get(config)?.close();
        this.#dispatchers.delete(config);
      }
    }
    return configs;
  }

  /** The notifier's dispatcher, built on its first notification; undefined when it cannot be built. */
  #dispatcherFor(json: string, config: NotifierConfig): Dispatcher | undefined {
    const existing = this.#dispatchers.get(json);
    if (existing !== undefined) return existing;
    try {
      const dispatcher = new Dispatcher({
        ...this.#dispatch,
        notifiers: [
          createNotifier(config, `notifier ${config.name}`, this.#remoteAccess, this.#secretAccess),
        ],
      });
      this.#dispatchers.set(json, dispatcher);
      return dispatcher;
    } catch (error) {
      this.#notifierErrors += 1;
      this.#lastNotifierError = messageOf(error);
      return undefined;
    }
  }

  #deliver(notifiers: ReadonlyMap<string, NotifierConfig>, transition: AlertTransition): void {
    if (!this.#closed) {
      for (const [json, config] of notifiers)
        this.#dispatcherFor(json, config)?.dispatch(transition.notification);
    }
    for (const subscriber of this.#subscribers) {
      try {
        const result = subscriber(transition);
        if (result instanceof Promise) result.catch((error: unknown) => this.#subscriberFailed(error));
      } catch (error) {
        this.#subscriberFailed(error);
      }
    }
  }

  #subscriberFailed(error: unknown): void {
    this.#subscriberErrors += 1;
    this.#lastSubscriberError = messageOf(error);
  }
}

function sourceKey(source: AlertSource): string {
  return JSON.stringify([source.kind, source.name]);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
