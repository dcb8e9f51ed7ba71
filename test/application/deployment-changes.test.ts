/**
 * One way to change a deployment: HTTP, manifests and alias moves give the same outcome for the
 * same change (a version change on a deployment with a strategy goes out through it), and
 * skipping the strategy is an explicit choice, never a side effect of the door.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FRAUD_MODEL, startTestServer, type TestServer } from "../helpers/app.js";
import { readManifests } from "../../src/resources/manifest.js";
import { planChange, strategyChoice, type ChangeFacts } from "../../src/application/change-plan.js";

const STRATEGY = {
  canary: {
    steps: [{ setWeight: 20 }, { pause: {} }],
    analysis: { interval: "10s", gates: [{ metric: "error_rate", margin: 0.01, minSamples: 50 }] },
  },
};

const v = (version: number) => ({ model: "fraud", version });

describe("planChange (pure)", () => {
  const facts = (over: Partial<ChangeFacts>): ChangeFacts => ({
    choice: "follow",
    hasStrategy: true,
    servedStable: v(1),
    declaredStable: v(2),
    rollingTo: undefined,
    ...over,
  });

  test("a version change on a deployment with a strategy rolls out", () => {
    assert.deepEqual(planChange(facts({})), { kind: "rollout", from: v(1), to: v(2) });
  });
  test("skip, no strategy, or a new deployment switch at once", () => {
    assert.equal(planChange(facts({ choice: "skip" })).kind, "switch");
    assert.equal(planChange(facts({ hasStrategy: false })).kind, "switch");
    assert.equal(planChange(facts({ servedStable: undefined })).kind, "switch");
    assert.equal(planChange(facts({ declaredStable: v(1) })).kind, "switch");
  });
  test("a rollout to the same version continues; to another one conflicts", () => {
    assert.equal(planChange(facts({ rollingTo: v(2) })).kind, "continue");
    assert.equal(planChange(facts({ declaredStable: v(1), rollingTo: v(2) })).kind, "continue");
    assert.deepEqual(planChange(facts({ declaredStable: v(3), rollingTo: v(2) })), {
      kind: "conflict",
      rollingTo: v(2),
      to: v(3),
    });
  });
  test("the strategy choice is parsed strictly", () => {
    assert.equal(strategyChoice(undefined), "follow");
    assert.equal(strategyChoice("skip"), "skip");
    assert.throws(() => strategyChoice("never"), /strategy must be one of follow, skip, got 'never'/);
  });
});

describe("every door goes through the same change", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const intercept of [-2, -1]) {
      const path = join(server.dataDir, `fraud${intercept}.json`);
      await writeFile(path, JSON.stringify({ ...FRAUD_MODEL, intercept }));
      await server.ballast.registry.registerVersion({ model: "fraud", artifactPath: path });
    }
  });
  after(async () => server.close());

  const served = (name: string) =>
    server.ballast.endpoints
      .list()
      .find((d) => d.deployment.name === name)
      ?.variants.map((s) => `${s.variant.name}:v${s.version.version}@${s.variant.weight}`)
      .sort();

  const put = (name: string, version: number, query = "") =>
    server.app.inject({
      method: "PUT",
      url: `/api/v1/deployments/${name}${query}`,
      payload: { model: "fraud", version, strategy: STRATEGY },
    });

  test("HTTP PUT of a new version starts the canary; ?strategy=skip switches at once", async () => {
    assert.equal((await put("http", 1)).statusCode, 200);
    assert.deepEqual(served("http"), ["stable:v1@100"]);
    const rolled = await put("http", 2);
    assert.equal(rolled.statusCode, 200, rolled.body);
    assert.equal((rolled.json() as { rollout?: { canary: { version: number } } }).rollout?.canary.version, 2);
    assert.deepEqual(served("http"), ["canary:v2@20", "stable:v1@80"]);
    assert.equal(
      (await server.app.inject({ method: "POST", url: "/api/v1/deployments/http/rollout/abort" })).statusCode,
      200,
    );

    const skipped = await put("http", 3, "?strategy=skip");
    assert.equal(skipped.statusCode, 200, skipped.body);
    assert.equal((skipped.json() as { rollout?: unknown }).rollout, undefined);
    assert.deepEqual(served("http"), ["stable:v3@100"]);

    const bad = await put("http", 2, "?strategy=sometimes");
    assert.equal(bad.statusCode, 400);
    assert.equal((bad.json() as { code: string }).code, "invalid_argument");
    assert.deepEqual(served("http"), ["stable:v3@100"]);
  });

  test("a manifest makes the same change as the PUT", async () => {
    const yaml = (version: number) => `apiVersion: ballast/v1
kind: Deployment
metadata: {name: yaml}
spec:
  variants: [{model: fraud, version: ${version}}]
  strategy: ${JSON.stringify(STRATEGY)}
`;
    const apply = (version: number) =>
      server.app.inject({
        method: "POST",
        url: "/api/v1/apply",
        payload: {
          resources: readManifests(yaml(version), "yaml.yaml").map((m) => ({
            manifest: m.manifest,
            origin: m.origin,
          })),
        },
      });
    assert.equal((await apply(1)).statusCode, 200);
    assert.equal((await apply(2)).statusCode, 200);
    assert.deepEqual(served("yaml"), ["canary:v2@20", "stable:v1@80"]);
    await server.app.inject({ method: "POST", url: "/api/v1/deployments/yaml/rollout/abort" });
  });

  test("moving an alias rolls it out on deployments with a strategy, switches the others", async () => {
    const alias = (version: number, query = "") =>
      server.app.inject({
        method: "PUT",
        url: `/api/v1/models/fraud/aliases/prod${query}`,
        payload: { version },
      });
    assert.equal((await alias(1)).statusCode, 200);
    for (const [name, strategy] of [
      ["careful", STRATEGY],
      ["plain", undefined],
    ] as const) {
      const res = await server.app.inject({
        method: "PUT",
        url: `/api/v1/deployments/${name}`,
        payload: { model: "fraud", alias: "prod", ...(strategy === undefined ? {} : { strategy }) },
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    const moved = await alias(2);
    assert.equal(moved.statusCode, 200, moved.body);
    assert.deepEqual(
      (moved.json() as { rollouts: Array<{ deployment: string }> }).rollouts.map((r) => r.deployment),
      ["careful"],
    );
    assert.deepEqual(served("careful"), ["canary:v2@20", "stable:v1@80"]);
    assert.deepEqual(served("plain"), ["stable:v2@100"]);
    await server.app.inject({ method: "POST", url: "/api/v1/deployments/careful/rollout/abort" });

    // Explicitly skipped: the careful deployment, pinned since its rollout, is not following any more;
    // one that follows the alias with a strategy switches at once.
    assert.equal(
      (
        await server.app.inject({
          method: "PUT",
          url: "/api/v1/deployments/careful2",
          payload: { model: "fraud", alias: "prod", strategy: STRATEGY },
        })
      ).statusCode,
      200,
    );
    const skipped = await alias(3, "?strategy=skip");
    assert.equal(skipped.statusCode, 200, skipped.body);
    assert.deepEqual((skipped.json() as { rollouts: unknown[] }).rollouts, []);
    assert.deepEqual(served("careful2"), ["stable:v3@100"]);
  });
});
