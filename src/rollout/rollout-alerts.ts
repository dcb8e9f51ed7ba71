/**
 * Alerts for rollouts: a rollback, or a rollout that stopped to wait for a person, goes out to
 * the notifiers the strategy names, through the same non-blocking dispatcher as monitor alerts
 * (retries with backoff, failures counted, never blocking the rollout).
 */
import { alertIdentity } from "../alerts/alert-book.js";
import { Dispatcher } from "../alerts/dispatcher.js";
import { createNotifier, type NotifierConfig } from "../alerts/notifiers/index.js";
import { ANYWHERE, type RemoteAccess } from "../domain/remote-access.js";
import type { RolloutState, Transition } from "./rollout-state.js";

/** Which transitions page someone, and how loudly. */
const ALERTING: Readonly<Record<string, { alertname: string; severity: string }>> = {
  RolledBack: { alertname: "BallastRolloutRolledBack", severity: "critical" },
  AnalysisInconclusive: { alertname: "BallastRolloutNeedsAttention", severity: "warning" },
  ExperimentDecided: { alertname: "BallastExperimentDecided", severity: "info" },
};

export class RolloutAlerts {
  private readonly dispatchers = new Map<string, { config: string; dispatcher: Dispatcher }>();

  constructor(
    private readonly generatorUrl?: string,
    /** Where notifiers may send (`--allow-remote`), checked at each send. */
    private readonly remoteAccess: RemoteAccess = ANYWHERE,
  ) {}

  notify(state: RolloutState, notes: Transition["notes"], notifiers: readonly NotifierConfig[]): void {
    if (notifiers.length === 0) return;
    for (const note of notes) {
      const kind = ALERTING[note.reason];
      if (kind === undefined) continue;
      const labels = {
        alertname: kind.alertname,
        deployment: state.deployment,
        model: state.canary.model,
        version: String(state.canary.version),
        severity: kind.severity,
      };
      this.dispatcherFor(state.deployment, notifiers).dispatch({
        status: "firing",
        identity: alertIdentity(labels),
        labels,
        annotations: {
          summary: note.message,
          description: `rollout ${state.id}: ${state.message}`,
          ...(this.generatorUrl === undefined
            ? {}
            : {
                link: `${this.generatorUrl}/api/v1/deployments/${encodeURIComponent(state.deployment)}/rollout`,
              }),
        },
        startsAt: state.updatedAt,
        ...(this.generatorUrl === undefined ? {} : { generatorUrl: this.generatorUrl }),
      });
    }
  }

  /** Resolves once every queued delivery has been tried (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.dispatcher.idle()));
  }

  close(): void {
    for (const d of this.dispatchers.values()) d.dispatcher.close();
    this.dispatchers.clear();
  }

  private dispatcherFor(deployment: string, notifiers: readonly NotifierConfig[]): Dispatcher {
    const config = JSON.stringify(notifiers);
    const current = this.dispatchers.get(deployment);
    if (current !== undefined && current.config === config) return current.dispatcher;
    current?.dispatcher.close();
    const dispatcher = new Dispatcher({
      notifiers: notifiers.map((n, i) => createNotifier(n, `notifiers[${i}]`, this.remoteAccess)),
    });
    this.dispatchers.set(deployment, { config, dispatcher });
    return dispatcher;
  }
}
