/** What every monitor type declares alike: its name and deployment, and how it alerts. */
import { invalid } from "../domain/errors.js";
import { isPlainObject } from "../domain/json-value.js";
import { alertRule, type AlertRule } from "../alerts/lifecycle.js";
import { parseNotifierList, type NotifierConfig } from "../alerts/notifiers/index.js";

export const SEVERITIES = ["info", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/i;

/** The monitor's name (from the URL or the body, which must agree) and its deployment. */
export function parseMonitorTarget(
  raw: Record<string, unknown>,
  name: string | undefined,
): { name: string; deployment: string } {
  const monitorName = name ?? raw.name;
  if (typeof monitorName !== "string" || !NAME.test(monitorName)) {
    throw invalid(
      "name must be letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit",
    );
  }
  if (raw.name !== undefined && raw.name !== monitorName)
    throw invalid(`name '${String(raw.name)}' does not match '${monitorName}'`);
  const deployment = raw.deployment;
  if (typeof deployment !== "string" || deployment.length === 0)
    throw invalid("deployment must name a deployment");
  return { name: monitorName, deployment };
}

/** Fields every monitor type shares: how loud its alerts are, their lifecycle, whom to tell. */
export function parseAlerting(raw: Record<string, unknown>): {
  severity: Severity;
  alert: AlertRule;
  notifiers: NotifierConfig[];
} {
  const severity = raw.severity ?? "warning";
  if (!(SEVERITIES as readonly unknown[]).includes(severity))
    throw invalid(`severity must be one of ${SEVERITIES.join(", ")}`);
  if (raw.alert !== undefined && !isPlainObject(raw.alert)) throw invalid("alert must be an object");
  const alert = alertRule((raw.alert ?? {}) as Partial<AlertRule>);
  const notifiers = raw.notifiers ?? [];
  if (!Array.isArray(notifiers)) throw invalid("notifiers must be a list");
  return { severity: severity as Severity, alert, notifiers: parseNotifierList(notifiers) };
}
