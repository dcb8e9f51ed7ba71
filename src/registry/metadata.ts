/** The free-form parts of a version (tags, metrics, description, lineage), checked on the way in. */
import type { Lineage } from "../domain/model.js";
import { isPlainObject } from "../domain/json-value.js";
import { invalidField, shown } from "./field.js";

const MAX_TAG_KEY = 250;
const MAX_TAG_VALUE = 5000;

export function checkTags(value: unknown, field = "tags"): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw invalidField(field, `expected an object of string values, got ${shown(value)}`);
  const tags: Record<string, string> = {};
  for (const [key, tag] of Object.entries(value)) {
    if (key === "" || key.length > MAX_TAG_KEY)
      throw invalidField(field, `tag keys must be 1-${MAX_TAG_KEY} characters`);
    if (typeof tag !== "string")
      throw invalidField(`${field}.${key}`, `expected a string, got ${shown(tag)}`);
    if (tag.length > MAX_TAG_VALUE)
      throw invalidField(`${field}.${key}`, `longer than ${MAX_TAG_VALUE} characters`);
    tags[key] = tag;
  }
  return tags;
}

/** Metrics gate promotions, so a NaN (which JSON would silently turn into null) is refused. */
export function checkMetrics(value: unknown, field = "metrics"): Record<string, number> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalidField(field, `expected an object of numbers, got ${shown(value)}`);
  const metrics: Record<string, number> = {};
  for (const [key, metric] of Object.entries(value)) {
    if (key === "") throw invalidField(field, "metric names must not be empty");
    if (typeof metric !== "number" || !Number.isFinite(metric)) {
      throw invalidField(`${field}.${key}`, `expected a finite number, got ${shown(metric)}`);
    }
    metrics[key] = metric;
  }
  return metrics;
}

export function checkDescription(value: unknown, field = "description"): string {
  if (value === undefined) return "";
  if (typeof value !== "string") throw invalidField(field, `expected a string, got ${shown(value)}`);
  return value;
}

export function checkLineage(value: unknown, field = "lineage"): Lineage {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalidField(field, `expected an object, got ${shown(value)}`);
  const { dataFingerprint, parameters, parentVersion, runId } = value;
  const lineage: {
    dataFingerprint?: string;
    parameters?: Record<string, unknown>;
    parentVersion?: number;
    runId?: string;
  } = {};
  if (dataFingerprint !== undefined) {
    if (typeof dataFingerprint !== "string")
      throw invalidField(`${field}.dataFingerprint`, "expected a string");
    lineage.dataFingerprint = dataFingerprint;
  }
  if (parameters !== undefined) {
    if (!isPlainObject(parameters)) throw invalidField(`${field}.parameters`, "expected an object");
    lineage.parameters = parameters;
  }
  if (parentVersion !== undefined) {
    if (typeof parentVersion !== "number" || !Number.isSafeInteger(parentVersion) || parentVersion < 1) {
      throw invalidField(`${field}.parentVersion`, `${shown(parentVersion)} is not a version number`);
    }
    lineage.parentVersion = parentVersion;
  }
  if (runId !== undefined) {
    if (typeof runId !== "string") throw invalidField(`${field}.runId`, "expected a string");
    lineage.runId = runId;
  }
  return lineage;
}
