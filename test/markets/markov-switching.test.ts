// Markov switching against statsmodels' published test cases (Hamilton's GNP AR(4), Fed funds,
// areturns with switching variance): fixtures from scripts/fixtures/make_markov_switching_reference.py.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  fitMarkovSwitching,
  hamiltonFilter,
  kimSmoother,
  expectedDurations,
  filterNext,
  markovSwitchingModel,
  type MarkovSwitchingParams,
  type MarkovSwitchingSpec,
} from "../../src/markets/markov-switching.js";
import { assertAbsolute, assertRelative, fixture } from "./data.js";

interface MsFixture {
  name: string;
  model: { k_regimes: number; order: number; switching_variance: boolean; exog?: number };
  data: { endog: number[]; exog?: number[][] };
  param_names: string[];
  published: { params: number[]; loglik: number };
  at_published: {
    loglik: number;
    transition_to_from: number[][];
    expected_durations: number[];
    filtered: number[][];
    smoothed: number[][];
  };
  fit: { params: number[]; loglik: number };
}

/** statsmodels' parameter vector, by name, as our parameters. */
function paramsOf(c: MsFixture, vector: number[]): MarkovSwitchingParams {
  const k = c.model.k_regimes;
  const transition = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const means = new Array<number>(k).fill(0);
  const exog = Array.from({ length: k }, () => new Array<number>(c.model.exog ?? 0).fill(0));
  const ar = new Array<number>(c.model.order).fill(0);
  const variances = new Array<number>(k).fill(0);
  c.param_names.forEach((name, i) => {
    const v = vector[i] as number;
    let match: RegExpMatchArray | null;
    if ((match = /^p\[(\d)->(\d)\]$/.exec(name)))
      (transition[Number(match[1])] as number[])[Number(match[2])] = v;
    else if ((match = /^const\[(\d)\]$/.exec(name))) means[Number(match[1])] = v;
    else if ((match = /^x1\[(\d)\]$/.exec(name))) (exog[Number(match[1])] as number[])[0] = v;
    else if ((match = /^sigma2\[(\d)\]$/.exec(name))) variances[Number(match[1])] = v;
    else if (name === "sigma2") variances.fill(v);
    else if ((match = /^ar\.L(\d)$/.exec(name))) ar[Number(match[1]) - 1] = v;
    else throw new Error(`unknown parameter ${name}`);
  });
  // statsmodels leaves out P(i -> k-1): the rest of each row
  for (const row of transition) row[k - 1] = 1 - row.slice(0, k - 1).reduce((a, b) => a + b, 0);
  return { transition, means, exog, ar, variances };
}

function specOf(c: MsFixture): MarkovSwitchingSpec {
  return {
    regimes: c.model.k_regimes,
    order: c.model.order,
    switchingVariance: c.model.switching_variance,
    ...(c.data.exog === undefined ? {} : { exog: c.data.exog, switchingExog: true }),
  };
}

const CASES = ["hamilton-gnp", "fedfunds", "areturns"].map((name) =>
  fixture<MsFixture>(`markov-switching-${name}.json`),
);

