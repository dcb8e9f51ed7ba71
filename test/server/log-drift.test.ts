import { test } from "node:test";
import { fraudRows } from "../helpers/traffic.js";
import assert from "node:assert/strict";
import { startTestServer } from "../helpers/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";

test("drift of what a deployment received over a period, read back from the prediction log", async () => {
  const s = await startTestServer({ ballast: { predictionLog: { flushIntervalMs: 60_000 } } });
  try {
    const builder = new ProfileBuilder();
    builder.add(fraudRows(1, 4000, 1));
    await s.ballast.registry.attachReference("fraud", 1, builder.finish());
    const t0 = s.clock.now();
    // Named features, in batches, and the same kind of rows as tensors: both are read back.
    const early = fraudRows(2, 600, 1);
    for (let i = 0; i < early.length; i += 100) {
      await s.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        payload: { instances: early.slice(i, i + 100) },
      });
    }
    s.clock.advance(3_600_000);
    const late = fraudRows(3, 600, 3);
    for (let i = 0; i < late.length; i += 100) {
      const data = late.slice(i, i + 100).map((r) => [r.amount, r.hour, r.night]);
      await s.app.inject({
        method: "POST",
        url: "/v2/models/fraud/infer",
        payload: { inputs: [{ name: "input", datatype: "FP32", shape: [data.length, 3], data }] },
      });
    }
    const drift = (q: string) => s.app.inject(`/api/v1/deployments/fraud/drift?${q}`).then((r) => r.json());
    const first = await drift(`since=${t0}&until=${t0 + 1}`);
    assert.equal(first.predictions, 6);
    assert.equal(first.groups[0].rows, 600);
    assert.deepEqual(
      first.groups[0].drift.features
        .filter((f: { drifted: boolean }) => f.drifted)
        .map((f: { feature: string }) => f.feature),
      [],
    );
    const second = await drift(`since=${t0 + 1}&until=${t0 + 7_200_000}`);
    assert.equal(
      second.groups[0].rows,
      600,
      "tensor requests are read through the signature's feature names",
    );
    assert.deepEqual(
      second.groups[0].drift.features
        .filter((f: { drifted: boolean }) => f.drifted)
        .map((f: { feature: string }) => f.feature),
      ["amount"],
    );
    // The logged values fit in memory: only the reference profile's sketch adds error (0.015 of
    // D, not 0.03); past maxExactRows both sides are sketches again.
    type Features = {
      groups: Array<{ drift: { features: Array<{ feature: string; errorBound: number }> } }>;
    };
    const boundOf = (r: Features) =>
      r.groups[0]!.drift.features.find((f) => f.feature === "amount")!.errorBound;
    const halfExact = boundOf(second);
    const sketched = boundOf(await drift(`since=${t0 + 1}&until=${t0 + 7_200_000}&maxExactRows=10`));
    assert.ok(halfExact > 0, "the reference profile's sketch is not exact at this size");
    assert.ok(Math.abs(sketched - 2 * halfExact) < 1e-12, `${sketched} = 2 × ${halfExact}`);

    assert.equal((await s.app.inject("/api/v1/deployments/nope/drift")).statusCode, 404);
    const bad = await s.app.inject(`/api/v1/deployments/fraud/drift?since=${t0 + 10}&until=${t0}`);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /since must be before until/);
  } finally {
    await s.close();
  }
});
