/**
 * Two Ballast replicas on one PostgreSQL database, each with a data directory of its own: a
 * version registered through one is served by the other (its artifact comes from the database).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { storeCases } from "../helpers/stores.js";

const postgres = storeCases().find((s) => s.name === "postgres")!;

const predict = (s: TestServer) =>
  s.app.inject({
    method: "POST",
    url: "/v1/models/fraud:predict",
    payload: { instances: [{ amount: 1, hour: 2, night: 0 }] },
  });

test("a version registered through one replica is served by another", { skip: postgres.skip }, async () => {
  const database = await postgres.open();
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  try {
    // b is up before the version exists; a registers and deploys it.
    b = await startTestServer({ ballast: { storeUrl: database.url }, deploy: false });
    a = await startTestServer({ ballast: { storeUrl: database.url } });
    const version = (await b.ballast.registry.listVersions("fraud"))[0]!;
    assert.equal(await b.ballast.artifacts.exists(version.artifactSha256, "local"), false);
    await b.ballast.endpoints.sync();
    const [fromA, fromB] = [await predict(a), await predict(b)];
    assert.equal(fromB.statusCode, 200, fromB.body);
    assert.deepEqual(fromB.json().predictions, fromA.json().predictions);
    assert.equal(await b.ballast.artifacts.exists(version.artifactSha256, "local"), true);
  } finally {
    await a?.close();
    await b?.close();
    await database.cleanup();
  }
});
