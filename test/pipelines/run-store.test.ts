/** The run store on SQLite and PostgreSQL: compare-and-set moves, bounded logs, the cache lookup. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { parsePipelineSpec } from "../../src/pipelines/pipeline-spec.js";
import { MAX_LOG_LINES_PER_STEP, RunStore, type PipelineRun } from "../../src/pipelines/run-store.js";
import type { StepKinds } from "../../src/pipelines/steps/index.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { testKinds } from "./test-kinds.js";

const { kinds: list } = testKinds();
const kinds: StepKinds = { get: (k) => list.find((x) => x.kind === k), names: () => ["emit"] };
const spec = parsePipelineSpec({ steps: [{ name: "a", emit: { value: "1" } }] }, kinds);

function run(id: string, createdAt: number): PipelineRun {
  return {
    id,
    pipeline: "p",
    state: "Pending",
    params: {},
    trigger: { kind: "alert", reason: "drift on fraud", details: { monitor: "fraud-drift" } },
    spec,
    plan: [],
    createdAt,
    steps: [
      {
        step: "a",
        kind: "emit",
        state: "Pending",
        attempt: 0,
        cached: false,
        inputs: {},
        outputs: {},
        logLines: 0,
        logDropped: 0,
      },
    ],
  };
}

describeStores("pipeline run store", (storeCase) => {
  let opened: OpenedStore;
  let store: RunStore;
  beforeEach(async () => {
    opened = await storeCase.open();
    store = new RunStore(opened.store.db);
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  test("a step moves only from the state and attempt the mover saw", async () => {
    await store.create(run("r1", 1000));
    assert.equal(
      await store.moveStep(
        "r1",
        "a",
        { state: "Pending", attempt: 0 },
        { state: "Running", attempt: 1, startedAt: 5 },
        5,
      ),
      true,
    );
    // A second claim of the same attempt loses.
    assert.equal(
      await store.moveStep("r1", "a", { state: "Pending", attempt: 0 }, { state: "Running", attempt: 1 }, 6),
      false,
    );
    await store.endOpenSteps("r1", "Cancelled", "cancelled by a test", 7);
    // The attempt's late result does not overwrite the cancel.
    assert.equal(
      await store.moveStep("r1", "a", { state: "Running", attempt: 1 }, { state: "Succeeded" }, 8),
      false,
    );
    const got = (await store.get("r1"))!;
    assert.equal(got.steps[0]!.state, "Cancelled");
    assert.equal(got.steps[0]!.error, "cancelled by a test");
    assert.deepEqual(got.trigger, {
      kind: "alert",
      reason: "drift on fraud",
      details: { monitor: "fraud-drift" },
    });
    assert.equal(got.spec.steps[0]!.name, "a");
  });

  test("logs are kept up to the bound per step, the rest counted", async () => {
    await store.create(run("r1", 1000));
    const lines = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => ({ step: "a", attempt: 1, at: 10, line: `line ${from + i}` }));
    await store.appendLogs("r1", "a", 1, lines(1500, 0), 10);
    await store.appendLogs("r1", "a", 1, lines(1000, 1500), 11, 7);
    const step = (await store.get("r1"))!.steps[0]!;
    assert.equal(step.logLines, MAX_LOG_LINES_PER_STEP);
    assert.equal(step.logDropped, 2500 - MAX_LOG_LINES_PER_STEP + 7);
    const kept = await store.logs("r1", "a");
    assert.equal(kept.length, MAX_LOG_LINES_PER_STEP);
    assert.equal(kept[0]!.line, "line 0");
    assert.equal(kept.at(-1)!.line, `line ${MAX_LOG_LINES_PER_STEP - 1}`);
  });

  test("the cache finds the newest finished step with the fingerprint; active runs and lists", async () => {
    await store.create(run("r1", 1000));
    await store.create(run("r2", 2000));
    const out = { data: { sha256: "a".repeat(64), kind: "dataset" as const, bytes: 3, meta: { rows: 1 } } };
    await store.moveStep("r1", "a", { state: "Pending", attempt: 0 }, { state: "Running", attempt: 1 }, 1);
    assert.equal(await store.cacheHit("f1"), null);
    await store.moveStep(
      "r1",
      "a",
      { state: "Running", attempt: 1 },
      { state: "Succeeded", fingerprint: "f1", outputs: out, finishedAt: 3 },
      3,
    );
    assert.deepEqual(await store.cacheHit("f1"), { runId: "r1", outputs: out });
    assert.equal(await store.cacheHit("f2"), null);
    assert.deepEqual(await store.activeIds("p"), ["r1", "r2"]);
    assert.equal(await store.finishRun("r1", { state: "Succeeded", finishedAt: 4 }, 4), true);
    assert.equal(await store.finishRun("r1", { state: "Cancelled", finishedAt: 5 }, 5), false);
    assert.deepEqual(
      (await store.active()).map((r) => r.id),
      ["r2"],
    );
    assert.deepEqual(
      (await store.list("p")).map((r) => r.id),
      ["r2", "r1"],
    );
  });
});
