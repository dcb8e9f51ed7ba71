/**
 * Outcomes that arrive after the prediction: a label (class or number) and named business
 * events. Parsing is pure; the caller writes the records before acknowledging them.
 */
import { invalid } from "../domain/errors.js";
import type { FeedbackRecord } from "../domain/prediction.js";
import { isPlainObject } from "../domain/json-value.js";

const EVENT_NAME = /^[a-z][a-z0-9_.-]{0,63}$/i;
export const MAX_FEEDBACK_PER_CALL = 10_000;
const MAX_ROW = 1_000_000;

/**
 * Accepts `{"feedback": [item, …]}`, `[item, …]` or one item, where an item is
 * `{"request_id", "row"?, "label"?, "value"?, "event"?, "timestamp"?}`: with `event` it records
 * that business event (value optional, default 1); otherwise it records the label and/or value.
 * `row` is the index of the row within a batched request (default 0).
 */
export function decodeFeedback(body: unknown, now: number): FeedbackRecord[] {
  const items: unknown[] = Array.isArray(body)
    ? body
    : isPlainObject(body) && Array.isArray(body.feedback)
      ? body.feedback
      : [body];
  if (items.length === 0) throw invalid("feedback must not be empty");
  if (items.length > MAX_FEEDBACK_PER_CALL) {
    throw invalid(`feedback has ${items.length} items; send at most ${MAX_FEEDBACK_PER_CALL} per call`);
  }
  return items.map((item, i) => decodeItem(item, `feedback[${i}]`, now));
}

function decodeItem(item: unknown, where: string, now: number): FeedbackRecord {
  if (!isPlainObject(item))
    throw invalid(`${where} must be an object with request_id and a label, value or event`);
  const requestId = item.request_id;
  if (typeof requestId !== "string" || requestId.length === 0 || requestId.length > 256) {
    throw invalid(`${where}.request_id must be a non-empty string of at most 256 characters`);
  }
  const { label, value, event, timestamp } = item;
  const row = item.row ?? 0;
  if (typeof row !== "number" || !Number.isSafeInteger(row) || row < 0 || row > MAX_ROW) {
    throw invalid(`${where}.row must be the index of a row in the request's batch (0…${MAX_ROW})`);
  }
  if (value !== undefined && value !== null && (typeof value !== "number" || !Number.isFinite(value))) {
    throw invalid(`${where}.value must be a finite number`);
  }
  let createdAt = now;
  if (timestamp !== undefined) {
    const t = typeof timestamp === "string" ? Date.parse(timestamp) : timestamp;
    if (typeof t !== "number" || !Number.isFinite(t)) {
      throw invalid(`${where}.timestamp must be epoch milliseconds or an ISO-8601 time`);
    }
    createdAt = t;
  }
  if (event !== undefined) {
    if (typeof event !== "string" || !EVENT_NAME.test(event) || event === "label") {
      throw invalid(`${where}.event must be a name like "click" or "conversion" (letters, digits, _ . -)`);
    }
    if (label !== undefined) throw invalid(`${where} has both event and label; send them as two items`);
    return { requestId, row, kind: event, value: (value as number | null | undefined) ?? 1, createdAt };
  }
  if (label === undefined && (value === undefined || value === null)) {
    throw invalid(`${where} needs a label, a value or an event`);
  }
  if (
    label !== undefined &&
    label !== null &&
    typeof label !== "boolean" &&
    !(typeof label === "number" && Number.isFinite(label)) &&
    !(typeof label === "string" && label.length <= 256)
  ) {
    throw invalid(`${where}.label must be a number, a boolean or a string of at most 256 characters`);
  }
  return {
    requestId,
    row,
    kind: "label",
    label: label as FeedbackRecord["label"],
    value: (value as number | null | undefined) ?? null,
    createdAt,
  };
}
