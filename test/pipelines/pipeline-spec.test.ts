/** Pipeline specs and their step graph: what is refused at apply, with the field named. Pure. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isBallastError } from "../../src/domain/errors.js";
import { checkDag, downstreamOf } from "../../src/pipelines/dag.js";
import {
  parsePipelineSpec,
  resolveSteps,
  runParams,
  substituteParams,
} from "../../src/pipelines/pipeline-spec.js";
import type { StepKinds } from "../../src/pipelines/steps/index.js";
import { afterFailedAttempt, backoffDelay, nextActions } from "../../src/pipelines/run-decisions.js";
import type { StepRun } from "../../src/pipelines/run-store.js";
import { testKinds } from "./test-kinds.js";

const { kinds: list } = testKinds();
const kinds: StepKinds = {
  get: (k) => list.find((x) => x.kind === k),
  names: () => list.map((x) => x.kind).sort(),
};

function refused(spec: unknown, field: string, message: RegExp): void {
  assert.throws(
    () => parsePipelineSpec(spec, kinds),
    (error: unknown) => {
      assert.ok(isBallastError(error), String(error));
      assert.equal(error.code, "invalid_argument");
      assert.equal(error.details?.field, field, error.message);
      assert.match(error.message, message);
      return true;
    },
  );
}

test("a cycle is refused and named in the direction data flows", () => {
  refused(
    {
      steps: [
        { name: "a", double: { input: "b" } },
        { name: "b", double: { input: "a.out" } },
      ],
    },
    "steps[0]",
    /the steps form a cycle: a -> b -> a$/,
  );
  // A longer one, through `needs`.
  refused(
    {
      steps: [
        { name: "x", emit: { value: "1" }, needs: ["z"] },
        { name: "y", double: { input: "x" } },
        { name: "z", double: { input: "y" } },
      ],
    },
    "steps[0]",
    /cycle: x -> y -> z -> x$/,
  );
});

test("unknown references, duplicate names, unknown fields and kinds are refused with the field", () => {
  refused(
    { steps: [{ name: "a", double: { input: "nope.out" } }] },
    "steps[0].double",
    /names step 'nope', which does not exist/,
  );
  refused({ steps: [{ name: "a", emit: { value: "1" }, needs: ["ghost"] }] }, "steps[0].needs[0]", /'ghost'/);
  refused(
    {
      steps: [
        { name: "a", emit: { value: "1" } },
        { name: "a", emit: { value: "2" } },
      ],
    },
    "steps[1].name",
    /declared twice/,
  );
  refused({ steps: [{ name: "a", emit: { value: "1" } }], schedule: "daily" }, "schedule", /unknown field/);
  refused(
    { steps: [{ name: "a", emit: { value: "1" }, retry: 3 }] },
    "steps[0].retry",
    /unknown field; a step has/,
  );
  refused(
    { steps: [{ name: "a", emit: { value: "1", colour: "red" } }] },
    "steps[0].emit",
    /colour: unknown field/,
  );
  refused(
    { steps: [{ name: "a", emit: { value: "1" }, double: { input: "a" } }] },
    "steps[0]",
    /exactly one kind, found emit and double/,
  );
  refused({ steps: [{ name: "a.b", emit: { value: "1" } }] }, "steps[0].name", /no dots/);
  refused({ steps: [{ name: "a", emit: { value: "1" } }], retries: { limit: -1 } }, "retries.limit", /0…100/);
  refused({ steps: [{ name: "a", emit: { value: "1" } }], timeout: "soon" }, "timeout", /duration/);
});

test("a parameter used but not declared is refused naming it; overrides must be declared", () => {
  refused(
    { params: { window: "7d" }, steps: [{ name: "a", emit: { value: "${params.windwo}" } }] },
    "steps[0].emit.value",
    /\$\{params\.windwo\}, which is not a parameter; declare it under params \(it has window\)/,
  );
  const spec = parsePipelineSpec(
    {
      params: { window: "7d", n: 3 },
      steps: [{ name: "a", emit: { value: "last ${params.window} x${params.n}" } }],
    },
    kinds,
  );
  assert.deepEqual(spec.params, { window: "7d", n: "3" });
  const params = runParams(spec, { window: "30d" });
  assert.deepEqual(resolveSteps(spec, params, kinds)[0]!.spec, { value: "last 30d x3" });
  assert.throws(
    () => runParams(spec, { windows: "1d" }),
    /params\.windows: not a parameter of this pipeline; it has window, n/,
  );
  assert.deepEqual(substituteParams(["${params.a}-${params.a}", 1, null], { a: "q" }, "f"), ["q-q", 1, null]);
});

test("defaults: concurrency 1, no retries, one hour per step; a step may override", () => {
  const spec = parsePipelineSpec(
    {
      retries: { limit: 2, backoff: "5s", maxBackoff: "5m" },
      timeout: "30m",
      steps: [
        { name: "a", emit: { value: "1" } },
        { name: "b", double: { input: "a" }, retries: 0, timeout: "10s", cache: false },
      ],
    },
    kinds,
  );
  assert.equal(spec.concurrency, 1);
  assert.equal(spec.cooldownMs, 0);
  assert.deepEqual(spec.steps[0]!.retries, { limit: 2, backoffMs: 5000, maxBackoffMs: 300_000 });
  assert.equal(spec.steps[0]!.timeoutMs, 1_800_000);
  assert.deepEqual(spec.steps[1]!.retries, { limit: 0, backoffMs: 5000, maxBackoffMs: 300_000 });
  assert.equal(spec.steps[1]!.timeoutMs, 10_000);
  assert.equal(spec.steps[1]!.cache, false);
});

test("topological order keeps declaration order among free steps; downstream is transitive", () => {
  const order = checkDag([
    { name: "c", field: "steps[0]", upstream: [{ step: "b", field: "f" }] },
    { name: "a", field: "steps[1]", upstream: [] },
    { name: "b", field: "steps[2]", upstream: [{ step: "a", field: "f" }] },
    { name: "d", field: "steps[3]", upstream: [] },
  ]);
  assert.deepEqual(order, ["a", "b", "c", "d"]);
  const ups: Record<string, string[]> = { a: [], b: ["a"], c: ["b"], d: [] };
  assert.deepEqual(
    downstreamOf("a", order, (s) => ups[s]!),
    ["b", "c"],
  );
});

const stepRun = (step: string, state: StepRun["state"], extra: Partial<StepRun> = {}): StepRun => ({
  step,
  kind: "emit",
  state,
  attempt: 0,
  cached: false,
  inputs: {},
  outputs: {},
  logLines: 0,
  logDropped: 0,
  ...extra,
});

test("decisions: ready steps start, failures skip what is downstream, the run ends with the reason", () => {
  const plan = [
    { name: "a", upstream: [] },
    { name: "b", upstream: ["a"] },
    { name: "c", upstream: ["b"] },
    { name: "d", upstream: [] },
  ];
  assert.deepEqual(
    nextActions(
      plan,
      [stepRun("a", "Pending"), stepRun("b", "Pending"), stepRun("c", "Pending"), stepRun("d", "Pending")],
      0,
    ),
    [
      { type: "start", step: "a", attempt: 1 },
      { type: "start", step: "d", attempt: 1 },
    ],
  );
  const failed = stepRun("a", "Failed", { attempt: 3, error: "boom" });
  assert.deepEqual(
    nextActions(plan, [failed, stepRun("b", "Pending"), stepRun("c", "Pending"), stepRun("d", "Cached")], 0),
    [
      { type: "skip", step: "b", reason: "not run: upstream step a failed" },
      { type: "skip", step: "c", reason: "not run: upstream step b skipped" },
      { type: "finish", state: "Failed", reason: "step a failed after 3 attempts: boom" },
    ],
  );
  // A retry waits for its time; a running step past its deadline times out.
  assert.deepEqual(
    nextActions(plan.slice(0, 1), [stepRun("a", "Pending", { attempt: 1, notBefore: 10 })], 9),
    [],
  );
  assert.deepEqual(
    nextActions(plan.slice(0, 1), [stepRun("a", "Running", { attempt: 2, deadlineAt: 10 })], 10),
    [{ type: "timeout", step: "a", attempt: 2 }],
  );
});

test("backoff doubles from the base up to the cap; retries stop at the limit", () => {
  const policy = { limit: 4, backoffMs: 5000, maxBackoffMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)),
    [5000, 10_000, 20_000, 30_000, 30_000],
  );
  assert.deepEqual(afterFailedAttempt(policy, 2, 1000), {
    state: "Pending",
    notBefore: 11_000,
    delayMs: 10_000,
  });
  assert.deepEqual(afterFailedAttempt(policy, 5, 1000), { state: "Failed" });
  assert.equal(backoffDelay({ limit: 100, backoffMs: 1000, maxBackoffMs: 60_000 }, 2000), 60_000);
});
