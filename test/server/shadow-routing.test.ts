/** Traffic control through the server: sticky users, header cohorts, and a shadow compared with live. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expectedProbability, FRAUD_MODEL, startTestServer, type TestServer } from "../helpers/app.js";

describe("routing and shadows", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const path = join(server.dataDir, "fraud-v2.json");
    await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 }));
    await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
  });
  after(async () => server.close());

  const put = async (body: unknown) => {
    const res = await server.app.inject({
      method: "PUT",
      url: "/api/v1/deployments/shop",
      payload: body as object,
    });
    assert.equal(res.statusCode, 200, res.body);
  };
  const predict = (
    headers: Record<string, string> = {},
    instance: Record<string, unknown> = { amount: 1, hour: 3, night: 0 },
  ) =>
    server.app.inject({
      method: "POST",
      url: "/v1/models/shop:predict",
      headers,
      payload: { instances: [instance] },
    });

  test("a sticky header keeps each user on one variant; a header rule sends a cohort to a weight-0 preview", async () => {
    await put({
      variants: [
        { name: "stable", model: "fraud", version: 1, weight: 50 },
        { name: "canary", model: "fraud", version: 2, weight: 50 },
        { name: "preview", model: "fraud", version: 2, weight: 0 },
      ],
      routing: {
        sticky: { header: "x-user-id" },
        rules: [{ header: "x-cohort", value: "beta", variant: "preview" }],
      },
    });
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 40; u++) {
        const res = await predict({ "x-user-id": `user-${u}` });
        const version = (res.json() as { model_version: string }).model_version;
        seen.set(`user-${u}`, (seen.get(`user-${u}`) ?? new Set()).add(version));
      }
    }
    assert.ok(
      [...seen.values()].every((versions) => versions.size === 1),
      "each user saw one version",
    );
    const both = new Set([...seen.values()].flatMap((s) => [...s]));
    assert.deepEqual([...both].sort(), ["1", "2"], "both variants got users");
    const beta = await predict({ "x-user-id": "user-1", "x-cohort": "beta" });
    const id = (beta.json() as { request_id: string }).request_id;
    await server.ballast.predictionLog.flush();
    const logged = (
      await server.app.inject({ url: "/api/v1/predictions?deployment=shop&variant=preview" })
    ).json() as {
      predictions: Array<{ requestId: string }>;
    };
    assert.deepEqual(
      logged.predictions.map((p) => p.requestId),
      [id],
    );
  });

  test("a sticky body field works like the header", async () => {
    await put({
      variants: [
        { name: "stable", model: "fraud", version: 1, weight: 50 },
        { name: "canary", model: "fraud", version: 2, weight: 50 },
      ],
      routing: { sticky: { field: "customer" } },
    });
    for (let c = 0; c < 20; c++) {
      const versions = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await predict({}, { amount: 1, hour: 3, night: 0, customer: `c${c}` });
        versions.add((res.json() as { model_version: string }).model_version);
      }
      assert.equal(versions.size, 1);
    }
  });

  test("a shadow answers every mirrored request off the response path; agreement and differences match an independent computation", async () => {
    await put({
      variants: [
        { name: "stable", model: "fraud", version: 1, weight: 100 },
        { name: "shadow", model: "fraud", version: 2, weight: 100, shadow: true },
      ],
    });
    let agree = 0;
    let diffSum = 0;
    const rows: number[][] = [];
    for (let i = 0; i < 60; i++) rows.push([(i % 12) * 0.5, i % 24, i % 2]);
    for (const x of rows) {
      const res = await predict({}, { amount: x[0], hour: x[1], night: x[2] });
      assert.equal(res.statusCode, 200);
      assert.equal((res.json() as { model_version: string }).model_version, "1", "the shadow never answers");
      const live = expectedProbability(x);
      const shadow = 1 / (1 + Math.exp(-(Math.log(live / (1 - live)) + 1))); // intercept -2 instead of -3
      if (live >= 0.5 === shadow >= 0.5) agree++;
      diffSum += shadow - live;
    }
    await server.ballast.inference.shadows.idle();
    const res = (await server.app.inject({ url: "/api/v1/deployments/shop/shadows" })).json() as {
      shadows: Array<{
        variant: string;
        version: number;
        comparison: {
          compared: number;
          agreement: number;
          errors: number;
          scoreDifference: { mean: number };
        };
      }>;
    };
    const report = res.shadows[0];
    assert.equal(report?.variant, "shadow");
    assert.equal(report?.version, 2);
    assert.equal(report?.comparison.compared, 60);
    assert.equal(report?.comparison.errors, 0);
    assert.ok(Math.abs((report?.comparison.agreement ?? 0) - agree / 60) < 1e-12);
    assert.ok(Math.abs((report?.comparison.scoreDifference.mean ?? 0) - diffSum / 60) < 1e-6);
    const metrics = (await server.app.inject({ url: "/metrics" })).body;
    assert.match(
      metrics,
      /ballast_shadow_requests_total\{deployment="shop",variant="shadow",outcome="compared"\} 60/,
    );
    assert.match(metrics, /ballast_shadow_agreement\{deployment="shop",variant="shadow"\} /);
    await server.ballast.predictionLog.flush();
    const log = (
      await server.app.inject({ url: "/api/v1/predictions?deployment=shop&limit=1000" })
    ).json() as {
      predictions: Array<{ variant: string }>;
    };
    assert.equal(
      log.predictions.filter((p) => p.variant === "shadow").length,
      60,
      "shadow answers are logged under their variant",
    );
  });
});
