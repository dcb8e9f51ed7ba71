/**
 * The table of drift tests. Adding one is one file and one line here.
 */
import { invalid } from "../../domain/errors.js";
import { chiSquareTest } from "./chi-square.js";
import { hellingerTest } from "./hellinger.js";
import { jensenShannonTest } from "./jensen-shannon.js";
import { ksTest } from "./ks.js";
import { psiTest } from "./psi.js";
import type { StatTest } from "./test.js";
import { wassersteinTest } from "./wasserstein.js";
import { zTest } from "./z-test.js";

export const STAT_TESTS: Readonly<Record<string, StatTest>> = Object.freeze({
  [psiTest.name]: psiTest,
  [ksTest.name]: ksTest,
  [chiSquareTest.name]: chiSquareTest,
  [jensenShannonTest.name]: jensenShannonTest,
  [wassersteinTest.name]: wassersteinTest,
  [hellingerTest.name]: hellingerTest,
  [zTest.name]: zTest,
});

export function statTest(name: string): StatTest {
  const test = Object.hasOwn(STAT_TESTS, name) ? STAT_TESTS[name] : undefined;
  if (test === undefined) {
    throw invalid(`unknown drift test "${name}"; known tests: ${Object.keys(STAT_TESTS).join(", ")}`, {
      test: name,
      known: Object.keys(STAT_TESTS),
    });
  }
  return test;
}

export type {
  BinnedPair,
  BinnedStatTest,
  FeatureKind,
  SamplePair,
  SampleStatTest,
  StatKind,
  StatResult,
  StatTest,
} from "./test.js";
