import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isBallastError, type ErrorCode } from "../../src/domain/errors.js";
import { ProfileBuilder } from "../../src/monitoring/profile/profile-builder.js";
import type { ReferenceProfile } from "../../src/monitoring/profile/reference-profile.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { fixture, T0, type Fixture } from "./setup.js";

function fails(code: ErrorCode, message?: RegExp) {
  return (error: unknown) =>
    isBallastError(error) && error.code === code && (message === undefined || message.test(error.message));
}

/** A profile of `rows` rows with the given columns; values differ per `seed`. */
function profileOf(columns: readonly string[], rows = 40, seed = 0): ReferenceProfile {
  const outputs = columns.filter((c) => c === "probability");
  const builder = new ProfileBuilder({ clock: { now: () => T0 }, outputs });
  builder.add(
    Array.from({ length: rows }, (_, i) =>
      Object.fromEntries(columns.map((c, j) => [c, ((i * (j + 3) + seed) % 17) + 0.5])),
    ),
  );
  return builder.finish();
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describeStores("reference profiles", (c) => {
  let opened: OpenedStore;
  let fx: Fixture;
  beforeEach(async () => {
    opened = await c.open();
    fx = fixture(opened);
  });
  afterEach(() => opened.cleanup());

  test("a version registered with a profile stores it as an artifact and reads it back", async () => {
    const profile = profileOf(["amount", "age", "hour", "probability"], 40);
    const { version } = await fx.registry.registerVersion({
      model: "fraud",
      artifactPath: await fx.builtin("a"),
      referenceProfile: profile,
    });
    const stored = version.referenceProfile;
    assert.ok(stored);
    // The hash is that of the profile's JSON, computed here independently of the store.
    assert.equal(stored.sha256, sha256(JSON.stringify(profile)));
    assert.deepEqual({ rows: stored.rows, features: stored.features }, { rows: 40, features: 4 });
    assert.equal(await readFile(fx.artifacts.pathFor(stored.sha256), "utf8"), JSON.stringify(profile));
    assert.deepEqual(await fx.registry.getVersion("fraud", 1), version);
    assert.deepEqual((await fx.registry.listVersions("fraud"))[0]?.referenceProfile, stored);
    assert.deepEqual(await fx.registry.getReference("fraud", 1), profile);
  });

  test("a version without a profile says so with null", async () => {
    const { version } = await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    assert.equal(version.referenceProfile, null);
    assert.equal((await fx.registry.getVersion("m", 1)).referenceProfile, null);
    assert.equal(await fx.registry.getReference("m", 1), null);
  });

  test("a profile missing features the signature names is refused, naming them, and nothing is registered", async () => {
    const profile = profileOf(["amount", "other"]);
    await assert.rejects(
      fx.registry.registerVersion({
        model: "m",
        artifactPath: await fx.builtin(1),
        referenceProfile: profile,
      }),
      (error: unknown) =>
        fails("invalid_argument", /"age", "hour"/)(error) &&
        isBallastError(error) &&
        JSON.stringify(error.details?.missing) === JSON.stringify(["age", "hour"]),
    );
    await assert.rejects(fx.registry.getModel("m"), fails("not_found"));
  });

  test("a feature present only as a model output does not stand in for an input", async () => {
    const profile = profileOf(["amount", "age", "probability"]);
    const bad = {
      ...profile,
      features: profile.features.map((f) => ({ ...f, name: f.name === "probability" ? "hour" : f.name })),
    };
    assert.equal(bad.features.find((f) => f.name === "hour")?.role, "output");
    await assert.rejects(
      fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1), referenceProfile: bad }),
      fails("invalid_argument", /"hour"/),
    );
  });

  test("without signature features any valid profile is accepted", async () => {
    const { version } = await fx.registry.registerVersion({
      model: "m",
      artifactPath: await fx.builtin(1, null),
      referenceProfile: profileOf(["x"], 5),
    });
    assert.equal(version.referenceProfile?.rows, 5);
  });

  test("something that is not a profile is refused with the profile's own complaint", async () => {
    const path = await fx.builtin(1);
    const notProfile = { version: 2, rows: 1, features: [], createdAt: 0 } as unknown as ReferenceProfile;
    await assert.rejects(
      fx.registry.registerVersion({ model: "m", artifactPath: path, referenceProfile: notProfile }),
      (error: unknown) =>
        fails("invalid_argument", /profile\.version must be 1/)(error) &&
        isBallastError(error) &&
        error.details?.field === "referenceProfile",
    );
    const inconsistent = profileOf(["amount", "age", "hour"], 10);
    const broken = { ...inconsistent, rows: 11 };
    await assert.rejects(
      fx.registry.registerVersion({ model: "m", artifactPath: path, referenceProfile: broken }),
      fails("invalid_argument", /count \+ missing must equal profile\.rows \(11\)/),
    );
  });

  test("attachReference adds or replaces the profile; the artifact never changes", async () => {
    const { version } = await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    const first = profileOf(["amount", "age", "hour"], 20, 1);
    const second = profileOf(["amount", "age", "hour"], 30, 2);
    const attached = await fx.registry.attachReference("m", 1, first);
    assert.deepEqual(attached, {
      ...version,
      referenceProfile: { sha256: sha256(JSON.stringify(first)), rows: 20, features: 3 },
    });
    const replaced = await fx.registry.attachReference("m", 1, second);
    assert.equal(replaced.referenceProfile?.sha256, sha256(JSON.stringify(second)));
    assert.equal(replaced.artifactSha256, version.artifactSha256);
    assert.deepEqual(await fx.registry.getReference("m", 1), second);
    assert.deepEqual(await fx.registry.getVersion("m", 1), replaced);
  });

  test("the same profile gets the same hash whatever the order of its keys", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    const profile = profileOf(["amount", "age", "hour"], 12);
    const reordered = JSON.parse(
      JSON.stringify(profile, (_k, v: unknown) =>
        v !== null && typeof v === "object" && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).reverse())
          : v,
      ),
    ) as ReferenceProfile;
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(profile));
    const a = await fx.registry.attachReference("m", 1, profile);
    const b = await fx.registry.attachReference("m", 1, reordered);
    assert.equal(b.referenceProfile?.sha256, a.referenceProfile?.sha256);
  });

  test("attachReference checks against the version's signature", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    await assert.rejects(
      fx.registry.attachReference("m", 1, profileOf(["amount", "hour"])),
      fails("invalid_argument", /"age"/),
    );
    assert.equal((await fx.registry.getVersion("m", 1)).referenceProfile, null);
  });

  test("unknown models and versions are not found", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    const profile = profileOf(["amount", "age", "hour"]);
    await assert.rejects(fx.registry.attachReference("m", 2, profile), fails("not_found", /version 2/));
    await assert.rejects(fx.registry.attachReference("nope", 1, profile), fails("not_found", /nope/));
    await assert.rejects(fx.registry.getReference("m", 9), fails("not_found", /version 9/));
  });

  test("registering the same bytes again with a profile attaches it to the existing version", async () => {
    const path = await fx.builtin(1);
    await fx.registry.registerVersion({ model: "m", artifactPath: path });
    const profile = profileOf(["amount", "age", "hour"], 8);
    const { version, created } = await fx.registry.registerVersion({
      model: "m",
      artifactPath: path,
      referenceProfile: profile,
    });
    assert.equal(created, false);
    assert.equal(version.version, 1);
    assert.equal(version.referenceProfile?.rows, 8);
    assert.deepEqual(await fx.registry.getReference("m", 1), profile);
  });

  test("deleting a version leaves no reference behind for its number", async () => {
    await fx.registry.registerVersion({
      model: "m",
      artifactPath: await fx.builtin(1),
      referenceProfile: profileOf(["amount", "age", "hour"]),
    });
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(2) });
    await fx.registry.deleteVersion("m", 1);
    await assert.rejects(fx.registry.getReference("m", 1), fails("not_found"));
    assert.equal(await fx.registry.getReference("m", 2), null);
  });
});
