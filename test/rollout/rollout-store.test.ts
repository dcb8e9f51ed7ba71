import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { kindOf } from "../../src/rollout/kinds/index.js";
import { RolloutStore } from "../../src/rollout/rollout-store.js";
import { parseStrategy } from "../../src/rollout/strategy.js";

// A state and strategies as the Ballast before rollout kinds saved them: no `kind`, no conditions.
const oldState = (id: string, deployment: string) => ({
  id,
  deployment,
  stable: { model: "m", version: 1 },
  canary: { model: "m", version: 2 },
  phase: "Paused",
  pauseReason: "step",
  step: 1,
  stepStartedAt: 1000,
  weight: 10,
  gates: [],
  lastAnalysisAt: null,
  startedAt: 1000,
  updatedAt: 2000,
  finishedAt: null,
  message: "paused: waiting for resume",
});
const withoutKind = (raw: unknown) => {
  const { kind: _kind, ...rest } = parseStrategy(raw) as unknown as Record<string, unknown>;
  return rest;
};
const OLD = {
  canary: withoutKind({ canary: { steps: [{ setWeight: 10 }, { pause: {} }] } }),
  blueGreen: withoutKind({ blueGreen: {} }),
  abTest: withoutKind({ abTest: { event: "click" } }),
};

describeStores("rollouts saved before rollout kinds", (c) => {
  let opened: OpenedStore;
  before(async () => {
    opened = await c.open();
    for (const [i, [name, strategy]] of Object.entries(OLD).entries()) {
      await opened.store.db
        .insertInto("rollouts")
        .values({
          id: `r${i}`,
          deployment: name,
          kind: name === "abTest" ? "abTest" : "canary",
          active: 1,
          state: JSON.stringify(oldState(`r${i}`, name)),
          strategy: JSON.stringify(strategy),
          started_at: 1000 + i,
          updated_at: 2000,
        })
        .execute();
    }
  });
  after(() => opened.cleanup());

  test("resume with their kind told from the strategy's shape, and conditions as of their last update", async () => {
    const active = await new RolloutStore(opened.store.db).active();
    assert.deepEqual(
      active.map((r) => [r.state.deployment, r.strategy.kind]),
      [
        ["canary", "canary"],
        ["blueGreen", "blueGreen"],
        ["abTest", "abTest"],
      ],
    );
    const blueGreen = active[1]?.strategy;
    assert.ok(blueGreen !== undefined);
    assert.equal(kindOf(blueGreen).previewHeader(blueGreen), "x-ballast-preview");
    const abTest = active[2]?.strategy;
    assert.ok(abTest !== undefined);
    assert.equal(kindOf(abTest).promoteAlias(abTest), "champion");
    for (const r of active) {
      const paused = r.state.conditions?.find((x) => x.type === "Paused");
      assert.deepEqual([paused?.status, paused?.lastTransitionTime], ["True", 2000]);
    }
  });
});
