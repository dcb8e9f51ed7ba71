/** How `ballast feedback` turns a file row into feedback items (pure). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { feedbackItems, type FeedbackColumns } from "../../src/cli/commands/feedback.js";

const columns: FeedbackColumns = {
  requestId: "request_id",
  row: "row",
  label: "is_fraud",
  events: { chargeback: "disputed" },
};

test("a row gives its label keyed by request id and row, and an event only where it happened", () => {
  assert.deepEqual(
    feedbackItems({ request_id: "r1", row: 3, is_fraud: 1, disputed: 0 }, columns, "f line 2"),
    [{ request_id: "r1", row: 3, label: 1 }],
  );
  assert.deepEqual(
    feedbackItems({ request_id: "r1", row: "4", is_fraud: "", disputed: 1 }, columns, "f line 3"),
    [{ request_id: "r1", row: 4, event: "chargeback", value: 1 }],
  );
  assert.deepEqual(feedbackItems({ request_id: 17, is_fraud: 0 }, { ...columns, events: {} }, "x"), [
    { request_id: "17", row: 0, label: 0 },
  ]);
});

test("a row without a request id, or with a bad row index, is an error naming the line", () => {
  assert.throws(
    () => feedbackItems({ row: 0, is_fraud: 1 }, columns, "f line 7"),
    /f line 7: column "request_id"/,
  );
  assert.throws(
    () => feedbackItems({ request_id: "r", row: -1 }, columns, "f line 8"),
    /f line 8: column "row"/,
  );
  assert.throws(() => feedbackItems([1, 2], columns, "f line 9"), /named columns/);
});
