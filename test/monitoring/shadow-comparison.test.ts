import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ShadowComparison } from "../../src/monitoring/shadow-comparison.js";

describe("shadow comparison", () => {
  test("agreement by threshold for single scores, by argmax for several, by equality for labels", () => {
    const c = new ShadowComparison(0.5);
    c.record([[0.2], [0.7], [0.55]], [[0.3], [0.4], [0.9]], 2, true); // agree, disagree, agree
    c.record([[0.1, 0.9]], [[0.6, 0.4]], 4, true); // argmax 1 vs 0: disagree
    c.record([["fraud"], ["ok"]], [["fraud"], ["fraud"]], 3, false); // agree, disagree
    const s = c.snapshot();
    assert.equal(s.compared, 3);
    assert.equal(s.rows, 6);
    assert.equal(s.agreement, 3 / 6);
  });

  test("score differences are shadow minus live, with their mean and extremes", () => {
    const c = new ShadowComparison();
    c.record([[0.2], [0.7]], [[0.3], [0.4]], 1, true);
    const d = c.snapshot().scoreDifference;
    assert.equal(d.count, 2);
    assert.ok(Math.abs((d.mean ?? 0) - (0.1 - 0.3) / 2) < 1e-12);
    assert.ok(Math.abs((d.maxAbs ?? 0) - 0.3) < 1e-12);
    assert.ok(Math.abs((d.p01 ?? 0) - -0.3) < 1e-12);
  });

  test("rows one side lacks count as disagreement; errors and skips are counted; empty is null, not NaN", () => {
    const c = new ShadowComparison();
    assert.equal(c.snapshot().agreement, null);
    assert.equal(c.snapshot().scoreDifference.mean, null);
    c.record([[0.9], [0.9]], [[0.9]], 1, true);
    c.recordError();
    c.recordSkipped();
    const s = c.snapshot();
    assert.equal(s.agreement, 1 / 2);
    assert.equal(s.errors, 1);
    assert.equal(s.skipped, 1);
  });

  test("latency quantiles over many mirrored calls", () => {
    const c = new ShadowComparison();
    for (let i = 1; i <= 1000; i++) c.record([[0.5]], [[0.5]], i, true);
    const { p50, p99 } = c.snapshot().latencyMs;
    assert.ok(Math.abs((p50 ?? 0) - 500) <= 10, `p50 ${p50}`);
    assert.ok(Math.abs((p99 ?? 0) - 990) <= 10, `p99 ${p99}`);
  });
});
