/**
 * How a monitor (drift or performance) publishes one observation of one of its alerts: with its
 * severity, rule and notifiers, a link back to the monitor when the server knows its address,
 * and the metrics told when the alert's phase changes. One helper, so both kinds publish alike.
 */
import type { AlertSink, AlertSource } from "../alerts/alerting.js";
import type { AlertPhase } from "../alerts/lifecycle.js";
import type { AlertRule } from "../alerts/lifecycle.js";
import type { NotifierConfig } from "../alerts/notifiers/index.js";

/** What both kinds of monitor spec have for alerting. */
export interface AlertingSpec {
  readonly name: string;
  readonly severity: string;
  readonly alert: AlertRule;
  readonly notifiers: readonly NotifierConfig[];
}

export interface MonitorObservationOf {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly breached: boolean;
  readonly value: number;
  readonly threshold: number;
  /** Epoch ms of the observation. */
  readonly at: number;
}

export interface MonitorAlertPublisher {
  readonly alerts: AlertSink;
  readonly observer: { alertChanged(monitor: string, identity: string, phase: AlertPhase): void };
  /** This server's address as others reach it; links in alerts point at the monitor's status. */
  readonly generatorUrl: string | undefined;
}

/** The link to a monitor's status, as an annotation (none without a public address). */
export function monitorLink(generatorUrl: string | undefined, monitor: string): Record<string, string> {
  return generatorUrl === undefined
    ? {}
    : { link: `${generatorUrl}/api/v1/monitors/${encodeURIComponent(monitor)}` };
}

export function publishMonitorAlert(
  to: MonitorAlertPublisher,
  spec: AlertingSpec,
  source: AlertSource,
  observation: MonitorObservationOf,
): void {
  const { labels, annotations, breached, value, threshold, at } = observation;
  const published = to.alerts.publish({
    source,
    severity: spec.severity,
    labels,
    annotations,
    ...(to.generatorUrl === undefined ? {} : { generatorUrl: to.generatorUrl }),
    at,
    condition: { breached, value, threshold, rule: spec.alert },
    notifiers: spec.notifiers,
  });
  if (published.changed && published.phase !== null)
    to.observer.alertChanged(spec.name, published.identity, published.phase);
}