for (const c of CASES) {
  describe(`Markov switching: ${c.name}`, () => {
    const params = paramsOf(c, c.published.params);

    test("at the published parameters: log-likelihood to 1e-4, filtered and smoothed probabilities, durations", () => {
      const filter = hamiltonFilter(c.data.endog, params, c.data.exog);
      assertAbsolute(filter.loglik, c.published.loglik, 1e-4, "log-likelihood vs published");
      assertAbsolute(filter.loglik, c.at_published.loglik, 1e-8, "log-likelihood vs statsmodels");
      const smoothed = kimSmoother(filter, params);
      assert.equal(filter.filtered.length, c.at_published.filtered.length);
      c.at_published.filtered.forEach((row, t) =>
        row.forEach((p, s) =>
          assertAbsolute(filter.filtered[t]?.[s] as number, p, 1e-8, `filtered[${t}][${s}]`),
        ),
      );
      c.at_published.smoothed.forEach((row, t) =>
        row.forEach((p, s) => assertAbsolute(smoothed[t]?.[s] as number, p, 1e-8, `smoothed[${t}][${s}]`)),
      );
      expectedDurations(params.transition).forEach((d, s) =>
        assertRelative(d, c.at_published.expected_durations[s] as number, 1e-9, `duration ${s}`),
      );
    });

    test("the fit reaches statsmodels' maximum: log-likelihood to 1e-4, parameters close", () => {
      const fit = fitMarkovSwitching(c.data.endog, specOf(c));
      assertAbsolute(fit.loglik, c.fit.loglik, 1e-4, "log-likelihood");
      assertAbsolute(fit.loglik, c.published.loglik, 1e-4, "log-likelihood vs published");
      const ref = paramsOf(c, c.fit.params);
      const tol = (v: number): number => 2e-3 * Math.max(1, Math.abs(v));
      ref.means.forEach((v, s) => assertAbsolute(fit.params.means[s] as number, v, tol(v), `mean ${s}`));
      ref.variances.forEach((v, s) =>
        assertAbsolute(fit.params.variances[s] as number, v, tol(v), `variance ${s}`),
      );
      ref.ar.forEach((v, i) => assertAbsolute(fit.params.ar[i] as number, v, tol(v), `ar ${i + 1}`));
      ref.exog.forEach((row, s) =>
        row.forEach((v, j) => assertAbsolute(fit.params.exog[s]?.[j] as number, v, tol(v), `exog ${s}`)),
      );
      ref.transition.forEach((row, i) =>
        row.forEach((v, j) =>
          assertAbsolute(fit.params.transition[i]?.[j] as number, v, 2e-3, `P(${i} -> ${j})`),
        ),
      );
      assert.equal(fit.n, c.data.endog.length - c.model.order);
      assert.equal(fit.smoothed.length, fit.n);
    });
  });
}

describe("Markov switching: live filtering, one observation at a time", () => {
  for (const name of ["hamilton-gnp", "fedfunds"]) {
    test(`${name}: a model version from the first rows, then one step per row, gives the batch filter's probabilities`, () => {
      const c = CASES.find((x) => x.name === name) as MsFixture;
      const params = paramsOf(c, c.published.params);
      const y = c.data.endog;
      const cut = y.length - 40;
      let model = JSON.parse(JSON.stringify(markovSwitchingModel(params, y.slice(0, cut)))) as ReturnType<
        typeof markovSwitchingModel
      >;
      let loglik = hamiltonFilter(y.slice(0, cut), params).loglik;
      for (let t = cut; t < y.length; t++) {
        const step = filterNext(model, y[t] as number);
        model = step.model;
        loglik += step.loglik;
        const row = c.at_published.filtered[t - c.model.order] as number[];
        row.forEach((p, s) => assertAbsolute(step.filtered[s] as number, p, 1e-9, `filtered at ${t}`));
      }
      assertAbsolute(loglik, c.at_published.loglik, 1e-8, "log-likelihood summed step by step");
    });
  }
  test("a model with regressors is refused for live filtering", () => {
    const c = CASES.find((x) => x.name === "areturns") as MsFixture;
    assert.throws(() => markovSwitchingModel(paramsOf(c, c.published.params), c.data.endog), /regressors/);
  });
});

describe("Markov switching: bad input", () => {
  test("too few points names the minimum", () => {
    assert.throws(() => fitMarkovSwitching([1, 2, 3, 2, 1], { regimes: 2 }), /at least 20 points, got 5/);
  });
  test("a NaN is refused with its row", () => {
    const y = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    y[9] = Number.NaN;
    assert.throws(() => fitMarkovSwitching(y, { regimes: 2 }), /row 10: NaN/);
  });
  test("a regime fitted to repeated values (variance collapses) is refused", () => {
    // holiday-filled prices: a third of the returns exactly zero, in stretches
    let seed = 7;
    const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
    const y = Array.from({ length: 300 }, (_, i) => (Math.floor(i / 20) % 3 === 0 ? 0 : rand()));
    assert.throws(
      () => fitMarkovSwitching(y, { regimes: 2, switchingVariance: true }),
      /variance collapsed .* refused/,
    );
  });
});
