/** The names users choose for models, aliases and variants, and the rules they follow. */
import { invalidField, shown } from "./field.js";

/** Also used for deployment names: both appear in URLs and metric labels. */
export const MODEL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$/;
export const ALIAS_NAME = /^[a-z][a-z0-9_-]{0,62}$/i;
/** Variant names end up as metric label values and in headers; short and lowercase. */
export const VARIANT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** `latest` always means the newest version, so no alias may take that name. */
export const LATEST = "latest";

export function isLatest(alias: string): boolean {
  return alias.toLowerCase() === LATEST;
}

export function checkModelName(value: unknown, field = "model"): string {
  if (typeof value !== "string" || !MODEL_NAME.test(value)) {
    throw invalidField(
      field,
      `${shown(value)} is not a valid name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

export function checkAliasName(value: unknown, field = "alias"): string {
  if (typeof value !== "string" || !ALIAS_NAME.test(value)) {
    // The leading letter also keeps aliases apart from version numbers in a reference ("3" vs "@3").
    throw invalidField(
      field,
      `${shown(value)} is not a valid alias: use 1-63 letters, digits, '_' or '-', starting with a letter`,
    );
  }
  if (isLatest(value)) {
    throw invalidField(field, `"${value}" is reserved: it always resolves to the newest version`);
  }
  return value;
}

export function checkVariantName(value: unknown, field = "name"): string {
  if (typeof value !== "string" || !VARIANT_NAME.test(value)) {
    throw invalidField(
      field,
      `${shown(value)} is not a valid variant name: use 1-63 lowercase letters, digits or '-', starting with a letter`,
    );
  }
  return value;
}

export function checkVersionNumber(value: unknown, field = "version"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw invalidField(field, `${shown(value)} is not a version number (an integer from 1)`);
  }
  return value;
}
