/** A StepContext built by hand, as the orchestrator would, for running one step kind directly. */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  ArtifactRef,
  PipelineServer,
  StepContext,
  StepKind,
  StepOutput,
} from "../../../src/pipelines/step.js";
import type { Clock } from "../../../src/domain/clock.js";

export type Input = ArtifactRef & { readonly path: string };

export interface Built<S> {
  readonly ctx: StepContext<S>;
  readonly lines: string[];
  readonly abort: AbortController;
}

export async function contextFor<S>(
  kind: StepKind<S>,
  raw: unknown,
  options: {
    inputs?: Record<string, Input>;
    server?: PipelineServer;
    clock?: Clock;
    runId?: string;
    params?: Record<string, string>;
  } = {},
): Promise<Built<S>> {
  const lines: string[] = [];
  const abort = new AbortController();
  const ctx: StepContext<S> = {
    runId: options.runId ?? "run-1",
    pipeline: "fraud-retrain",
    step: kind.kind,
    attempt: 1,
    spec: kind.parse(raw, `steps[0].${kind.kind}`),
    params: options.params ?? {},
    inputs: options.inputs ?? {},
    workDir: await mkdtemp(join(tmpdir(), `ballast-step-${kind.kind}-`)),
    log: { line: (text) => lines.push(text) },
    signal: abort.signal,
    clock: options.clock ?? { now: () => Date.parse("2026-11-25T12:00:00Z") },
    ...(options.server === undefined ? {} : { server: options.server }),
  };
  return { ctx, lines, abort };
}

/** A step output as the orchestrator would hand it on: hashed, with its path. */
export async function asInput(output: StepOutput): Promise<Input> {
  const bytes = await readFile(output.file);
  return {
    sha256: createHash("sha256").update(bytes).digest("hex"),
    kind: output.kind,
    bytes: (await stat(output.file)).size,
    meta: output.meta ?? {},
    path: output.file,
  };
}

/** Every row of a JSONL dataset (test data is small). */
export async function rowsOf(path: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(path, "utf8");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A seeded generator (mulberry32) for test data. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
