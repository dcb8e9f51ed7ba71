// The walk-forward of the specialists on dem2gbp, and the comparison the markets story rests
// on: GARCH's QLIKE below the last value's, with the Diebold–Mariano test (HLN) saying how surely.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { walkForward } from "../../src/markets/walk-forward.js";
import { dieboldMariano, lossSeries, meanOf, qlike, squaredError } from "../../src/markets/evaluation.js";
import { fitGarch, forecastVariance, updateGarch } from "../../src/markets/garch.js";
import { series } from "./data.js";

const TRAIN = 1000;

describe("walk-forward of the volatility specialists on dem2gbp", () => {
  const dem = series("dem2gbp.csv", "ret");
  const wf = walkForward(dem, { train: TRAIN });
  const losses = Object.fromEntries(
    Object.entries(wf.forecasts).map(([kind, f]) => [kind, lossSeries(wf.realized, f, qlike)]),
  ) as Record<keyof typeof wf.forecasts, Float64Array>;
  const dm = dieboldMariano(losses.garch, losses["last-value"], { losses: true, alternative: "less" });
  const q = (k: keyof typeof wf.forecasts): string => meanOf(losses[k]).toFixed(4);

  test(`GARCH's QLIKE (${q("garch")}) is below last-value's (${q("last-value")}): DM ${dm.statistic.toFixed(2)}, one-sided p ${dm.pValue.toExponential(2)}`, () => {
    assert.equal(wf.realized.length, dem.length - TRAIN);
    assert.ok(meanOf(losses.garch) < meanOf(losses["last-value"]));
    assert.ok(dm.pValue < 0.05, `DM p-value ${dm.pValue}`);
    // The other two baselines are scored too (printed in the name of the next test).
    for (const k of ["ewma", "har-rv"] as const) assert.ok(Number.isFinite(meanOf(losses[k])));
  });

  test(`QLIKE of EWMA ${q("ewma")}, HAR-RV ${q("har-rv")}; MSE of GARCH below last-value's`, () => {
    const mse = (k: keyof typeof wf.forecasts): number =>
      meanOf(lossSeries(wf.realized, wf.forecasts[k], squaredError));
    assert.ok(mse("garch") < mse("last-value"), `${mse("garch")} vs ${mse("last-value")}`);
  });

  test("GARCH's path is garch.ts's: the training fit, then updateGarch one return at a time", () => {
    let model = fitGarch(dem.slice(0, TRAIN), { standardErrors: false }).model;
    for (let i = 0; i < 50; i++) {
      assert.equal(wf.forecasts.garch[i], forecastVariance(model, 1)[0] as number);
      model = updateGarch(model, dem[TRAIN + i] as number);
    }
  });

  test("the future is never read: changing r_t changes no forecast for t or before", () => {
    const t = TRAIN + 300;
    const changed = dem.slice();
    changed[t] = 25;
    const other = walkForward(changed, { train: TRAIN });
    for (const kind of Object.keys(wf.forecasts) as Array<keyof typeof wf.forecasts>) {
      for (let i = 0; i <= t - TRAIN; i++)
        assert.equal(other.forecasts[kind][i], wf.forecasts[kind][i], `${kind} at ${i}`);
      assert.notEqual(
        other.forecasts[kind][t - TRAIN + 1],
        wf.forecasts[kind][t - TRAIN + 1],
        `${kind} sees r_t after t`,
      );
    }
  });
});
