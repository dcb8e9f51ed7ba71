/**
 * The extension point for alert receivers: one Notifier per kind (webhook, Slack, Alertmanager,
 * e-mail), built from configuration by notifiers/index.ts. A notifier makes one delivery attempt;
 * retries, backoff, queueing and counting belong to the dispatcher.
 */

/** What every receiver is told about one alert. Times are epoch milliseconds. */
export interface AlertNotification {
  readonly status: "firing" | "resolved";
  /** The stable key of the alert (see alertIdentity); the same for its firing and its resolve. */
  readonly identity: string;
  /** Identifying labels: alertname, deployment, feature, severity, monitor, test… */
  readonly labels: Readonly<Record<string, string>>;
  /** Descriptive text: summary, description, score, threshold, link… */
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: number;
  /** Set when resolved: when the alert stopped. */
  readonly endsAt?: number;
  /** Set when firing: the alert is re-sent by then while it still fires (receivers that expire alerts use it). */
  readonly renewBy?: number;
  /** Where the alert came from (the monitor's page or API URL). */
  readonly generatorUrl?: string;
}

export interface Notifier {
  /** The configured name monitors refer to ("oncall-slack"). */
  readonly name: string;
  /** webhook, slack, alertmanager, email. */
  readonly kind: string;
  /**
   * One delivery attempt. Resolves when the receiver accepted it; rejects otherwise, with a
   * BallastError whose `details.retryable === false` when trying again cannot help (the receiver
   * rejected the payload itself). Stops work when `signal` aborts.
   */
  send(notification: AlertNotification, signal: AbortSignal): Promise<void>;
}

/** RFC 3339 in UTC with milliseconds, as Alertmanager and most receivers parse it. */
export function rfc3339(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
