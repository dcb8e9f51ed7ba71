/**
 * Alerts for rollouts: a rollback, or a rollout that stopped to wait for a person, is published
 * to the alerting service as an event (sent once as firing, never resolved) for the notifiers
 * the strategy names and the in-process subscribers; delivery never blocks the rollout.
 */
import type { AlertSink } from "../alerts/alerting.js";
import type { NotifierConfig } from "../alerts/notifiers/index.js";
import type { RolloutState, Transition } from "./canary.js";

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
  ) {}

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
