/**
 * Issue 8 item 14: clients that send only the model's features left `merchant_category` out of
 * 61.5% of rows, and the live drift report called it drifted. Missing values are their own share,
 * not distribution drift, unless the monitor asks (`missing: "drift"`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fraudRows } from "../helpers/traffic.js";
import { startTestServer } from "../helpers/app.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import { createRandom } from "../../src/sim/random.js";

const CATEGORIES = ["grocery", "travel", "electronics", "fuel", "dining"];
const MIX = [0.4, 0.1, 0.15, 0.2, 0.15];

/** Fraud rows with a merchant category drawn from one mix; `missing` of them lack it. */
function rows(seed: number, n: number, missing: number): Array<Record<string, unknown>> {
  const random = createRandom(seed + 1000);
  return fraudRows(seed, n).map((row) => {
    const category = CATEGORIES[random.categorical(MIX)] as string;
    return random.uniform() < missing ? row : { ...row, merchant_category: category };
  });
}

test("rows lacking a feature are its missing share, not drift, unless the monitor asks", async () => {
  const s = await startTestServer();
  try {
    const builder = new ProfileBuilder();
    builder.add(rows(1, 5000, 0));
    await s.ballast.registry.attachReference("fraud", 1, builder.finish());
    const monitor = (name: string, missing?: string) =>
      s.app.inject({
        method: "PUT",
        url: `/api/v1/monitors/${name}`,
        payload: {
          deployment: "fraud",
          features: ["amount", "merchant_category"],
          window: { kind: "tumbling", by: "count", size: 1000 },
          ...(missing === undefined ? {} : { missing }),
        },
      });
    assert.equal((await monitor("by-default")).statusCode, 200);
    assert.equal((await monitor("asks-for-it", "drift")).statusCode, 200);
    assert.equal((await monitor("bad", "maybe")).statusCode, 400);

    const live = rows(2, 1000, 0.6);
    for (let i = 0; i < live.length; i += 100) {
      const r = await s.app.inject({
        method: "POST",
        url: "/v1/models/fraud:predict",
        payload: { instances: live.slice(i, i + 100) },
      });
      assert.equal(r.statusCode, 200, r.body);
    }
    await s.ballast.monitors.settled();
    const absent = live.filter((r) => r.merchant_category === undefined).length / live.length;

    const category = async (name: string) => {
      const status = (await s.app.inject(`/api/v1/monitors/${name}`)).json();
      return status.variants[0].latest.drift.features.find(
        (f: { feature: string }) => f.feature === "merchant_category",
      ) as { drifted: boolean; missingShare: number; referenceMissingShare: number; score: number };
    };
    const ignored = await category("by-default");
    assert.equal(ignored.drifted, false, JSON.stringify(ignored));
    assert.equal(ignored.missingShare, absent);
    assert.equal(ignored.referenceMissingShare, 0);
    const counted = await category("asks-for-it");
    assert.equal(counted.drifted, true, JSON.stringify(counted));
    assert.equal(counted.missingShare, absent);

    const metrics = (await s.app.inject("/metrics")).body;
    assert.match(
      metrics,
      new RegExp(
        `ballast_feature_missing_share\\{monitor="by-default",deployment="fraud",variant="stable",segment="",feature="merchant_category"\\} ${absent}`,
      ),
    );

    // The prediction log's drift report reads the same rows the same way.
    const log = (q = "") => s.app.inject(`/api/v1/deployments/fraud/drift?${q}`).then((r) => r.json());
    const fromLog = (r: { groups: Array<{ drift: { features: Array<Record<string, unknown>> } }> }) =>
      r.groups[0]!.drift.features.find((f) => f.feature === "merchant_category")!;
    assert.equal(fromLog(await log()).drifted, false);
    assert.equal(fromLog(await log()).missingShare, absent);
    assert.equal(fromLog(await log("missing=drift")).drifted, true);
  } finally {
    await s.close();
  }
});
