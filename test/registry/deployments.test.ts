import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isBallastError, type ErrorCode } from "../../src/domain/errors.js";
import type { Variant } from "../../src/domain/model.js";
import { checkDeployment, DEFAULT_TIMEOUT_MS } from "../../src/registry/deployment-spec.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { fixture, T0, type Fixture } from "./setup.js";

function fails(code: ErrorCode, field?: string) {
  return (error: unknown) =>
    isBallastError(error) && error.code === code && (field === undefined || error.details?.field === field);
}

const stable = (extra: Partial<Variant> = {}): Variant => ({
  name: "stable",
  model: "fraud",
  ref: { version: 1 },
  weight: 100,
  ...extra,
});

describe("checkDeployment (no database)", () => {
  const cases: Array<[string, unknown, string]> = [
    ["a bad deployment name", { name: "-x", variants: [stable()] }, "name"],
    ["no variants", { name: "d", variants: [] }, "variants"],
    ["variants not a list", { name: "d", variants: "stable" }, "variants"],
    [
      "a weight above 100",
      { name: "d", variants: [stable({ weight: 50 }), stable({ name: "canary", weight: 150 })] },
      "variants[1].weight",
    ],
    ["a negative weight", { name: "d", variants: [stable({ weight: -1 })] }, "variants[0].weight"],
    [
      "a weight that is not a number",
      { name: "d", variants: [stable({ weight: "100" as never })] },
      "variants[0].weight",
    ],
    [
      "weights not summing to 100",
      { name: "d", variants: [stable({ weight: 90 }), stable({ name: "canary", weight: 5 })] },
      "variants",
    ],
    ["only shadows", { name: "d", variants: [stable({ shadow: true })] }, "variants"],
    [
      "a duplicate variant name",
      { name: "d", variants: [stable({ weight: 50 }), stable({ weight: 50 })] },
      "variants[1].name",
    ],
    ["an uppercase variant name", { name: "d", variants: [stable({ name: "Stable" })] }, "variants[0].name"],
    [
      "a variant name starting with a digit",
      { name: "d", variants: [stable({ name: "1st" })] },
      "variants[0].name",
    ],
    ["a bad model name", { name: "d", variants: [stable({ model: "a b" })] }, "variants[0].model"],
    [
      "a ref with both version and alias",
      { name: "d", variants: [stable({ ref: { version: 1, alias: "x" } as never })] },
      "variants[0].ref",
    ],
    ["a ref with neither", { name: "d", variants: [stable({ ref: {} as never })] }, "variants[0].ref"],
    ["version 0", { name: "d", variants: [stable({ ref: { version: 0 } })] }, "variants[0].ref.version"],
    ["a bad alias", { name: "d", variants: [stable({ ref: { alias: "9lives" } })] }, "variants[0].ref.alias"],
    [
      "shadow not a boolean",
      { name: "d", variants: [stable(), stable({ name: "s", shadow: "yes" as never })] },
      "variants[1].shadow",
    ],
    ["a zero timeout", { name: "d", variants: [stable()], timeoutMs: 0 }, "timeoutMs"],
    ["a fractional timeout", { name: "d", variants: [stable()], timeoutMs: 1.5 }, "timeoutMs"],
  ];
  for (const [what, input, field] of cases) {
    test(`${what} is refused at ${field}`, () => {
      assert.throws(() => checkDeployment(input), fails("invalid_argument", field));
    });
  }

  test("the error message starts with the field", () => {
    assert.throws(
      () =>
        checkDeployment({
          name: "d",
          variants: [stable({ weight: 50 }), stable({ name: "c", weight: 150 })],
        }),
      (error: unknown) =>
        error instanceof Error && error.message.startsWith("variants[1].weight: 150 is not a weight"),
    );
  });

  test("defaults, shadows and fractional weights", () => {
    const checked = checkDeployment({
      name: "d",
      variants: [
        stable({ weight: 33.3 }),
        stable({ name: "b", weight: 33.3 }),
        stable({ name: "c", weight: 33.4 }),
        // A shadow's weight is the share of traffic mirrored to it, outside the live 100.
        stable({ name: "mirror", weight: 25, shadow: true }),
        stable({ name: "quiet", weight: 0, shadow: false }),
      ],
    });
    assert.equal(checked.timeoutMs, DEFAULT_TIMEOUT_MS);
    assert.equal(DEFAULT_TIMEOUT_MS, 10_000);
    assert.deepEqual(
      checked.variants.map((v) => [v.name, v.weight, v.shadow]),
      [
        ["stable", 33.3, undefined],
        ["b", 33.3, undefined],
        ["c", 33.4, undefined],
        ["mirror", 25, true],
        ["quiet", 0, undefined],
      ],
    );
    // `latest` is a valid reference even though it can never be set as an alias.
    assert.deepEqual(
      checkDeployment({ name: "d", variants: [stable({ ref: { alias: "latest" } })] }).variants[0]?.ref,
      {
        alias: "latest",
      },
    );
  });

  test("a strategy is kept as declared: checked by the check it is given, else only as an object", () => {
    const declared = { canary: { steps: [{ setWeight: 10 }] } };
    assert.deepEqual(
      checkDeployment({ name: "d", variants: [stable()], strategy: declared }).strategy,
      declared,
    );
    assert.throws(
      () => checkDeployment({ name: "d", variants: [stable()], strategy: "canary" }),
      fails("invalid_argument", "strategy"),
    );
    const seen: unknown[] = [];
    const checks = {
      strategy: (raw: unknown) => {
        seen.push(raw);
        throw new Error("not a strategy");
      },
    };
    assert.throws(
      () => checkDeployment({ name: "d", variants: [stable()], strategy: declared }, checks),
      /not a strategy/,
    );
    assert.deepEqual(seen, [declared]);
    assert.equal(checkDeployment({ name: "d", variants: [stable()] }, checks).strategy, undefined);
  });
});

