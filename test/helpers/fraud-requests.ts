/**
 * Predictions sent to the test fraud deployment, and feedback for them whose labels are right or
 * wrong by construction (the model's decision is computed here from its formula), so an accuracy
 * over them is exact.
 */
import assert from "node:assert/strict";
import { expectedProbability, FRAUD_FEATURES, type TestServer } from "./app.js";
import type { fraudRows } from "./traffic.js";

export type FraudRow = ReturnType<typeof fraudRows>[number];

/** The model's score for a row. */
export const fraudScore = (r: FraudRow): number =>
  expectedProbability(FRAUD_FEATURES.map((f) => r[f as keyof FraudRow]));

/** The model's decision at threshold 0.5. */
export const fraudDecision = (r: FraudRow): number => (fraudScore(r) >= 0.5 ? 1 : 0);

/** Feedback for rows [from, to) of a request: each label right (the model's decision) or wrong. */
export function fraudLabels(
  requestId: string,
  rows: readonly FraudRow[],
  from: number,
  to: number,
  right: (i: number) => boolean,
): Array<{ request_id: string; row: number; label: number }> {
  const feedback = [];
  for (let i = from; i < to; i++) {
    const y = fraudDecision(rows[i] as FraudRow);
    feedback.push({ request_id: requestId, row: i, label: right(i) ? y : 1 - y });
  }
  return feedback;
}

/** One predict request to the fraud deployment; anything but 200 fails. */
export async function predictFraud(
  s: TestServer,
  rows: readonly FraudRow[],
  headers: Record<string, string> = {},
): Promise<void> {
  const r = await s.app.inject({
    method: "POST",
    url: "/v1/models/fraud:predict",
    headers,
    payload: { instances: rows },
  });
  assert.equal(r.statusCode, 200, `fraud predictions: ${r.body}`);
}

/**
 * Rows in requests of 50, the monitors taking each in before the next is sent.
 * `headers(from)`: the headers of the request that starts at row `from`.
 */
export async function sendFraudTraffic(
  s: TestServer,
  rows: readonly FraudRow[],
  headers: (from: number) => Record<string, string> = () => ({}),
): Promise<void> {
  for (let i = 0; i < rows.length; i += 50) {
    await predictFraud(s, rows.slice(i, i + 50), headers(i));
    await s.ballast.monitors.settled();
  }
}
