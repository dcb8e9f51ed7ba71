/** The one-line text a person sees first (Slack message, e-mail subject), the same everywhere. */
import type { AlertNotification } from "../notifier.js";

const placeLabels = ["deployment", "feature", "test"] as const;

export function headline(notification: AlertNotification): string {
  const name = notification.labels.alertname ?? "alert";
  const place = placeLabels
    .map((label) => notification.labels[label])
    .filter((value): value is string => value !== undefined && value !== "")
    .join("/");
  const summary = notification.annotations.summary;
  return `[${notification.status.toUpperCase()}] ${name}${place ? ` ${place}` : ""}${summary ? `: ${summary}` : ""}`;
}
