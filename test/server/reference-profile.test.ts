/** Reference profiles through the HTTP registry API. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { FRAUD_MODEL, startTestServer, type TestServer } from "../helpers/app.js";

function profileOf(columns: readonly string[], rows: number): ReferenceProfile {
  const builder = new ProfileBuilder({ clock: { now: () => 1_700_000_000_000 } });
  builder.add(
    Array.from({ length: rows }, (_, i) =>
      Object.fromEntries(columns.map((c, j) => [c, (i * (j + 2)) % 11])),
    ),
  );
  return builder.finish();
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("reference profiles over HTTP", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(); // fraud v1: features amount, hour, night; no reference
  });
  after(() => s.close());

  async function upload(bytes: string): Promise<string> {
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/artifacts",
      headers: { "content-type": "application/octet-stream" },
      payload: Buffer.from(bytes),
    });
    assert.equal(res.statusCode, 201, res.body);
    return (res.json() as { artifact: string }).artifact;
  }

  let seed = 0;
  async function newModelArtifact(): Promise<string> {
    return upload(JSON.stringify({ ...FRAUD_MODEL, intercept: -10 - ++seed }));
  }

  test("register with an uploaded profile, then read it back", async () => {
    const profile = profileOf(["amount", "hour", "night"], 25);
    const reference = await upload(JSON.stringify(profile));
    const reg = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference },
    });
    assert.equal(reg.statusCode, 201, reg.body);
    const version = (reg.json() as { version: { version: number; referenceProfile: unknown } }).version;
    assert.deepEqual(version.referenceProfile, {
      sha256: sha256(JSON.stringify(profile)),
      rows: 25,
      features: 3,
    });
    const shown = await s.app.inject(`/api/v1/models/fraud/versions/${version.version}`);
    assert.deepEqual(
      (shown.json() as { referenceProfile: unknown }).referenceProfile,
      version.referenceProfile,
    );
    const got = await s.app.inject(`/api/v1/models/fraud/versions/${version.version}/reference`);
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.json(), profile);
  });

  test("a version without a reference answers 404 saying how to attach one", async () => {
    const res = await s.app.inject("/api/v1/models/fraud/versions/1/reference");
    assert.equal(res.statusCode, 404);
    assert.match(res.json().error, /version 1 has no reference profile; attach one with PUT/);
  });

  test("PUT attaches a profile to an existing version and replaces it later", async () => {
    const first = profileOf(["amount", "hour", "night"], 9);
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/models/fraud/versions/1/reference",
      payload: first,
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal((put.json() as { referenceProfile: { rows: number } }).referenceProfile.rows, 9);
    const second = profileOf(["amount", "hour", "night", "extra"], 14);
    const again = await s.app.inject({
      method: "PUT",
      url: "/api/v1/models/fraud/versions/1/reference",
      payload: second,
    });
    assert.equal(again.statusCode, 200, again.body);
    const got = await s.app.inject("/api/v1/models/fraud/versions/1/reference");
    assert.deepEqual(got.json(), second);
  });

  test("an uploaded file that is not a profile is a 400 naming the problem", async () => {
    const notProfile = await upload(JSON.stringify({ hello: "world" }));
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference: notProfile },
    });
    assert.equal(res.statusCode, 400);
    assert.match(
      res.json().error,
      new RegExp(`reference ${notProfile} is not a reference profile: .*version`),
    );

    const notJson = await upload("amount,hour\n1,2\n");
    const res2 = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference: notJson },
    });
    assert.equal(res2.statusCode, 400);
    assert.match(res2.json().error, /is not a reference profile: reference profile is not valid JSON/);

    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/models/fraud/versions/1/reference",
      payload: { version: 1, rows: 0, features: [], createdAt: 0 },
    });
    assert.equal(put.statusCode, 400);
    assert.match(put.json().error, /profile\.rows must be at least 1/);
  });

  test("a malformed or missing reference hash is refused", async () => {
    const bad = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference: "profile.json" },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /reference must be "sha256:<64 hex>"/);
    const missing = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference: `sha256:${"0".repeat(64)}` },
    });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().error, /was not uploaded/);
  });

  test("a profile missing a signature feature is a 400 naming it, and no version is made", async () => {
    const before = (await s.app.inject("/api/v1/models/fraud")).json() as { versions: unknown[] };
    const reference = await upload(JSON.stringify(profileOf(["amount", "hour"], 5)));
    const res = await s.app.inject({
      method: "POST",
      url: "/api/v1/models/fraud/versions",
      payload: { artifact: await newModelArtifact(), reference },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error, /lacks input feature "night"/);
    const afterwards = (await s.app.inject("/api/v1/models/fraud")).json() as { versions: unknown[] };
    assert.equal(afterwards.versions.length, before.versions.length);

    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/models/fraud/versions/1/reference",
      payload: profileOf(["hour"], 5),
    });
    assert.equal(put.statusCode, 400);
    assert.match(put.json().error, /lacks input features "amount", "night"/);
  });

  test("unknown versions and models are 404", async () => {
    const profile = profileOf(["amount", "hour", "night"], 5);
    for (const [method, url] of [
      ["GET", "/api/v1/models/fraud/versions/99/reference"],
      ["PUT", "/api/v1/models/fraud/versions/99/reference"],
      ["GET", "/api/v1/models/nope/versions/1/reference"],
    ] as const) {
      const res = await s.app.inject({ method, url, ...(method === "PUT" ? { payload: profile } : {}) });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.match(res.json().error, /99|nope/);
    }
    const badNumber = await s.app.inject("/api/v1/models/fraud/versions/x/reference");
    assert.equal(badNumber.statusCode, 400);
  });
});
