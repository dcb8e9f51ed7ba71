/**
 * Alerts for rollouts: a rollback, or a rollout that stopped to wait for a person, is published
 * to the alerting service as an event (sent once as firing, never resolved) for the notifiers
 * the strategy names and the in-process subscribers; delivery never blocks the rollout.
 */
import type { AlertSink } from "../alerts/alerting.js";
import { checkOneNotifier, parseNotifierConfig, type NotifierConfig } from "../alerts/notifiers/index.js";
import { isPlainObject } from "../domain/json-value.js";
import { ANYWHERE, type RemoteAccess } from "../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../domain/secret-access.js";
import type { RolloutState, Transition } from "./rollout-state.js";

/** Which transitions page someone, and how loudly. */
const ALERTING: Readonly<Record<string, { alertname: string; severity: string }>> = {
  RolledBack: { alertname: "BallastRolloutRolledBack", severity: "critical" },
  AnalysisInconclusive: { alertname: "BallastRolloutNeedsAttention", severity: "warning" },
  ExperimentDecided: { alertname: "BallastExperimentDecided", severity: "info" },
};

export class RolloutAlerts {
  constructor(
    private readonly alerts: AlertSink,
    private readonly generatorUrl?: string,
    /** Where notifiers may send (`--allow-remote`), checked when a strategy is applied. */
    private readonly remoteAccess: RemoteAccess = ANYWHERE,
    /** What notifiers may read as secrets (`--secrets-dir`, `--secret-env`), checked likewise. */
    private readonly secretAccess: SecretAccess = DEFAULT_SECRET_ACCESS,
  ) {}

  /** Refuses a strategy (as declared) whose inline notifiers this server may not use; see below. */
  checkAccess(strategy: unknown): void {
    checkStrategyNotifiers(strategy, this.remoteAccess, this.secretAccess);
  }

  notify(state: RolloutState, notes: Transition["notes"], notifiers: readonly NotifierConfig[]): void {
    for (const note of notes) {
      const kind = ALERTING[note.reason];
      if (kind === undefined) continue;
      this.alerts.publish({
        source: { kind: "rollout", name: state.deployment },
        severity: kind.severity,
        labels: {
          alertname: kind.alertname,
          deployment: state.deployment,
          model: state.canary.model,
          version: String(state.canary.version),
        },
        annotations: {
          summary: note.message,
          description: `rollout ${state.id}: ${state.message}`,
          ...(this.generatorUrl === undefined
            ? {}
            : {
                link: `${this.generatorUrl}/api/v1/deployments/${encodeURIComponent(state.deployment)}/rollout`,
              }),
        },
        ...(this.generatorUrl === undefined ? {} : { generatorUrl: this.generatorUrl }),
        at: state.updatedAt,
        notifiers,
      });
    }
  }
}

/**
 * Refuses, with a 400 naming the field (`strategy.canary.notifiers[0].url`), inline notifiers of
 * a strategy as declared (`canary`, `blueGreen`, `abTest`) that point where this server may not
 * send or reference secrets it may not read: when the deployment is applied, as a monitor's
 * notifiers are, not only at the first alert. Names of Notifier resources are left to their own
 * apply; anything malformed is left to the strategy's own checks.
 */
export function checkStrategyNotifiers(strategy: unknown, remote: RemoteAccess, secrets: SecretAccess): void {
  if (!isPlainObject(strategy)) return;
  for (const key of ["canary", "blueGreen", "abTest"]) {
    const part = strategy[key];
    if (!isPlainObject(part) || !Array.isArray(part.notifiers)) continue;
    part.notifiers.forEach((raw: unknown, i) => {
      if (typeof raw === "string") return;
      const at = `strategy.${key}.notifiers[${i}]`;
      checkOneNotifier(parseNotifierConfig(raw, at), remote, secrets, at);
    });
  }
}
