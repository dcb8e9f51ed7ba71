/**
 * Slack's incoming-webhook format: `text` (shown in notifications and where attachments are not
 * rendered) plus one legacy attachment, because attachments are the part of the payload that
 * carries a colour bar (blocks have none): green when resolved, otherwise by severity.
 */
import type { AlertNotification, Notifier } from "../notifier.js";
import {
  defaultTimeoutMs,
  httpUrl,
  optionalString,
  positiveInteger,
  requiredString,
  type RawConfig,
} from "./config.js";
import { headline } from "./headline.js";
import { postJson } from "./http-post.js";
import { resolveUrl, urlSource, type SecretRef } from "./secret-ref.js";
import { ANYWHERE, type RemoteAccess } from "../../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../../domain/secret-access.js";

export interface SlackConfig {
  readonly kind: "slack";
  readonly name: string;
  /** The incoming-webhook URL (https://hooks.slack.com/services/…); it is the key, so `urlFrom` may name where it is kept. */
  readonly url?: string;
  readonly urlFrom?: SecretRef;
  /** Only honoured by legacy webhooks; modern ones post to the channel they were made for. */
  readonly channel?: string;
  readonly username?: string;
  readonly timeoutMs?: number;
}

export const slackColours = {
  resolved: "#2eb886",
  critical: "#d00000",
  warning: "#daa038",
  other: "#439fe0",
} as const;

export function slackColour(notification: AlertNotification): string {
  if (notification.status === "resolved") return slackColours.resolved;
  const severity = notification.labels.severity;
  if (severity === "critical" || severity === "page") return slackColours.critical;
  if (severity === "warning") return slackColours.warning;
  return slackColours.other;
}

interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export function slackBody(
  notification: AlertNotification,
  config: Pick<SlackConfig, "channel" | "username"> = {},
) {
  const text = headline(notification);
  const { summary: _summary, description, link, ...rest } = notification.annotations;
  const fields: SlackField[] = [
    ...Object.entries(notification.labels)
      .filter(([name]) => name !== "alertname")
      .map(([title, value]) => ({ title, value, short: true })),
    ...Object.entries(rest).map(([title, value]) => ({ title, value, short: true })),
  ];
  const titleLink = link ?? notification.generatorUrl;
  return {
    text,
    ...(config.channel === undefined ? {} : { channel: config.channel }),
    ...(config.username === undefined ? {} : { username: config.username }),
    attachments: [
      {
        color: slackColour(notification),
        fallback: text,
        title: text,
        ...(titleLink === undefined ? {} : { title_link: titleLink }),
        ...(description === undefined ? {} : { text: description }),
        fields,
        // Slack's `ts` is epoch seconds.
        ts: Math.floor((notification.endsAt ?? notification.startsAt) / 1000),
      },
    ],
  };
}

export function parseSlackConfig(raw: RawConfig, path: string): SlackConfig {
  const channel = optionalString(raw, path, "channel");
  const username = optionalString(raw, path, "username");
  return {
    kind: "slack",
    name: requiredString(raw, path, "name"),
    ...urlSource(raw, path, () => httpUrl(raw, path, "url")),
    ...(channel === undefined ? {} : { channel }),
    ...(username === undefined ? {} : { username }),
    timeoutMs: positiveInteger(raw, path, "timeoutMs", defaultTimeoutMs),
  };
}

export function slackNotifier(
  config: SlackConfig,
  access: RemoteAccess = ANYWHERE,
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): Notifier {
  const timeoutMs = config.timeoutMs ?? defaultTimeoutMs;
  return {
    name: config.name,
    kind: "slack",
    send: async (notification, signal) => {
      const receiver = `slack ${config.name}`;
      await postJson({
        receiver,
        url: await resolveUrl(config, receiver, secrets),
        body: slackBody(notification, config),
        timeoutMs,
        signal,
        access,
      });
    },
  };
}
