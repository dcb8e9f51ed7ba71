/**
 * Turns a lifecycle action into the notification every receiver gets, so monitors only say
 * which labels identify the alert and which text describes it.
 */
import type { IdentifiedAction } from "./alert-book.js";
import type { AlertNotification } from "./notifier.js";

export interface AlertDescription {
  readonly labels: Readonly<Record<string, string>>;
  /** Extra annotations (summary, description, link); score and threshold are added from the action. */
  readonly annotations?: Readonly<Record<string, string>>;
  readonly generatorUrl?: string;
}

export function notificationFor(action: IdentifiedAction, description: AlertDescription): AlertNotification {
  const notification: AlertNotification = {
    status: action.type === "notify-resolved" ? "resolved" : "firing",
    identity: action.identity,
    labels: { ...description.labels },
    annotations: {
      score: String(action.value),
      threshold: String(action.threshold),
      ...description.annotations,
    },
    startsAt: action.startsAt,
    ...(action.endsAt === undefined ? {} : { endsAt: action.endsAt }),
    ...(action.renewBy === undefined ? {} : { renewBy: action.renewBy }),
    ...(description.generatorUrl === undefined ? {} : { generatorUrl: description.generatorUrl }),
  };
  return notification;
}
