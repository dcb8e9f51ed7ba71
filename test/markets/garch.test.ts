// GARCH(1,1) and GJR-GARCH against the Fiorentini–Calzolari–Panattoni benchmark (published
// numbers) and against fGarch's garchFit on the same data (test/fixtures/markets/README.md).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  fitGarch,
  forecastVariance,
  garchLogLikelihood,
  GARCH_MIN_POINTS,
  nextVariance,
  parseGarchModel,
  updateGarch,
  type GarchModel,
  type GarchParams,
} from "../../src/markets/garch.js";
import { assertAbsolute, assertRelative, fixture, series } from "./data.js";

interface GarchFixture {
  n: number;
  params: { mu: number; omega: number; alpha: number; beta: number; gamma?: number };
  fgarch_params: Record<string, number>;
  loglik: number;
  se: Record<string, number>;
  variance_head: number[];
  variance_tail: number[];
  forecast_sd: number[];
}

const dem2gbp = series("dem2gbp.csv", "ret");

/** At least `digits` significant digits agree. */
function assertDigits(actual: number, expected: number, digits: number, what: string): void {
  assertRelative(actual, expected, 0.5 * 10 ** (1 - digits), what);
}

describe("GARCH(1,1) on DEM/GBP", () => {
  const fit = fitGarch(dem2gbp);
  const p = fit.model.params;

  test("matches the FCP benchmark to at least 5 significant digits", () => {
    // Fiorentini, Calzolari & Panattoni (1996), as quoted by Brooks, Burke & Persand (2001).
    assertDigits(p.mu, -0.00619041, 5, "mu");
    assertDigits(p.omega, 0.0107614, 5, "omega");
    assertDigits(p.alpha, 0.153134, 5, "alpha");
    assertDigits(p.beta, 0.805974, 5, "beta");
    assertDigits(fit.loglik, -1106.6079, 7, "log-likelihood");
    assert.equal(fit.n, 1974);
    assert.equal(p.gamma, 0);
  });

  test("matches fGarch's garchFit: parameters, standard errors, variance path, forecasts", () => {
    const ref = fixture<GarchFixture>("garch-dem2gbp.json");
    for (const k of ["mu", "omega", "alpha", "beta"] as const) assertDigits(p[k], ref.params[k], 5, k);
    assertAbsolute(fit.loglik, ref.loglik, 1e-6, "log-likelihood");
    // fGarch's standard errors come from its own numerical Hessian: agree to a few percent.
    const se = fit.standardErrors;
    assert.ok(se !== undefined);
    assertRelative(se.mu, ref.se["mu"] as number, 0.02, "se(mu)");
    assertRelative(se.omega, ref.se["omega"] as number, 0.02, "se(omega)");
    assertRelative(se.alpha, ref.se["alpha1"] as number, 0.02, "se(alpha)");
    assertRelative(se.beta, ref.se["beta1"] as number, 0.02, "se(beta)");
    // the start-up variance and the path: fGarch's h.t, at fGarch's parameters
    const path = new Float64Array(dem2gbp.length);
    const at = garchLogLikelihood(dem2gbp, { ...ref.params, gamma: 0 }, { variancePath: path });
    assertAbsolute(at.loglik, ref.loglik, 1e-8, "log-likelihood at fGarch's parameters");
    ref.variance_head.forEach((h, i) => assertRelative(path[i] as number, h, 1e-10, `h[${i + 1}]`));
    ref.variance_tail.forEach((h, i) =>
      assertRelative(path[path.length - 5 + i] as number, h, 1e-10, `h[${path.length - 4 + i}]`),
    );
    // forecasts 1..10 steps ahead from the end of the sample, as fGarch's predict()
    const model: GarchModel = {
      kind: "garch",
      params: { ...ref.params, gamma: 0 },
      state: { lastResidual: at.lastResidual, lastVariance: at.lastVariance, observations: dem2gbp.length },
    };
    const ahead = forecastVariance(model, 10);
    ref.forecast_sd.forEach((sd, i) =>
      assertRelative(Math.sqrt(ahead[i] as number), sd, 1e-9, `sd ${i + 1} ahead`),
    );
  });

  test("the model version is JSON, and one update per return gives the same state as a refilter", () => {
    const head = dem2gbp.slice(0, 1900);
    const tail = dem2gbp.slice(1900);
    const params = fit.model.params;
    const start = garchLogLikelihood(dem2gbp, params); // h_1 from the full sample, as the fit had it
    const headRun = new Float64Array(dem2gbp.length);
    garchLogLikelihood(dem2gbp, params, { variancePath: headRun });
    const headState = garchLogLikelihood(head, params, { startVariance: headRun[0] as number });
    let model: GarchModel = parseGarchModel(
      JSON.parse(
        JSON.stringify({
          kind: "garch",
          params,
          state: {
            lastResidual: headState.lastResidual,
            lastVariance: headState.lastVariance,
            observations: 1900,
          },
        }),
      ),
    );
    for (const r of tail) model = updateGarch(model, r);
    assertRelative(model.state.lastVariance, start.lastVariance, 1e-12, "h_T after updates");
    assertRelative(model.state.lastResidual, start.lastResidual, 1e-12, "z_T after updates");
    assert.equal(model.state.observations, dem2gbp.length);
    assertRelative(nextVariance(model), nextVariance(fit.model), 1e-12, "next variance");
  });
});

