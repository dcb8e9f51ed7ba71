import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, expectedProbability } from "../helpers/app.js";

test("performance by prediction time: late labels land in their prediction's bucket, with coverage", async () => {
  const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  try {
    const hour = 3_600_000;
    s.clock.t = 100 * hour; // bucket boundaries on the hour
    const day1 = [
      [3, 2, 1],
      [0.1, 14, 0],
      [5, 1, 1],
      [0.2, 12, 0],
    ];
    await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "x-request-id": "batch-a" },
      payload: { instances: day1 },
    });
    s.clock.advance(hour);
    await s.app.inject({
      method: "POST",
      url: "/v1/models/fraud:predict",
      headers: { "x-request-id": "one-b" },
      payload: { instances: [[4, 3, 1]] },
    });
    // Labels arrive an hour later still, for rows 0, 1 and 2 of the first request; an event on the second.
    s.clock.advance(hour);
    const feedback = [
      { request_id: "batch-a", row: 0, label: 1 },
      { request_id: "batch-a", row: 1, label: 0 },
      { request_id: "batch-a", row: 2, label: 0 },
      { request_id: "one-b", event: "chargeback", value: 80 },
    ];
    assert.equal(
      (await s.app.inject({ method: "POST", url: "/v1/feedback", payload: { feedback } })).statusCode,
      200,
    );

    const res = await s.app.inject(
      `/api/v1/deployments/fraud/performance?since=${100 * hour}&until=${103 * hour}&bucket=1h`,
    );
    assert.equal(res.statusCode, 200, res.body);
    const [first, second] = res.json().buckets;
    assert.equal(first.start, 100 * hour);
    assert.equal(first.classification.count, 4);
    assert.equal(first.classification.labelled, 3);
    assert.equal(first.classification.coverage, 0.75);
    // Predicted labels at 0.5, computed here from the model's formula.
    const predicted = day1.slice(0, 3).map((x) => (expectedProbability(x) >= 0.5 ? 1 : 0));
    const truth = [1, 0, 0];
    const correct = predicted.filter((p, i) => p === truth[i]).length;
    assert.equal(first.classification.accuracy, correct / 3);
    assert.equal(second.start, 101 * hour);
    assert.equal(second.classification.labelled, 0);
    assert.equal(second.classification.accuracy, null);
    assert.deepEqual(second.events.events.chargeback, { count: 1, rate: 1, valueSum: 80, valued: 1 });

    const bad = await s.app.inject(`/api/v1/deployments/fraud/performance?bucket=1ms`);
    assert.equal(bad.statusCode, 400);
    assert.equal((await s.app.inject("/api/v1/deployments/nope/performance")).statusCode, 404);
  } finally {
    await s.close();
  }
});
