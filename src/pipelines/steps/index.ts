/**
 * The step kinds a pipeline may use, by the key a step names them with (`source`, `split`,
 * `train`, `validate`, `register`, `deploy`). The step kinds' own files fill the table; tests
 * add their own kinds with `injectStepKinds` (and take them out again with what it returns).
 */
import type { StepKind } from "../step.js";
import { barsStep } from "./bars.js";
import { deployStep } from "./deploy.js";
import { registerStep } from "./register.js";
import { sourceStep } from "./source.js";
import { splitStep } from "./split.js";
import { trainStep } from "./train.js";
import { validateStep } from "./validate.js";

export const STEP_KINDS: Record<string, StepKind> = {
  source: sourceStep as StepKind,
  split: splitStep as StepKind,
  train: trainStep as StepKind,
  validate: validateStep as StepKind,
  register: registerStep as StepKind,
  deploy: deployStep as StepKind,
  bars: barsStep as StepKind,
};

/** What the spec parser and the orchestrator look kinds up in: the table, unless told otherwise. */
export interface StepKinds {
  get(kind: string): StepKind | undefined;
  names(): string[];
}

export const stepKinds: StepKinds = {
  get: (kind) => (Object.prototype.hasOwnProperty.call(STEP_KINDS, kind) ? STEP_KINDS[kind] : undefined),
  names: () => Object.keys(STEP_KINDS).sort(),
};

/**
 * Adds `kinds` to the table (replacing any of the same key) and returns what puts the table
 * back as it was: for tests, and for embedders with kinds of their own.
 */
export function injectStepKinds(kinds: readonly StepKind[]): () => void {
  const before = new Map(kinds.map((k) => [k.kind, STEP_KINDS[k.kind]]));
  for (const k of kinds) STEP_KINDS[k.kind] = k;
  return () => {
    for (const [key, kind] of before) {
      if (kind === undefined) delete STEP_KINDS[key];
      else STEP_KINDS[key] = kind;
    }
  };
}
