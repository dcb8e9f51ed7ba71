import type { BuiltinKind } from "./format.js";
import type { BuiltinKindModule } from "./kind.js";
import { gradientBoostedTrees } from "./gbt.js";
import { linearRegression } from "./linear.js";
import { logisticRegression } from "./logistic.js";
import { hmmClassifier, markovSwitchingClassifier, rulesClassifier } from "./regimes.js";
import { ewmaSpecialist, garchSpecialist, harRvSpecialist, lastValueSpecialist } from "./volatility.js";

/** Adding a kind: a module like logistic.ts, its name in BUILTIN_KINDS, and one line here. */
export const BUILTIN_KIND_MODULES: Readonly<Record<BuiltinKind, BuiltinKindModule>> = {
  logistic_regression: logisticRegression,
  linear_regression: linearRegression,
  gradient_boosted_trees: gradientBoostedTrees,
  garch: garchSpecialist,
  ewma: ewmaSpecialist,
  "har-rv": harRvSpecialist,
  "last-value": lastValueSpecialist,
  "markov-switching": markovSwitchingClassifier,
  hmm: hmmClassifier,
  "regime-rules": rulesClassifier,
};
