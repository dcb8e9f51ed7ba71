/**
 * Prometheus Alertmanager, API v2: `POST {url}/api/v2/alerts` with an array of postableAlert
 * `{ labels, annotations, startsAt, endsAt?, generatorURL }`, times in RFC 3339. A resolve is the
 * same labels with `endsAt` set to when it stopped; Alertmanager matches alerts by their labels.
 * A firing alert is sent with `endsAt` at its `renewBy` plus a margin (as Prometheus sends
 * `endsAt` ahead of its next evaluation): Alertmanager keeps it until then, and the lifecycle
 * re-sends it before (`repeatIntervalMs`); if Ballast stops re-sending, the alert ends there.
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

export interface AlertmanagerConfig {
  readonly kind: "alertmanager";
  readonly name: string;
  /** Alertmanager's base URL (http://alertmanager:9093), without /api/v2. */
  readonly url?: string;
  readonly urlFrom?: SecretRef;
  readonly headers?: Readonly<Record<string, string>>;
  readonly headersFrom?: Readonly<Record<string, SecretRef>>;
  readonly timeoutMs?: number;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/** Time past `renewBy` before Alertmanager may end a firing alert: a late re-send is not a resolve. */
const RENEW_MARGIN_MS = 15 * 60_000;

export function postableAlert(notification: AlertNotification): PostableAlert {
  const endsAt =
    notification.endsAt ??
    (notification.status === "firing" && notification.renewBy !== undefined
      ? notification.renewBy + RENEW_MARGIN_MS
      : undefined);
  return {
    labels: { ...notification.labels },
    annotations: { ...notification.annotations },
    startsAt: rfc3339(notification.startsAt),
    ...(endsAt === undefined ? {} : { endsAt: rfc3339(endsAt) }),
    ...(notification.generatorUrl === undefined ? {} : { generatorURL: notification.generatorUrl }),
  };
}

export function alertsEndpoint(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/api/v2/alerts`;
}

export function parseAlertmanagerConfig(raw: RawConfig, path: string): AlertmanagerConfig {
  const headers = stringMap(raw, path, "headers");
  const headersFrom = headerRefs(raw, path, headers);
  return {
    kind: "alertmanager",
    name: requiredString(raw, path, "name"),
    ...urlSource(raw, path, () => httpUrl(raw, path, "url")),
    headers,
    ...(headersFrom === undefined ? {} : { headersFrom }),
    timeoutMs: positiveInteger(raw, path, "timeoutMs", defaultTimeoutMs),
  };
}

export function alertmanagerNotifier(
  config: AlertmanagerConfig,
  access: RemoteAccess = ANYWHERE,
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): Notifier {
  const timeoutMs = config.timeoutMs ?? defaultTimeoutMs;
  const receiver = `alertmanager ${config.name}`;
  return {
    name: config.name,
    kind: "alertmanager",
    send: async (notification, signal) => {
      await postJson({
        receiver,
        url: alertsEndpoint(await resolveUrl(config, receiver, secrets)),
        body: [postableAlert(notification)],
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
