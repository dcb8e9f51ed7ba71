/**
 * The table of notifier kinds. Adding a kind is one file, plus its config in the union and its
 * line in the table. Configuration arrives as plain data (YAML `Notifier` resources, API bodies)
 * and is validated with errors that name the field.
 */
import { invalidField, shown } from "../../registry/field.js";
import type { Notifier } from "../notifier.js";
import { alertmanagerNotifier, parseAlertmanagerConfig, type AlertmanagerConfig } from "./alertmanager.js";
import { configObject, type RawConfig } from "./config.js";
import { emailNotifier, parseEmailConfig, type EmailConfig } from "./email.js";
import { parseSlackConfig, slackNotifier, type SlackConfig } from "./slack.js";
import { parseWebhookConfig, webhookNotifier, type WebhookConfig } from "./webhook.js";

export type NotifierConfig = WebhookConfig | SlackConfig | AlertmanagerConfig | EmailConfig;
export type NotifierKind = NotifierConfig["kind"];

type ConfigOf<K extends NotifierKind> = Extract<NotifierConfig, { kind: K }>;

interface NotifierKindEntry<K extends NotifierKind> {
  parse(raw: RawConfig, path: string): ConfigOf<K>;
  create(config: ConfigOf<K>): Notifier;
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

export function createNotifier(raw: unknown, path = "notifier"): Notifier {
  const object = configObject(raw, path);
  return build(kindOf(object, path), object, path);
}

function build<K extends NotifierKind>(kind: K, raw: RawConfig, path: string): Notifier {
  const entry: NotifierKindEntry<K> = kinds[kind];
  return entry.create(entry.parse(raw, path));
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