describeStores("deployments", (c) => {
  let opened: OpenedStore;
  let fx: Fixture;
  beforeEach(async () => {
    opened = await c.open();
    fx = fixture(opened);
    await fx.registry.registerVersion({ model: "fraud", artifactPath: await fx.builtin(1) });
    await fx.registry.registerVersion({ model: "fraud", artifactPath: await fx.builtin(2) });
    await fx.registry.setAlias("fraud", "champion", 1);
  });
  afterEach(() => opened.cleanup());

  test("put creates, get and list read back, put again replaces and keeps createdAt", async () => {
    const created = await fx.deployments.put({ name: "fraud", variants: [stable()] });
    assert.deepEqual(created, {
      name: "fraud",
      variants: [stable()],
      timeoutMs: 10_000,
      createdAt: T0,
      updatedAt: T0,
    });
    assert.deepEqual(await fx.deployments.get("fraud"), created);

    fx.clock.time = T0 + 1000;
    const variants: Variant[] = [
      stable({ ref: { alias: "champion" }, weight: 95 }),
      { name: "canary", model: "fraud", ref: { version: 2 }, weight: 5 },
      { name: "shadow", model: "fraud", ref: { alias: "latest" }, weight: 100, shadow: true },
    ];
    const replaced = await fx.deployments.put({ name: "fraud", variants, timeoutMs: 250 });
    assert.deepEqual(replaced, {
      name: "fraud",
      variants,
      timeoutMs: 250,
      createdAt: T0,
      updatedAt: T0 + 1000,
    });
    await fx.deployments.put({ name: "another", variants: [stable()] });
    assert.deepEqual(
      (await fx.deployments.list()).map((d) => d.name),
      ["another", "fraud"],
    );
  });

  test("only known variant fields are stored", async () => {
    const sloppy = { ...stable(), color: "blue", shadow: false } as Variant;
    const deployment = await fx.deployments.put({ name: "d", variants: [sloppy] });
    assert.deepEqual(deployment.variants, [stable()]);
  });

  test("references must resolve: missing models, versions and aliases are not_found at their field", async () => {
    await assert.rejects(
      fx.deployments.put({ name: "d", variants: [stable({ model: "ghost" })] }),
      fails("not_found", "variants[0].model"),
    );
    await assert.rejects(
      fx.deployments.put({
        name: "d",
        variants: [stable({ weight: 50 }), stable({ name: "canary", ref: { version: 9 }, weight: 50 })],
      }),
      (error: unknown) =>
        fails("not_found", "variants[1].ref")(error) &&
        error instanceof Error &&
        error.message === 'variants[1].ref: model "fraud" has no version 9',
    );
    await assert.rejects(
      fx.deployments.put({ name: "d", variants: [stable({ ref: { alias: "challenger" } })] }),
      fails("not_found", "variants[0].ref"),
    );
    await assert.rejects(fx.deployments.get("d"), fails("not_found"));
  });

  test("shape errors are refused before anything is stored", async () => {
    await assert.rejects(
      fx.deployments.put({ name: "d", variants: [stable({ weight: 60 })] }),
      fails("invalid_argument", "variants"),
    );
    assert.deepEqual(await fx.deployments.list(), []);
  });

  test("resolve follows aliases as they move", async () => {
    await fx.deployments.put({
      name: "d",
      variants: [
        stable({ ref: { alias: "champion" } }),
        { name: "shadow", model: "fraud", ref: { alias: "latest" }, weight: 10, shadow: true },
      ],
    });
    const before = await fx.deployments.resolve("d");
    assert.deepEqual(
      before.map((r) => [r.variant.name, r.version.version]),
      [
        ["stable", 1],
        ["shadow", 2],
      ],
    );
    await fx.registry.setAlias("fraud", "champion", 2);
    const after = await fx.deployments.resolve("d");
    assert.equal(after[0]?.version.version, 2);
  });

  test("a deployment racing a version delete never ends up pointing at a missing version", async () => {
    for (let round = 0; round < 10; round++) {
      const { version } = await fx.registry.registerVersion({
        model: "fraud",
        artifactPath: await fx.builtin(`race-${round}`),
      });
      const [put, deleted] = await Promise.allSettled([
        fx.deployments.put({ name: `d${round}`, variants: [stable({ ref: { version: version.version } })] }),
        fx.registry.deleteVersion("fraud", version.version),
      ]);
      // Exactly one wins, and the loser failed for the right reason.
      assert.notEqual(put.status, deleted.status, `round ${round}`);
      if (put.status === "fulfilled") {
        assert.ok(deleted.status === "rejected" && fails("conflict")(deleted.reason));
        assert.equal((await fx.registry.getVersion("fraud", version.version)).version, version.version);
      } else {
        assert.ok(fails("not_found", "variants[0].ref")(put.reason));
        await assert.rejects(fx.deployments.get(`d${round}`), fails("not_found"));
      }
    }
  });

  test("delete removes it; unknown names are not_found", async () => {
    await fx.deployments.put({ name: "d", variants: [stable()] });
    await fx.deployments.delete("d");
    await assert.rejects(fx.deployments.get("d"), fails("not_found"));
    await assert.rejects(fx.deployments.delete("d"), fails("not_found"));
    // With the deployment gone, the version it used can go too.
    await fx.registry.deleteVersion("fraud", 1);
  });
});
