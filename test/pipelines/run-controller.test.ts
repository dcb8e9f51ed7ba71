/**
 * The orchestrator on a manual clock with test-defined step kinds: order, outputs passed as
 * inputs, retries with backoff, failure propagation, timeouts, the cache, concurrency, cancel,
 * and a restart mid-step. On SQLite and PostgreSQL (the run store is what carries a restart).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { afterEach, beforeEach, test } from "node:test";
import { ArtifactStore } from "../../src/registry/artifacts.js";
import { parsePipelineSpec, type PipelineSpec } from "../../src/pipelines/pipeline-spec.js";
import { RunController } from "../../src/pipelines/run-controller.js";
import { RunStore, type PipelineRun } from "../../src/pipelines/run-store.js";
import type { StepKinds } from "../../src/pipelines/steps/index.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { ManualClock } from "../helpers/app.js";
import { testKinds } from "./test-kinds.js";

const MANUAL = { kind: "manual", reason: "a test" };

function tableOf(kinds: ReturnType<typeof testKinds>["kinds"]): StepKinds {
  const byKind = new Map(kinds.map((k) => [k.kind, k]));
  return { get: (k) => byKind.get(k), names: () => [...byKind.keys()].sort() };
}

describeStores("pipeline runs", (storeCase) => {
  let opened: OpenedStore;
  let clock: ManualClock;
  let t: ReturnType<typeof testKinds>;
  let kinds: StepKinds;
  let pipelines: Map<string, PipelineSpec>;
  let artifacts: ArtifactStore;

  beforeEach(async () => {
    opened = await storeCase.open();
    clock = new ManualClock();
    t = testKinds();
    kinds = tableOf(t.kinds);
    pipelines = new Map();
    artifacts = new ArtifactStore(opened.dataDir);
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  const declare = (name: string, spec: unknown): void => {
    pipelines.set(name, parsePipelineSpec(spec, kinds));
  };
  const controller = (): RunController =>
    new RunController({
      store: new RunStore(opened.store.db),
      pipelines: async (name) => pipelines.get(name) ?? null,
      artifacts,
      dataDir: opened.dataDir,
      clock,
      kinds,
    });
  /** Ticks until the run has finished (at most `ticks` times), advancing `stepMs` between. */
  const drive = async (c: RunController, runId: string, ticks = 20, stepMs = 0): Promise<PipelineRun> => {
    for (let i = 0; i < ticks; i++) {
      await c.tick();
      await c.settled();
      const run = (await c.get(runId)) as PipelineRun;
      if (run.state !== "Pending" && run.state !== "Running") return run;
      clock.advance(stepMs);
    }
    return (await c.get(runId)) as PipelineRun;
  };
  const started = async (
    c: RunController,
    name: string,
    params?: Record<string, string>,
  ): Promise<string> => {
    const r = await c.start(name, { trigger: MANUAL, ...(params === undefined ? {} : { params }) });
    assert.equal(r.started, true, r.started ? "" : r.reason);
    return (r as { runId: string }).runId;
  };
  const step = (run: PipelineRun, name: string) => run.steps.find((s) => s.step === name)!;

  const chain = {
    params: { word: "ab" },
    steps: [
      { name: "twice", double: { input: "data" } },
      { name: "data", emit: { value: "${params.word}" } },
      { name: "effect", effect: { from: "twice.out" } },
    ],
  };

  test("runs the steps in order, passing outputs as inputs, and records hashes", async () => {
    declare("p", chain);
    const c = controller();
    const id = await started(c, "p", { word: "xyz" });
    const run = await drive(c, id);
    assert.equal(run.state, "Succeeded", run.reason);
    assert.deepEqual(
      run.steps.map((s) => [s.step, s.state]),
      [
        ["data", "Succeeded"],
        ["twice", "Succeeded"],
        ["effect", "Succeeded"],
      ],
    );
    const data = step(run, "data");
    const twice = step(run, "twice");
    assert.equal(twice.inputs.data!.sha256, data.outputs.data!.sha256);
    const doubled = await readFile(await artifacts.ensureLocal(twice.outputs.out!.sha256), "utf8");
    assert.equal(doubled, "xyzxyz");
    assert.equal(twice.outputs.out!.bytes, 6);
    assert.deepEqual(run.registered, undefined); // the effect kind is not `register`
    assert.equal(t.state.effects.get(id), 1);
    assert.ok((await c.logs(id, "data")).some((l) => l.line === "emitting xyz"));
  });

  test("retries with exponential backoff from the clock, then succeeds", async () => {
    declare("p", {
      retries: { limit: 3, backoff: "10s", maxBackoff: "15s" },
      steps: [{ name: "data", emit: { value: "v", failTimes: 3 } }],
    });
    const c = controller();
    const id = await started(c, "p");
    const t0 = clock.now();
    await c.tick();
    await c.settled();
    let s = step((await c.get(id))!, "data");
    assert.equal(s.state, "Pending");
    assert.equal(s.notBefore, t0 + 10_000);
    clock.advance(9_999);
    await c.tick();
    await c.settled();
    assert.equal(t.state.calls.get("data"), 1, "not retried before the backoff");
    clock.advance(1);
    await c.tick();
    await c.settled();
    s = step((await c.get(id))!, "data");
    assert.equal(s.notBefore, clock.now() + 15_000, "20s capped at maxBackoff 15s");
    clock.advance(15_000);
    await c.tick();
    await c.settled();
    s = step((await c.get(id))!, "data");
    assert.equal(s.notBefore, clock.now() + 15_000);
    clock.advance(15_000);
    const run = await drive(c, id);
    assert.equal(run.state, "Succeeded");
    assert.equal(step(run, "data").attempt, 4);
    assert.equal(t.state.calls.get("data"), 4);
  });

  test("retries exhausted: the run fails with the reason, downstream steps never run", async () => {
    declare("p", {
      retries: { limit: 1, backoff: "1s" },
      steps: [
        { name: "data", emit: { value: "v", failTimes: 5 } },
        { name: "twice", double: { input: "data" } },
        { name: "effect", effect: { from: "twice" } },
      ],
    });
    const c = controller();
    const heard: Array<[string, string | undefined]> = [];
    c.subscribe((r) => heard.push([r.state, r.reason]));
    const id = await started(c, "p");
    const run = await drive(c, id, 10, 1000);
    assert.equal(run.state, "Failed");
    assert.deepEqual(heard, [["Failed", run.reason]], "subscribers hear the run finish once");
    assert.equal(run.reason, "step data failed after 2 attempts: emit failed on purpose (call 2)");
    assert.equal(step(run, "twice").state, "Skipped");
    assert.equal(step(run, "effect").state, "Skipped");
    assert.equal(t.state.calls.get("twice"), undefined);
    assert.equal(t.state.effects.size, 0);
  });

  test("a step past its timeout is aborted and fails", async () => {
    declare("p", { timeout: "30s", steps: [{ name: "data", emit: { value: "v", hang: true } }] });
    const c = controller();
    const id = await started(c, "p");
    await c.tick(); // started; it hangs
    clock.advance(30_000);
    await c.tick();
    await c.settled();
    const run = await drive(c, id);
    assert.equal(run.state, "Failed");
    assert.equal(run.reason, "step data failed: timed out after 30s");
  });

  test("a re-run with the same inputs takes the steps from the cache, except effectful ones", async () => {
    declare("p", chain);
    const c = controller();
    const first = await drive(c, await started(c, "p"));
    assert.equal(first.state, "Succeeded");
    const id = await started(c, "p");
    const run = await drive(c, id);
    assert.equal(run.state, "Succeeded");
    assert.equal(step(run, "data").state, "Cached");
    assert.equal(step(run, "data").cachedFrom, first.id);
    assert.equal(step(run, "twice").state, "Cached");
    assert.equal(step(run, "twice").outputs.out!.sha256, step(first, "twice").outputs.out!.sha256);
    assert.equal(step(run, "effect").state, "Succeeded", "effects are never cached");
    assert.equal(t.state.calls.get("data"), 1);
    assert.equal(t.state.calls.get("twice"), 1);
    assert.equal(t.state.calls.get("effect"), 2);
    // Another parameter value: another fingerprint, run again.
    const other = await drive(c, await started(c, "p", { word: "zz" }));
    assert.equal(step(other, "data").state, "Succeeded");
    assert.equal(t.state.calls.get("data"), 2);
  });

  test("one run at a time by default: a second start is refused with the reason", async () => {
    declare("p", chain);
    const c = controller();
    const id = await started(c, "p");
    const second = await c.start("p", { trigger: MANUAL });
    assert.equal(second.started, false);
    assert.match(
      (second as { reason: string }).reason,
      new RegExp(`already has 1 run going \\(${id}\\); its concurrency is 1`),
    );
    await drive(c, id);
    assert.equal((await c.start("p", { trigger: MANUAL })).started, true);
  });

  test("cancel aborts the running step and marks the run and its open steps Cancelled", async () => {
    declare("p", chain);
    const c = controller();
    const release = t.gate("twice");
    const id = await started(c, "p");
    await c.tick();
    await c.settled();
    await c.tick(); // twice starts and waits at its gate
    const cancelled = await c.cancel(id);
    await c.settled();
    release();
    assert.equal(cancelled.state, "Cancelled");
    const run = (await c.get(id))!;
    assert.equal(run.state, "Cancelled");
    assert.deepEqual(
      run.steps.map((s) => s.state),
      ["Succeeded", "Cancelled", "Cancelled"],
    );
    await c.tick();
    assert.equal(t.state.effects.size, 0);
  });

  test("a restart mid-step: the new controller runs a cut-off step again and does not repeat an effect", async () => {
    declare("p", chain);
    const before = controller();
    t.gate("effect"); // the effect is made, then the process "dies" before it is recorded
    const id = await started(before, "p");
    for (let i = 0; i < 2; i++) {
      await before.tick(); // data, then twice
      await before.settled();
    }
    await before.tick(); // effect: claimed, then it runs until its gate
    while (!t.state.effects.has(id)) await new Promise((r) => setImmediate(r));
    let run = (await before.get(id))!;
    assert.equal(step(run, "effect").state, "Running");
    assert.equal(t.state.effects.get(id), 1);
    // kill -9: the old controller is never closed; a new one opens the same store.
    const after = controller();
    run = await drive(after, id);
    assert.equal(run.state, "Succeeded", run.reason);
    assert.equal(t.state.effects.get(id), 1, "the effect was recovered, not made again");
    assert.equal(step(run, "effect").attempt, 2);
    assert.ok((await after.logs(id, "effect")).some((l) => /cut off/.test(l.line)));
  });

  test("a restart mid-step of a cacheable step runs it again", async () => {
    declare("p", chain);
    const before = controller();
    t.gate("data");
    const id = await started(before, "p");
    await before.tick();
    assert.equal(step((await before.get(id))!, "data").state, "Running");
    const after = controller();
    t.state.gates.clear(); // the new process's step does not wait
    const run = await drive(after, id);
    assert.equal(run.state, "Succeeded", run.reason);
    assert.equal(step(run, "data").attempt, 2);
    assert.equal(t.state.calls.get("data"), 2);
  });
});
