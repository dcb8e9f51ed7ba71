/** Step kinds defined by the tests, so the orchestrator is tested without the real steps. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StepKind, StepResult } from "../../src/pipelines/step.js";
import type { RecoverableStepKind } from "../../src/pipelines/executors/embedded.js";

export interface TestKindState {
  /** Attempts run, by `<step>`. */
  readonly calls: Map<string, number>;
  /** Effects made, by run id (what `effect` steps "register"). */
  readonly effects: Map<string, number>;
  /** Steps that wait here until released (by step name). */
  readonly gates: Map<string, { release: () => void; promise: Promise<void> }>;
}

interface EmitSpec {
  value: string;
  failTimes: number;
  hang: boolean;
}
interface DoubleSpec {
  input: string;
  failTimes: number;
}
interface EffectSpec {
  from: string;
  hang: boolean;
}

function obj(raw: unknown, field: string): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new TypeError(`${field}: expected an object`);
  return raw as Record<string, unknown>;
}

function only(o: Record<string, unknown>, allowed: string[], field: string): void {
  const bad = Object.keys(o).find((k) => !allowed.includes(k));
  if (bad !== undefined) throw new TypeError(`${field}.${bad}: unknown field`);
}

export function testKinds(): { kinds: StepKind[]; state: TestKindState; gate: (step: string) => () => void } {
  const state: TestKindState = { calls: new Map(), effects: new Map(), gates: new Map() };
  const count = (step: string): number => {
    const n = (state.calls.get(step) ?? 0) + 1;
    state.calls.set(step, n);
    return n;
  };
  const wait = async (step: string, signal: AbortSignal): Promise<void> => {
    const gate = state.gates.get(step);
    if (gate === undefined) return;
    await Promise.race([
      gate.promise,
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
      ),
    ]);
  };

  const emit: StepKind<EmitSpec> = {
    kind: "emit",
    placement: "anywhere",
    cacheable: true,
    parse(raw, field) {
      const o = obj(raw, field);
      only(o, ["value", "failTimes", "hang"], field);
      if (typeof o.value !== "string") throw new TypeError(`${field}.value: expected a string`);
      return { value: o.value, failTimes: Number(o.failTimes ?? 0), hang: o.hang === true };
    },
    inputs: () => [],
    async run(ctx) {
      const n = count(ctx.step);
      ctx.log.line(`emitting ${ctx.spec.value}`);
      await wait(ctx.step, ctx.signal);
      if (ctx.spec.hang) await new Promise(() => {}); // never ends; the timeout must end it
      if (n <= ctx.spec.failTimes) throw new Error(`emit failed on purpose (call ${n})`);
      await writeFile(join(ctx.workDir, "out.txt"), ctx.spec.value);
      return {
        outputs: { data: { file: "out.txt", kind: "dataset", meta: { rows: 1 } } },
        summary: { value: ctx.spec.value },
      };
    },
  };

  const double: StepKind<DoubleSpec> = {
    kind: "double",
    placement: "anywhere",
    cacheable: true,
    parse(raw, field) {
      const o = obj(raw, field);
      only(o, ["input", "failTimes"], field);
      if (typeof o.input !== "string") throw new TypeError(`${field}.input: expected a reference`);
      return { input: o.input, failTimes: Number(o.failTimes ?? 0) };
    },
    inputs: (spec) => [spec.input],
    async run(ctx) {
      const n = count(ctx.step);
      await wait(ctx.step, ctx.signal);
      if (n <= ctx.spec.failTimes) throw new Error(`double failed on purpose (call ${n})`);
      const text = await readFile((ctx.inputs[ctx.spec.input] as { path: string }).path, "utf8");
      await writeFile(join(ctx.workDir, "doubled.txt"), text + text);
      return {
        outputs: { out: { file: "doubled.txt", kind: "file" } },
        summary: { length: text.length * 2 },
      };
    },
  };

  /** An effect made once per run (like registering a version): recover finds it by run id. */
  const effect: RecoverableStepKind<EffectSpec> = {
    kind: "effect",
    placement: "server",
    cacheable: false,
    parse(raw, field) {
      const o = obj(raw, field);
      only(o, ["from", "hang"], field);
      if (typeof o.from !== "string") throw new TypeError(`${field}.from: expected a reference`);
      return { from: o.from, hang: o.hang === true };
    },
    inputs: (spec) => [spec.from],
    async run(ctx) {
      count(ctx.step);
      const made = (state.effects.get(ctx.runId) ?? 0) + 1;
      state.effects.set(ctx.runId, made);
      await wait(ctx.step, ctx.signal);
      return result(ctx.runId);
    },
    async recover(ctx) {
      return state.effects.has(ctx.runId) ? result(ctx.runId) : undefined;
    },
  };

  const gate = (step: string): (() => void) => {
    let release = (): void => {};
    const promise = new Promise<void>((resolve) => (release = resolve));
    state.gates.set(step, { release, promise });
    return () => {
      state.gates.delete(step);
      release();
    };
  };
  return { kinds: [emit, double, effect] as StepKind[], state, gate };
}

function result(runId: string): StepResult {
  return { outputs: {}, summary: { model: "m", version: 1, run: runId } };
}
