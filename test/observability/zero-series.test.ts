// Counters a rule takes rate() of exist at 0 from the first scrape, before the first event:
// per served deployment the shed and fallback counters, per limited route the rate-limit ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer } from "../helpers/app.js";

test("shed, fallback and rate-limit counters are 0 from the first scrape, per deployment and route", async () => {
  const s = await startTestServer({ app: { feedbackRate: 10 } });
  try {
    const metrics = (await s.app.inject({ url: "/metrics" })).body;
    assert.match(metrics, /^ballast_requests_shed_total\{deployment="fraud"\} 0$/m);
    for (const reason of ["error", "timeout", "nan", "circuit_open"])
      assert.match(
        metrics,
        new RegExp(`^ballast_fallback_total\\{deployment="fraud",reason="${reason}"\\} 0$`, "m"),
      );
    assert.match(metrics, /^ballast_rate_limited_requests_total\{route="\/v1\/feedback"\} 0$/m);
    assert.match(metrics, /^ballast_rate_limited_units_total\{route="\/v1\/feedback"\} 0$/m);

    // A deployment no longer served is no longer reported.
    await s.ballast.deployments.delete("fraud");
    await s.ballast.endpoints.sync();
    const after = (await s.app.inject({ url: "/metrics" })).body;
    assert.doesNotMatch(after, /^ballast_requests_shed_total\{deployment="fraud"\} 0$/m);
  } finally {
    await s.close();
  }
});
