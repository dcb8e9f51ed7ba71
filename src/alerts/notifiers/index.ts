/**
 * The table of notifier kinds. Adding a kind is one file, plus its config in the union and its
 * line in the table. Configuration arrives as plain data (YAML `Notifier` resources, API bodies)
 * and is validated with errors that name the field.
 */
import { invalidField, shown } from "../../registry/field.js";
import { ANYWHERE, checkAllowed, type RemoteAccess } from "../../domain/remote-access.js";
import { DEFAULT_SECRET_ACCESS, type SecretAccess } from "../../domain/secret-access.js";
import type { Notifier } from "../notifier.js";
import { alertmanagerNotifier, parseAlertmanagerConfig, type AlertmanagerConfig } from "./alertmanager.js";
import { configObject, type RawConfig } from "./config.js";
import { emailNotifier, parseEmailConfig, type EmailConfig } from "./email.js";
import { parseSlackConfig, slackNotifier, type SlackConfig } from "./slack.js";
import { parseWebhookConfig, webhookNotifier, type WebhookConfig } from "./webhook.js";
import { checkSecretRef, type SecretRef } from "./secret-ref.js";

export type NotifierConfig = WebhookConfig | SlackConfig | AlertmanagerConfig | EmailConfig;
export type NotifierKind = NotifierConfig["kind"];

type ConfigOf<K extends NotifierKind> = Extract<NotifierConfig, { kind: K }>;

interface NotifierKindEntry<K extends NotifierKind> {
  parse(raw: RawConfig, path: string): ConfigOf<K>;
  create(config: ConfigOf<K>, access: RemoteAccess, secrets: SecretAccess): Notifier;
}

const kinds: { [K in NotifierKind]: NotifierKindEntry<K> } = {
  webhook: { parse: parseWebhookConfig, create: webhookNotifier },
  slack: { parse: parseSlackConfig, create: slackNotifier },
  alertmanager: { parse: parseAlertmanagerConfig, create: alertmanagerNotifier },
  email: { parse: parseEmailConfig, create: emailNotifier },
};

export const notifierKinds: readonly NotifierKind[] = Object.keys(kinds) as NotifierKind[];

/** Validates one notifier's configuration; `path` prefixes field names in errors. */
export function parseNotifierConfig(raw: unknown, path = "notifier"): NotifierConfig {
  const object = configObject(raw, path);
  return kinds[kindOf(object, path)].parse(object, path);
}

/**
 * Validates a list of notifiers (a Monitor's, a Router's), each at `path[i]`. Their names must
 * differ: receivers are told apart by name (delivery counters, failures).
 */
export function parseNotifierList(raw: readonly unknown[], path = "notifiers"): NotifierConfig[] {
  const parsed = raw.map((n, i) => parseNotifierConfig(n, `${path}[${i}]`));
  const names = new Set<string>();
  parsed.forEach(({ name }, i) => {
    if (names.has(name))
      throw invalidField(`${path}[${i}].name`, `another notifier is already named "${name}"`);
    names.add(name);
  });
  return parsed;
}

/**
 * Builds a notifier whose sends go only where `access` allows and that reads only the secrets
 * `secrets` allows (both checked at each send, so a stored receiver outside a narrowed
 * `--allow-remote`, `--secrets-dir` or `--secret-env` is refused rather than called).
 */
export function createNotifier(
  raw: unknown,
  path = "notifier",
  access: RemoteAccess = ANYWHERE,
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): Notifier {
  const object = configObject(raw, path);
  return build(kindOf(object, path), object, path, access, secrets);
}

function build<K extends NotifierKind>(
  kind: K,
  raw: RawConfig,
  path: string,
  access: RemoteAccess,
  secrets: SecretAccess,
): Notifier {
  const entry: NotifierKindEntry<K> = kinds[kind];
  return entry.create(entry.parse(raw, path), access, secrets);
}

/**
 * Refuses, with a 400 naming the field, notifiers whose URL the allow-list does not let this
 * server call, or whose secret references point outside what `secrets` allows: at
 * registration, so a mistake (or an attempt) is seen then and not at the first alert.
 */
export function checkNotifierAccess(
  configs: readonly NotifierConfig[],
  access: RemoteAccess,
  path = "notifiers",
  secrets: SecretAccess = DEFAULT_SECRET_ACCESS,
): void {
  configs.forEach((config, i) => checkOneNotifier(config, access, secrets, `${path}[${i}]`));
}

/** One notifier's URL and secret references; `path` is where it sits (`spec`, `notifiers[0]`). */
export function checkOneNotifier(
  config: NotifierConfig,
  access: RemoteAccess,
  secrets: SecretAccess,
  path: string,
): void {
  // A url read from a secret reference is checked at each send instead.
  if (config.kind !== "email" && config.url !== undefined) checkAllowed(access, config.url, `${path}.url`);
  for (const [field, ref] of secretRefsOf(config)) checkSecretRef(secrets, ref, `${path}.${field}`);
}

/** Every secret reference of a configuration, with its field (`headersFrom.Authorization`). */
function secretRefsOf(config: NotifierConfig): Array<[string, SecretRef]> {
  if (config.kind === "email")
    return config.auth?.passFrom === undefined ? [] : [["auth.passFrom", config.auth.passFrom]];
  const refs: Array<[string, SecretRef]> = config.urlFrom === undefined ? [] : [["urlFrom", config.urlFrom]];
  if (config.kind !== "slack")
    for (const [name, ref] of Object.entries(config.headersFrom ?? {}))
      refs.push([`headersFrom.${name}`, ref]);
  return refs;
}

function kindOf(raw: RawConfig, path: string): NotifierKind {
  const kind = raw.kind;
  if (typeof kind !== "string" || !Object.hasOwn(kinds, kind)) {
    throw invalidField(`${path}.kind`, `expected one of ${notifierKinds.join(", ")}, got ${shown(kind)}`);
  }
  return kind as NotifierKind;
}

/** Builds every configured notifier; names must be unique, since monitors refer to them by name. */
export function createNotifiers(raw: unknown, path = "notifiers"): Notifier[] {
  if (!Array.isArray(raw)) throw invalidField(path, `expected a list of notifiers, got ${shown(raw)}`);
  const seen = new Set<string>();
  return raw.map((entry: unknown, index) => {
    const notifier = createNotifier(entry, `${path}[${index}]`);
    if (seen.has(notifier.name)) {
      throw invalidField(
        `${path}[${index}].name`,
        `another notifier is already named ${shown(notifier.name)}`,
      );
    }
    seen.add(notifier.name);
    return notifier;
  });
}
