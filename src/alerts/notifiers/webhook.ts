/**
 * A generic JSON webhook. Body (one alert per POST, times in RFC 3339 UTC):
 *
 *   { "version": "ballast.alert/v1", "status": "firing" | "resolved", "identity": "...",
 *     "labels": { ... }, "annotations": { ... }, "startsAt": "2026-01-05T10:00:00.000Z",
 *     "endsAt": "..." (resolved only), "generatorUrl": "..." (when known) }
 */
import { rfc3339, type AlertNotification, type Notifier } from "../notifier.js";
import {
  defaultTimeoutMs,
  httpUrl,
  positiveInteger,
  requiredString,
  stringMap,
  type RawConfig,
} from "./config.js";
import { postJson } from "./http-post.js";
import { headerRefs, resolveSecretMap, resolveUrl, urlSource, type SecretRef } from "./secret-ref.js";
import { ANYWHERE, type RemoteAccess } from "../../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../../domain/secret-access.js";

export interface WebhookConfig {
  readonly kind: "webhook";
  readonly name: string;
  /** The URL, or `urlFrom` naming where it is kept when it carries a key. */
  readonly url?: string;
  readonly urlFrom?: SecretRef;
  readonly headers?: Readonly<Record<string, string>>;
  /** Header values read from the environment or a file when sent (`Authorization: {env: HOOK_TOKEN}`). */
  readonly headersFrom?: Readonly<Record<string, SecretRef>>;
  readonly timeoutMs?: number;
}

export const webhookBodyVersion = "ballast.alert/v1";

export function webhookBody(notification: AlertNotification): Record<string, unknown> {
  return {
    version: webhookBodyVersion,
    status: notification.status,
    identity: notification.identity,
    labels: notification.labels,
    annotations: notification.annotations,
    startsAt: rfc3339(notification.startsAt),
    ...(notification.endsAt === undefined ? {} : { endsAt: rfc3339(notification.endsAt) }),
    ...(notification.generatorUrl === undefined ? {} : { generatorUrl: notification.generatorUrl }),
  };
}

export function parseWebhookConfig(raw: RawConfig, path: string): WebhookConfig {
  const headers = stringMap(raw, path, "headers");
  const headersFrom = headerRefs(raw, path, headers);
  return {
    kind: "webhook",
    name: requiredString(raw, path, "name"),
    ...urlSource(raw, path, () => httpUrl(raw, path, "url")),
    headers,
    ...(headersFrom === undefined ? {} : { headersFrom }),
    timeoutMs: positiveInteger(raw, path, "timeoutMs", defaultTimeoutMs),
  };
}

export function webhookNotifier(
  config: WebhookConfig,
  access: RemoteAccess = ANYWHERE,
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): Notifier {
  const timeoutMs = config.timeoutMs ?? defaultTimeoutMs;
  return {
    name: config.name,
    kind: "webhook",
    send: async (notification, signal) => {
      const receiver = `webhook ${config.name}`;
      await postJson({
        receiver,
        url: await resolveUrl(config, receiver, secrets),
        body: webhookBody(notification),
        headers: {
          ...config.headers,
          ...(await resolveSecretMap(config.headersFrom, receiver, "headersFrom", secrets)),
        },
        timeoutMs,
        signal,
        access,
      });
    },
  };
}
