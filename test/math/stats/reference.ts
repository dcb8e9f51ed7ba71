// The scipy reference values (test/fixtures/stats/README.md says where they come from).
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

interface SampleCase {
  name: string;
  reference: number[];
  current: number[];
}

export interface Reference {
  provenance: { scipy: string; numpy: string };
  ks_samples: (SampleCase & { statistic: number; pvalue: number })[];
  ks_large: { n1: number; n2: number; statistic: number; pvalue: number }[];
  ks_exact_grid: { n1: number; n2: number; statistic: number; pvalue: number }[];
  kstwo_sf: { n: number; x: number; sf: number }[];
  binned: (SampleCase & {
    psi: number;
    chi2: number;
    chi2_dof: number;
    chi2_pvalue: number;
    jensenshannon_base2: number;
    hellinger: number;
  })[];
  wasserstein: (SampleCase & { distance: number; reference_std: number; normed: number | null })[];
  gammaincc: { a: number; x: number; q: number }[];
  norm_sf: { z: number; sf: number }[];
  z_test: { reference: number[]; current: number[]; z: number; pvalue: number }[];
  corrections: { pvalues: number[]; bonferroni: number[]; benjamini_hochberg: number[] }[];
}

export const reference: Reference = JSON.parse(
  readFileSync(new URL("../../fixtures/stats/reference.json", import.meta.url), "utf8"),
) as Reference;

/** |actual - expected| <= rtol·|expected| + atol. */
export function assertClose(actual: number, expected: number, what: string, rtol = 1e-9, atol = 1e-12): void {
  const ok = Math.abs(actual - expected) <= rtol * Math.abs(expected) + atol;
  assert.ok(ok, `${what}: got ${actual}, scipy says ${expected} (diff ${Math.abs(actual - expected)})`);
}