describe("GJR-GARCH(1,1) on DEM/GBP", () => {
  const ref = fixture<GarchFixture>("garch-dem2gbp-gjr.json");
  const gjr = ref.params as GarchParams;

  test("at fGarch's APARCH(delta 2) estimate, with fGarch's start-up, the log-likelihood and path are fGarch's", () => {
    // fGarch's Fortran likelihood starts APARCH at h_1 = omega + (alpha + beta) mean(z^2) with
    // ITS alpha, leaving the leverage out; ours uses the model's persistence. Same recursion after.
    const fg = ref.fgarch_params;
    const meanSquare = dem2gbp.reduce((a, r) => a + (r - gjr.mu) ** 2, 0) / dem2gbp.length;
    const startVariance = gjr.omega + ((fg["alpha1"] as number) + gjr.beta) * meanSquare;
    const path = new Float64Array(dem2gbp.length);
    const at = garchLogLikelihood(dem2gbp, gjr, { variancePath: path, startVariance });
    assertAbsolute(at.loglik, ref.loglik, 1e-7, "log-likelihood");
    ref.variance_head.forEach((h, i) => assertRelative(path[i] as number, h, 1e-9, `h[${i + 1}]`));
    ref.variance_tail.forEach((h, i) =>
      assertRelative(path[path.length - 5 + i] as number, h, 1e-9, `tail h`),
    );
  });

  test("our fit lands on fGarch's estimate (3 digits; the start-up differs) with gamma > 0", () => {
    const fit = fitGarch(dem2gbp, { kind: "gjr" });
    const p = fit.model.params;
    assertDigits(p.mu, gjr.mu, 2, "mu");
    for (const k of ["omega", "alpha", "beta"] as const) assertDigits(p[k], gjr[k], 3, k);
    assertAbsolute(p.gamma, gjr.gamma, 0.002, "gamma");
    assertAbsolute(fit.loglik, ref.loglik, 0.002, "log-likelihood");
    // one step ahead, the sign of the last shock matters; later, gamma counts half
    const neg = updateGarch(fit.model, p.mu - 1);
    const pos = updateGarch(fit.model, p.mu + 1);
    assertRelative(nextVariance(neg) - nextVariance(pos), p.gamma, 1e-9, "leverage");
    const ahead = forecastVariance(neg, 3);
    assertRelative(
      ahead[1] as number,
      p.omega + (p.alpha + p.gamma / 2 + p.beta) * (ahead[0] as number),
      1e-12,
      "2 ahead",
    );
  });
});

describe("GARCH(1,1) on sp500dge x 100 (17,055 rows)", () => {
  test("matches fGarch", () => {
    const ref = fixture<GarchFixture>("garch-sp500dge.json");
    const fit = fitGarch(series("sp500dge.csv", "ret", 100), { standardErrors: false });
    for (const k of ["mu", "omega", "alpha", "beta"] as const)
      assertDigits(fit.model.params[k], ref.params[k], 4, k);
    assertAbsolute(fit.loglik, ref.loglik, 1e-4, "log-likelihood");
  });
});

describe("bad input", () => {
  test("too few points names the minimum", () => {
    assert.throws(() => fitGarch(dem2gbp.slice(0, GARCH_MIN_POINTS - 1)), /at least 100 points, got 99/);
  });
  test("NaN and Infinity are refused with the row", () => {
    const bad = dem2gbp.slice(0, 200);
    bad[41] = Number.NaN;
    assert.throws(() => fitGarch(bad), /row 42: NaN is not a finite number/);
    bad[41] = Number.POSITIVE_INFINITY;
    assert.throws(() => fitGarch(bad, { rowName: (i) => `line ${i + 2}` }), /line 43: Infinity/);
  });
  test("a constant series is refused", () => {
    assert.throws(() => fitGarch(new Array(300).fill(0.5)), /constant/);
  });
  test("non-convergence is reported with where it stopped", () => {
    assert.throws(
      () => fitGarch(dem2gbp, { maxIterations: 2 }),
      (error: Error) =>
        /did not converge \(no convergence in 2 iterations\), stopped at mu .* log-likelihood -\d+/.test(
          error.message,
        ),
    );
  });
  test("a stored model with a non-positive variance is refused", () => {
    assert.throws(
      () =>
        parseGarchModel({
          kind: "garch",
          params: { mu: 0, omega: 0.1, alpha: 0.1, beta: 0.8 },
          state: { lastResidual: 0, lastVariance: 0, observations: 1 },
        }),
      /lastVariance must be > 0/,
    );
  });
});
