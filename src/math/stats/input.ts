/**
 * Checks shared by every test, so bad input fails with the same clear message everywhere and no
 * test ever computes a NaN score from it.
 */
import { invalid } from "../../domain/errors.js";
import type { BinnedPair, SamplePair } from "./test.js";

/** Samples must be non-empty and finite; returns sorted copies. */
export function checkedSamples(
  test: string,
  pair: SamplePair,
): { readonly reference: Float64Array; readonly current: Float64Array } {
  const side = (name: "reference" | "current", values: ArrayLike<number>): Float64Array => {
    if (values.length === 0) {
      throw invalid(`${test}: the ${name} sample is empty; it needs at least one value`, {
        test,
        side: name,
      });
    }
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw invalid(
          `${test}: the ${name} sample has a non-finite value (${String(v)}) at index ${i}; drop or impute missing values first`,
          { test, side: name, index: i },
        );
      }
      out[i] = v;
    }
    return out.sort();
  };
  return { reference: side("reference", pair.reference), current: side("current", pair.current) };
}

/**
 * Histograms must have the same number of bins, counts that are finite and >= 0, and at least
 * one observation on each side.
 */
export function checkedBins(
  test: string,
  pair: BinnedPair,
): {
  readonly reference: Float64Array;
  readonly current: Float64Array;
  readonly referenceTotal: number;
  readonly currentTotal: number;
} {
  if (pair.reference.length !== pair.current.length) {
    throw invalid(
      `${test}: the reference has ${pair.reference.length} bins but the current has ${pair.current.length}; both histograms must use the same bins`,
      { test },
    );
  }
  if (pair.reference.length === 0) throw invalid(`${test}: the histograms have no bins`, { test });
  const side = (name: "reference" | "current", counts: ArrayLike<number>): [Float64Array, number] => {
    const out = new Float64Array(counts.length);
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i] as number;
      if (typeof c !== "number" || !Number.isFinite(c) || c < 0) {
        throw invalid(
          `${test}: the ${name} count in bin ${i} is ${String(c)}; counts must be finite and >= 0`,
          {
            test,
            side: name,
            bin: i,
          },
        );
      }
      out[i] = c;
      total += c;
    }
    if (total === 0) {
      throw invalid(`${test}: the ${name} histogram is empty (all counts are zero)`, { test, side: name });
    }
    return [out, total];
  };
  const [reference, referenceTotal] = side("reference", pair.reference);
  const [current, currentTotal] = side("current", pair.current);
  return { reference, current, referenceTotal, currentTotal };
}
