import { afterEach, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isBallastError, type ErrorCode } from "../../src/domain/errors.js";
import type { Signature } from "../../src/domain/model.js";
import { Registry } from "../../src/registry/registry.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { fixture, SIGNATURE, T0, type Fixture } from "./setup.js";

function fails(
  code: ErrorCode,
  check: (message: string, details: Record<string, unknown>) => boolean = () => true,
) {
  return (error: unknown) =>
    isBallastError(error) && error.code === code && check(error.message, error.details ?? {});
}
const invalidAt = (field: string) => fails("invalid_argument", (_m, d) => d.field === field);

describeStores("registry", (c) => {
  let opened: OpenedStore;
  let fx: Fixture;
  beforeEach(async () => {
    opened = await c.open();
    fx = fixture(opened);
  });
  afterEach(() => opened.cleanup());

  test("the first registration creates the model and version 1, with the artifact stored by hash", async () => {
    const path = await fx.builtin("a");
    const { version, created } = await fx.registry.registerVersion({
      model: "fraud",
      artifactPath: path,
      tags: { team: "risk" },
      description: "first",
      metrics: { auc: 0.91 },
      lineage: { runId: "run-1", parameters: { c: 1 } },
    });
    const sha256 = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    assert.equal(created, true);
    assert.deepEqual(version, {
      model: "fraud",
      version: 1,
      flavor: "builtin",
      artifactSha256: sha256,
      artifactSize: (await readFile(path)).length,
      signature: SIGNATURE,
      tags: { team: "risk" },
      description: "first",
      metrics: { auc: 0.91 },
      lineage: { runId: "run-1", parameters: { c: 1 } },
      source: path,
      createdAt: T0,
      referenceProfile: null,
    });
    assert.equal(await fx.artifacts.exists(sha256), true);
    // The runtime inspects the stored copy, the one that will be served.
    assert.deepEqual(fx.inspected, [{ flavor: "builtin", path: fx.artifacts.pathFor(sha256) }]);
    assert.deepEqual(await fx.registry.getVersion("fraud", 1), version);

    const model = await fx.registry.getModel("fraud");
    assert.deepEqual(model, {
      name: "fraud",
      description: "",
      createdAt: T0,
      updatedAt: T0,
      latestVersion: 1,
      aliases: {},
      tags: {},
    });
  });

  test("versions are numbered 1, 2, 3 and numbers are never reused after a delete", async () => {
    for (const seed of [1, 2, 3]) {
      fx.clock.time = T0 + seed;
      const { version } = await fx.registry.registerVersion({
        model: "m",
        artifactPath: await fx.builtin(seed),
      });
      assert.equal(version.version, seed);
      assert.equal(version.createdAt, T0 + seed);
    }
    assert.deepEqual(
      (await fx.registry.listVersions("m")).map((v) => v.version),
      [1, 2, 3],
    );
    assert.equal((await fx.registry.getModel("m")).updatedAt, T0 + 3);

    await fx.registry.deleteVersion("m", 3);
    assert.equal((await fx.registry.getModel("m")).latestVersion, 2);
    assert.equal((await fx.registry.resolve("m", { alias: "latest" })).version, 2);
    const { version } = await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(4) });
    assert.equal(version.version, 4);
  });

  test("concurrent registrations of one model get distinct, consecutive versions", async () => {
    const paths = await Promise.all(Array.from({ length: 12 }, (_, i) => fx.builtin(`c${i}`)));
    await Promise.all(Array.from({ length: 8 }, () => fx.registry.listModels()));
    fx.holdInspections(12);
    const results = await Promise.all(
      paths.map((p) => fx.registry.registerVersion({ model: "busy", artifactPath: p })),
    );
    const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
    assert.deepEqual(
      numbers,
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    // Each number belongs to the artifact that got it.
    for (const r of results) {
      assert.equal(
        (await fx.registry.getVersion("busy", r.version.version)).artifactSha256,
        r.version.artifactSha256,
      );
    }
  });

  test("concurrent registrations of the same bytes create one version", async () => {
    // The model exists already, so nothing but the model-row lock orders the duplicate checks.
    await fx.registry.registerVersion({ model: "dup", artifactPath: await fx.builtin("first") });
    const path = await fx.builtin("same");
    // Open the pool's connections first so that connecting does not stagger the transactions.
    await Promise.all(Array.from({ length: 8 }, () => fx.registry.listModels()));
    fx.holdInspections(6);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => fx.registry.registerVersion({ model: "dup", artifactPath: path })),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual(new Set(results.map((r) => r.version.version)), new Set([2]));
    assert.equal((await fx.registry.listVersions("dup")).length, 2);
  });

  test("a duplicate artifact returns the existing version unless allowDuplicate", async () => {
    const path = await fx.builtin("d");
    const first = await fx.registry.registerVersion({ model: "m", artifactPath: path });
    const again = await fx.registry.registerVersion({
      model: "m",
      artifactPath: path,
      description: "ignored",
    });
    assert.equal(again.created, false);
    assert.deepEqual(again.version, first.version);

    const forced = await fx.registry.registerVersion({
      model: "m",
      artifactPath: path,
      allowDuplicate: true,
    });
    assert.equal(forced.created, true);
    assert.equal(forced.version.version, 2);
    assert.equal(forced.version.artifactSha256, first.version.artifactSha256);

    // The newest of several identical versions is the one returned.
    const third = await fx.registry.registerVersion({ model: "m", artifactPath: path });
    assert.equal(third.created, false);
    assert.equal(third.version.version, 2);

    // Another model may hold the same bytes as its own version 1.
    const other = await fx.registry.registerVersion({ model: "other", artifactPath: path });
    assert.equal(other.created, true);
    assert.equal(other.version.version, 1);
  });

  test("flavor is inferred from the file, or refused with a hint to pass --flavor", async () => {
    const onnx = await fx.file("model.onnx", new Uint8Array([8, 1, 18, 0]));
    assert.equal(
      (await fx.registry.registerVersion({ model: "o", artifactPath: onnx })).version.flavor,
      "onnx",
    );
    const http = await fx.file("remote.json", JSON.stringify({ format: "ballast.http/v1", url: "http://x" }));
    assert.equal(
      (await fx.registry.registerVersion({ model: "h", artifactPath: http })).version.flavor,
      "http",
    );

    const unknownFormat = await fx.file("odd.json", JSON.stringify({ format: "sklearn" }));
    const notJson = await fx.file("broken.json", "{");
    const binary = await fx.file("model.pkl", "x");
    for (const path of [unknownFormat, notJson, binary]) {
      await assert.rejects(
        fx.registry.registerVersion({ model: "x", artifactPath: path }),
        fails("invalid_argument", (m, d) => d.field === "flavor" && m.includes("--flavor")),
      );
    }
    // Nothing was registered by the refused attempts.
    await assert.rejects(fx.registry.getModel("x"), fails("not_found"));

    const explicit = await fx.registry.registerVersion({ model: "p", artifactPath: binary, flavor: "onnx" });
    assert.equal(explicit.version.flavor, "onnx");
    await assert.rejects(
      fx.registry.registerVersion({ model: "p", artifactPath: binary, flavor: "pickle" as "onnx" }),
      invalidAt("flavor"),
    );
  });

  test("a given signature wins over the inspected one but may only name its tensors", async () => {
    const narrowed: Signature = { ...SIGNATURE, features: ["f1", "f2", "f3"] };
    const given = await fx.registry.registerVersion({
      model: "s",
      artifactPath: await fx.builtin(1),
      signature: narrowed,
    });
    assert.deepEqual(given.version.signature, narrowed);

    const wrongName: Signature = {
      ...SIGNATURE,
      inputs: [{ name: "features", datatype: "FP32", shape: [-1, 3] }],
    };
    await assert.rejects(
      fx.registry.registerVersion({ model: "s", artifactPath: await fx.builtin(2), signature: wrongName }),
      invalidAt("signature.inputs[0].name"),
    );

    // No inspected signature: the given one is taken as it is; neither: null.
    const bare = await fx.builtin(3, null);
    const withGiven = await fx.registry.registerVersion({
      model: "s",
      artifactPath: bare,
      signature: wrongName,
    });
    assert.deepEqual(withGiven.version.signature, wrongName);
    const none = await fx.registry.registerVersion({ model: "n", artifactPath: bare });
    assert.equal(none.version.signature, null);
  });

  test("invalid signatures and metadata are refused naming the field", async () => {
    const path = await fx.builtin(1);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ signature: { ...SIGNATURE, features: ["a"] } }, "signature.features"],
      [
        { signature: { inputs: [{ name: "x", datatype: "F32", shape: [1] }], outputs: SIGNATURE.outputs } },
        "signature.inputs[0].datatype",
      ],
      [{ metrics: { auc: Number.NaN } }, "metrics.auc"],
      [{ tags: { team: 3 } }, "tags.team"],
      [{ lineage: { parentVersion: 0 } }, "lineage.parentVersion"],
      [{ model: "has space" }, "model"],
      [{ model: ".hidden" }, "model"],
      [{ model: "x".repeat(129) }, "model"],
    ];
    for (const [extra, field] of cases) {
      await assert.rejects(
        fx.registry.registerVersion({ model: "v", artifactPath: path, ...extra } as never),
        invalidAt(field),
        field,
      );
    }
    const inspectedBad = await fx.file(
      "bad-sig.json",
      JSON.stringify({ format: "ballast.builtin/v1", signature: { inputs: [], outputs: [] } }),
    );
    await assert.rejects(
      fx.registry.registerVersion({ model: "v", artifactPath: inspectedBad }),
      invalidAt("inspected signature.inputs"),
    );
  });

  test("a missing artifact file is not_found naming the path", async () => {
    for (const name of ["missing.onnx", "missing.json"]) {
      const path = join(opened.dataDir, name);
      await assert.rejects(
        fx.registry.registerVersion({ model: "m", artifactPath: path }),
        fails("not_found", (m) => m.includes(path)),
      );
    }
  });

  test("aliases point at versions, move, and resolve", async () => {
    for (const seed of [1, 2, 3])
      await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(seed) });
    await fx.registry.setAlias("m", "champion", 1);
    await fx.registry.setAlias("m", "challenger", 2);
    assert.equal((await fx.registry.resolve("m", { alias: "champion" })).version, 1);
    fx.clock.time = T0 + 50;
    await fx.registry.setAlias("m", "champion", 2);
    assert.equal((await fx.registry.resolve("m", { alias: "champion" })).version, 2);
    assert.equal((await fx.registry.resolve("m", { alias: "latest" })).version, 3);
    assert.equal((await fx.registry.resolve("m", { version: 1 })).version, 1);
    const model = await fx.registry.getModel("m");
    assert.deepEqual(model.aliases, { challenger: 2, champion: 2 });
    assert.equal(model.updatedAt, T0 + 50);
    assert.deepEqual(
      (await fx.registry.listModels()).map((m) => [m.name, m.latestVersion, m.aliases]),
      [["m", 3, { challenger: 2, champion: 2 }]],
    );

    await fx.registry.deleteAlias("m", "challenger");
    assert.deepEqual((await fx.registry.getModel("m")).aliases, { champion: 2 });
    await assert.rejects(
      fx.registry.resolve("m", { alias: "challenger" }),
      fails("not_found", (m) => m.includes("@challenger") && m.includes("champion")),
    );
    await assert.rejects(fx.registry.deleteAlias("m", "challenger"), fails("not_found"));
  });

  test("alias names are checked; latest and numbers are not aliases", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    for (const bad of ["latest", "LATEST", "3", "1abc", "has space", "", "a".repeat(64), "x.y"]) {
      await assert.rejects(fx.registry.setAlias("m", bad, 1), invalidAt("alias"), bad);
    }
    await fx.registry.setAlias("m", "Prod_2-eu", 1);
    assert.equal((await fx.registry.resolve("m", { alias: "Prod_2-eu" })).version, 1);
  });

  test("an alias cannot point at a missing version, and a failed move leaves it where it was", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    await fx.registry.setAlias("m", "champion", 1);
    await assert.rejects(
      fx.registry.setAlias("m", "champion", 9),
      fails("not_found", (m) => m.includes("version 9")),
    );
    assert.equal((await fx.registry.resolve("m", { alias: "champion" })).version, 1);
    await assert.rejects(
      fx.registry.setAlias("nope", "champion", 1),
      fails("not_found", (m) => m.includes('"nope"')),
    );
    await assert.rejects(fx.registry.setAlias("m", "champion", 0), invalidAt("version"));
  });

  test("concurrent alias moves leave exactly one alias pointing at one of the targets", async () => {
    for (const seed of [1, 2, 3, 4, 5])
      await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(seed) });
    await fx.registry.setAlias("m", "champion", 1);
    const targets = Array.from({ length: 20 }, (_, i) => (i % 5) + 1);
    const seen = await Promise.all(
      targets.flatMap((v) => [
        fx.registry.setAlias("m", "champion", v).then(() => v),
        fx.registry.resolve("m", { alias: "champion" }).then((r) => r.version),
      ]),
    );
    // Every read saw a whole version, never a missing alias.
    for (const v of seen) assert.ok(v >= 1 && v <= 5);
    const rows = await opened.store.db.selectFrom("model_aliases").selectAll().execute();
    assert.equal(rows.length, 1);
    assert.ok(targets.includes(rows[0]?.version ?? -1));
  });

  test("updateVersion changes metadata only", async () => {
    const { version } = await fx.registry.registerVersion({
      model: "m",
      artifactPath: await fx.builtin(1),
      tags: { a: "1" },
      metrics: { auc: 0.8 },
      description: "before",
    });
    const updated = await fx.registry.updateVersion("m", 1, { metrics: { auc: 0.85, ctr: 0.031 } });
    assert.deepEqual(updated, { ...version, metrics: { auc: 0.85, ctr: 0.031 } });
    const again = await fx.registry.updateVersion("m", 1, { tags: { b: "2" }, description: "after" });
    assert.deepEqual(again, {
      ...version,
      metrics: { auc: 0.85, ctr: 0.031 },
      tags: { b: "2" },
      description: "after",
    });
    assert.deepEqual(await fx.registry.getVersion("m", 1), again);
    assert.deepEqual(await fx.registry.updateVersion("m", 1, {}), again);
    await assert.rejects(
      fx.registry.updateVersion("m", 1, { metrics: { auc: Infinity } }),
      invalidAt("metrics.auc"),
    );
    await assert.rejects(
      fx.registry.updateVersion("m", 7, { description: "x" }),
      fails("not_found", (m) => m.includes("version 7")),
    );
    await assert.rejects(
      fx.registry.updateVersion("zz", 1, { description: "x" }),
      fails("not_found", (m) => m.includes('"zz"')),
    );
  });

  test("unknown models and versions are not_found", async () => {
    await assert.rejects(fx.registry.getModel("ghost"), fails("not_found"));
    await assert.rejects(fx.registry.listVersions("ghost"), fails("not_found"));
    await assert.rejects(
      fx.registry.getVersion("ghost", 1),
      fails("not_found", (m) => m.includes('"ghost"')),
    );
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    await assert.rejects(
      fx.registry.getVersion("m", 2),
      fails("not_found", (m) => m.includes("no version 2")),
    );
    await fx.registry.deleteVersion("m", 1);
    assert.deepEqual(await fx.registry.listVersions("m"), []);
    assert.equal((await fx.registry.getModel("m")).latestVersion, 0);
    await assert.rejects(
      fx.registry.resolve("m", { alias: "latest" }),
      fails("not_found", (m) => m.includes("no versions")),
    );
  });

  test("deleting a version refuses while a deployment uses it, directly or through an alias", async () => {
    for (const seed of [1, 2, 3])
      await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(seed) });
    await fx.registry.setAlias("m", "champion", 1);
    await fx.registry.setAlias("m", "old", 1);
    await fx.deployments.put({
      name: "direct",
      variants: [{ name: "stable", model: "m", ref: { version: 2 }, weight: 100 }],
    });
    await fx.deployments.put({
      name: "via-alias",
      variants: [{ name: "stable", model: "m", ref: { alias: "champion" }, weight: 100 }],
    });

    await assert.rejects(
      fx.registry.deleteVersion("m", 2),
      fails("conflict", (m, d) => m.includes('"direct"') && JSON.stringify(d.deployments) === '["direct"]'),
    );
    await assert.rejects(
      fx.registry.deleteVersion("m", 1),
      fails("conflict", (m) => m.includes('"via-alias"') && m.includes("@champion")),
    );
    // Version 3 is used by nobody (`latest` is not referenced yet).
    await fx.registry.deleteVersion("m", 3);

    // Once the alias moves away, version 1 is free; aliases still on it go with it.
    await fx.registry.setAlias("m", "champion", 2);
    await fx.registry.deleteVersion("m", 1);
    assert.deepEqual((await fx.registry.getModel("m")).aliases, { champion: 2 });
    await assert.rejects(fx.registry.getVersion("m", 1), fails("not_found"));
    await assert.rejects(fx.registry.deleteVersion("m", 1), fails("not_found"));
  });

  test("`latest` in a deployment protects the newest version", async () => {
    for (const seed of [1, 2])
      await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(seed) });
    await fx.deployments.put({
      name: "tip",
      variants: [{ name: "stable", model: "m", ref: { alias: "latest" }, weight: 100 }],
    });
    await assert.rejects(
      fx.registry.deleteVersion("m", 2),
      fails("conflict", (m) => m.includes("@latest")),
    );
    await fx.registry.deleteVersion("m", 1);
  });

  test("an alias a deployment routes through cannot be deleted", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    await fx.registry.setAlias("m", "champion", 1);
    await fx.deployments.put({
      name: "d",
      variants: [{ name: "stable", model: "m", ref: { alias: "champion" }, weight: 100 }],
    });
    await assert.rejects(
      fx.registry.deleteAlias("m", "champion"),
      fails("conflict", (m) => m.includes('"d"')),
    );
    assert.equal((await fx.registry.resolve("m", { alias: "champion" })).version, 1);
    await fx.deployments.delete("d");
    await fx.registry.deleteAlias("m", "champion");
  });

  test("deleting a model refuses while any deployment references it, then removes everything", async () => {
    await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    await fx.registry.registerVersion({ model: "keep", artifactPath: await fx.builtin(2) });
    await fx.registry.setAlias("m", "champion", 1);
    await fx.deployments.put({
      name: "d",
      variants: [
        { name: "stable", model: "keep", ref: { version: 1 }, weight: 100 },
        { name: "shadow", model: "m", ref: { version: 1 }, weight: 10, shadow: true },
      ],
    });
    await assert.rejects(
      fx.registry.deleteModel("m"),
      fails("conflict", (m, d) => m.includes('"d"') && m.includes("shadow") && d.model === "m"),
    );
    await fx.deployments.put({
      name: "d",
      variants: [{ name: "stable", model: "keep", ref: { version: 1 }, weight: 100 }],
    });
    await fx.registry.deleteModel("m");
    await assert.rejects(fx.registry.getModel("m"), fails("not_found"));
    assert.deepEqual(
      (await fx.registry.listModels()).map((m) => m.name),
      ["keep"],
    );
    const leftovers = await opened.store.db
      .selectFrom("model_versions")
      .select("model")
      .where("model", "=", "m")
      .execute();
    assert.deepEqual(leftovers, []);
    await assert.rejects(fx.registry.deleteModel("m"), fails("not_found"));
    // The name can be registered afresh, starting again at version 1.
    const fresh = await fx.registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1) });
    assert.equal(fresh.version.version, 1);
  });

  test("an inspector's own failure becomes invalid_argument suggesting --flavor", async () => {
    // Like a runtime handed a file of another format.
    const registry = new Registry(opened.store, fx.artifacts, {
      clock: fx.clock,
      inspect: async () => {
        throw new Error("protobuf parsing failed");
      },
    });
    await assert.rejects(
      registry.registerVersion({ model: "m", artifactPath: await fx.builtin(1), flavor: "onnx" }),
      fails("invalid_argument", (m) => m.includes("protobuf parsing failed") && m.includes("--flavor")),
    );
    await assert.rejects(fx.registry.getModel("m"), fails("not_found"));
  });
});
