/**
 * E-mail over SMTP through nodemailer: a plain-text body and a simple HTML one with the same
 * content. A new connection per message (no pool): alerts are rare, and an idle pooled
 * connection is one more thing a mail server drops.
 */
import nodemailer from "nodemailer";
import { BallastError } from "../../domain/errors.js";
import { invalidField } from "../../registry/field.js";
import { rfc3339, type AlertNotification, type Notifier } from "../notifier.js";
import {
  configObject,
  defaultTimeoutMs,
  optionalBoolean,
  positiveInteger,
  requiredString,
  stringList,
  type RawConfig,
} from "./config.js";
import { headline } from "./headline.js";
import { optionalSecretRef, resolveSecret, type SecretRef } from "./secret-ref.js";
import type { RemoteAccess } from "../../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../../domain/secret-access.js";

export interface EmailConfig {
  readonly kind: "email";
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** TLS from the start (port 465); otherwise STARTTLS is used when the server offers it. */
  readonly secure?: boolean;
  /** `pass` in clear, or `passFrom: {env: BALLAST_SECRET_SMTP}` / `{file: smtp}` (in --secrets-dir). */
  readonly auth?: { readonly user: string; readonly pass?: string; readonly passFrom?: SecretRef };
  readonly from: string;
  readonly to: readonly string[];
  readonly timeoutMs?: number;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

export function emailMessage(notification: AlertNotification): EmailMessage {
  const rows = alertRows(notification);
  const subject = headline(notification);
  const text = [subject, "", ...rows.map(([name, value]) => `${name}: ${value}`), ""].join("\n");
  const html = [
    `<h2>${escapeHtml(subject)}</h2>`,
    "<table>",
    ...rows.map(
      ([name, value]) => `<tr><th align="left">${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`,
    ),
    "</table>",
  ].join("\n");
  return { subject, text, html };
}

function alertRows(notification: AlertNotification): Array<[string, string]> {
  return [
    ["status", notification.status],
    ...Object.entries(notification.labels),
    ...Object.entries(notification.annotations),
    ["starts at", rfc3339(notification.startsAt)],
    ...(notification.endsAt === undefined
      ? []
      : [["ends at", rfc3339(notification.endsAt)] as [string, string]]),
    ...(notification.generatorUrl === undefined
      ? []
      : [["source", notification.generatorUrl] as [string, string]]),
  ];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function parseEmailConfig(raw: RawConfig, path: string): EmailConfig {
  const port = positiveInteger(raw, path, "port");
  if (port > 65535) throw invalidField(`${path}.port`, `expected a TCP port (1-65535), got ${port}`);
  const secure = optionalBoolean(raw, path, "secure");
  let auth: EmailConfig["auth"];
  if (raw.auth !== undefined) {
    const rawAuth = configObject(raw.auth, `${path}.auth`);
    const user = requiredString(rawAuth, `${path}.auth`, "user");
    const passFrom = optionalSecretRef(rawAuth, `${path}.auth`, "passFrom");
    if (passFrom !== undefined && rawAuth.pass !== undefined)
      throw invalidField(`${path}.auth.passFrom`, "give pass or passFrom, not both");
    auth =
      passFrom === undefined
        ? { user, pass: requiredString(rawAuth, `${path}.auth`, "pass") }
        : { user, passFrom };
  }
  return {
    kind: "email",
    name: requiredString(raw, path, "name"),
    host: requiredString(raw, path, "host"),
    port,
    ...(secure === undefined ? {} : { secure }),
    ...(auth === undefined ? {} : { auth }),
    from: requiredString(raw, path, "from"),
    to: stringList(raw, path, "to"),
    timeoutMs: positiveInteger(raw, path, "timeoutMs", defaultTimeoutMs),
  };
}

/** `_remote` is for the table's sake: SMTP hosts are not under `--allow-remote`. */
export function emailNotifier(
  config: EmailConfig,
  _remote?: RemoteAccess,
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): Notifier {
  const timeoutMs = config.timeoutMs ?? defaultTimeoutMs;
  const receiver = `email ${config.name}`;
  // A transport per message (no pool, see above), so a password read from a file is current.
  const transportNow = async () => {
    const auth = config.auth;
    const pass =
      auth === undefined
        ? undefined
        : (auth.pass ??
          (await resolveSecret(auth.passFrom as SecretRef, receiver, "auth.passFrom", secrets)));
    return nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure ?? false,
      ...(auth === undefined ? {} : { auth: { user: auth.user, pass } }),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  };
  return {
    name: config.name,
    kind: "email",
    async send(notification, signal) {
      if (signal.aborted) throw aborted(receiver, signal);
      const message = emailMessage(notification);
      // nodemailer takes no AbortSignal: stop waiting on abort; its own socket timeouts end the rest.
      let onAbort: (() => void) | undefined;
      const abort = new Promise<never>((_, reject) => {
        onAbort = () => reject(aborted(receiver, signal));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        await Promise.race([
          transportNow().then((transport) =>
            transport.sendMail({ from: config.from, to: [...config.to], ...message }),
          ),
          abort,
        ]);
      } catch (error) {
        throw smtpError(receiver, config, error);
      } finally {
        if (onAbort) signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

function aborted(receiver: string, signal: AbortSignal): BallastError {
  const reason: unknown = signal.reason;
  return reason instanceof BallastError
    ? reason
    : new BallastError("timeout", `${receiver}: delivery was aborted`);
}

function smtpError(receiver: string, config: EmailConfig, error: unknown): BallastError {
  if (error instanceof BallastError) return error;
  const smtp = error as { message?: string; responseCode?: number; code?: string };
  const message = smtp.message ?? String(error);
  // 5xx replies are permanent (bad address, rejected sender); 4xx and network errors may pass later.
  const permanent = typeof smtp.responseCode === "number" && smtp.responseCode >= 500;
  return new BallastError(
    "unavailable",
    `${receiver}: SMTP ${config.host}:${config.port} failed: ${message}`,
    {
      retryable: !permanent,
      ...(smtp.responseCode === undefined ? {} : { responseCode: smtp.responseCode }),
    },
  );
}
