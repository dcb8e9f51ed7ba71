/** The step kinds by the key a pipeline step uses (`source:`, `split:`, …). */
import type { StepKind } from "../step.js";
import { deployStep } from "./deploy.js";
import { registerStep } from "./register.js";
import { sourceStep } from "./source.js";
import { splitStep } from "./split.js";
import { trainStep } from "./train.js";
import { validateStep } from "./validate.js";

export const STEP_KINDS: Readonly<Record<string, StepKind>> = {
  source: sourceStep as StepKind,
  split: splitStep as StepKind,
  train: trainStep as StepKind,
  validate: validateStep as StepKind,
  register: registerStep as StepKind,
  deploy: deployStep as StepKind,
};
