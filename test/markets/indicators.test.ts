// Streaming indicators against straightforward batch computations on real series, plus the
// rules for repeated prices, gaps, order, and state that survives a restart.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  IndicatorSet,
  mergeWindows,
  realizedFromWindow,
  type Bar,
  type IndicatorValues,
} from "../../src/markets/indicators.js";
import { fitGarch, nextVariance, updateGarch } from "../../src/markets/garch.js";
import { assertAbsolute, assertRelative, series } from "./data.js";

const dax = series("eustockmarkets.csv", "DAX");
const bars: Bar[] = dax.map((close, i) => ({ time: i, close }));

function run(set: IndicatorSet, input: Bar[]): IndicatorValues[] {
  return input.map((bar) => set.update(bar));
}

describe("streaming indicators against batch formulas (DAX, 1,860 closes)", () => {
  const values = run(new IndicatorSet({ windows: [5, 20], efficiencyPeriod: 10 }), bars);
  const returns = dax.slice(1).map((c, i) => Math.log(c / (dax[i] as number)));

  test("log returns", () => {
    assert.equal(values[0]?.logReturn, undefined);
    returns.forEach((r, i) => assertAbsolute(values[i + 1]?.logReturn as number, r, 1e-15, `r[${i + 1}]`));
  });

  test("realized volatility over 5 and 20 returns", () => {
    for (const [w, at] of [
      [5, 0],
      [20, 1],
    ] as const) {
      for (const t of [1, 3, 5, 20, 21, 500, 1859]) {
        const window = returns.slice(Math.max(0, t - w), t);
        const batch = Math.sqrt(window.reduce((a, r) => a + r * r, 0) / window.length);
        assertRelative(values[t]?.realizedVolatility[at] as number, batch, 1e-10, `rv${w}[${t}]`);
      }
    }
  });

  test("EWMA volatility, RiskMetrics lambda 0.94, seeded with the first squared return", () => {
    let v = (returns[0] as number) ** 2;
    for (let i = 1; i < returns.length; i++) v = 0.94 * v + 0.06 * (returns[i] as number) ** 2;
    assertRelative(values[returns.length]?.ewmaVolatility as number, Math.sqrt(v), 1e-12, "ewma");
  });

  test("Kaufman efficiency ratio and drawdown", () => {
    for (const t of [10, 11, 400, 1859]) {
      const path = dax.slice(t - 10, t + 1);
      const noise = path.slice(1).reduce((a, c, i) => a + Math.abs(c - (path[i] as number)), 0);
      assertRelative(
        values[t]?.efficiencyRatio as number,
        Math.abs((dax[t] as number) - (dax[t - 10] as number)) / noise,
        1e-10,
        `er[${t}]`,
      );
    }
    assert.equal(values[9]?.efficiencyRatio, undefined);
    let peak = 0;
    let worst = 0;
    dax.forEach((c, t) => {
      peak = Math.max(peak, c);
      worst = Math.min(worst, c / peak - 1);
      assertAbsolute(values[t]?.drawdown as number, c / peak - 1, 1e-15, `dd[${t}]`);
      assertAbsolute(values[t]?.maxDrawdown as number, worst, 1e-15, `mdd[${t}]`);
    });
    assert.ok(worst < -0.2, "DAX fell by more than 20% in 1997-98");
  });

  test("ATR (Wilder) when bars carry high and low; none without", () => {
    const ohlc: Bar[] = dax.map((close, i) => ({ time: i, close, high: close * 1.01, low: close * 0.985 }));
    const out = run(new IndicatorSet({ atrPeriod: 14 }), ohlc);
    const tr = ohlc.map((b, i) =>
      i === 0
        ? (b.high as number) - (b.low as number)
        : Math.max(
            (b.high as number) - (b.low as number),
            Math.abs((b.high as number) - (dax[i - 1] as number)),
            Math.abs((b.low as number) - (dax[i - 1] as number)),
          ),
    );
    let atr = tr.slice(0, 14).reduce((a, b) => a + b, 0) / 14;
    assert.equal(out[12]?.atr, undefined);
    assertRelative(out[13]?.atr as number, atr, 1e-12, "atr[13]");
    for (let i = 14; i < tr.length; i++) atr = (13 * atr + (tr[i] as number)) / 14;
    assertRelative(out[tr.length - 1]?.atr as number, atr, 1e-10, "atr[last]");
    assert.equal(values[100]?.atr, undefined);
  });

  test("GARCH volatility follows a fitted model's state, in the model's units", () => {
    const pct = returns.map((r) => 100 * r);
    const fit = fitGarch(pct.slice(0, 1000), { standardErrors: false });
    // the fit's state is at bar 1000 (its last return is bar 999 -> 1000); go on from there
    const out = run(new IndicatorSet({ garchScale: 100 }, fit.model), bars.slice(1000));
    let model = fit.model;
    for (const r of pct.slice(1000)) model = updateGarch(model, r);
    assertRelative(
      out[out.length - 1]?.garchVolatility as number,
      Math.sqrt(nextVariance(model)),
      1e-9,
      "garch volatility",
    );
    assertRelative(
      out[0]?.garchVolatility as number,
      Math.sqrt(nextVariance(fit.model)),
      1e-12,
      "before any return",
    );
  });
});

describe("repeated prices, gaps, order, state", () => {
  const withHoliday: Bar[] = [100, 101, 101, 102, 100].map((close, i) => ({ time: i === 4 ? 10 : i, close }));

  test("a repeated close is a zero return flagged repeated; skipRepeats keeps it out of the volatility estimators", () => {
    const kept = run(new IndicatorSet({ windows: [3], maxGap: 2 }), withHoliday);
    const skipped = run(new IndicatorSet({ windows: [3], skipRepeats: true, maxGap: 2 }), withHoliday);
    assert.equal(kept[2]?.repeated, true);
    assert.equal(kept[2]?.logReturn, 0);
    const r1 = Math.log(101 / 100);
    const r3 = Math.log(102 / 101);
    assertRelative(
      kept[3]?.realizedVolatility[0] as number,
      Math.sqrt((r1 * r1 + r3 * r3) / 3),
      1e-12,
      "with the zero",
    );
    assertRelative(
      skipped[3]?.realizedVolatility[0] as number,
      Math.sqrt((r1 * r1 + r3 * r3) / 2),
      1e-12,
      "without it",
    );
    assertRelative(skipped[2]?.ewmaVolatility as number, Math.abs(r1), 1e-12, "EWMA unmoved by the repeat");
    // the step from time 3 to 10 is a gap: one return over it, flagged
    assert.equal(kept[4]?.gap, true);
    assert.equal(kept[3]?.gap, false);
    assertRelative(kept[4]?.logReturn as number, Math.log(100 / 102), 1e-12, "return across the gap");
  });

  test("out of order, a non-positive close and NaN are refused", () => {
    const set = new IndicatorSet();
    set.update({ time: 5, close: 10 });
    assert.throws(() => set.update({ time: 5, close: 11 }), /not after the last one/);
    assert.throws(() => set.update({ time: 6, close: 0 }), /not a positive number/);
    assert.throws(() => set.update({ time: 6, close: Number.NaN }), /not a positive number/);
  });

  test("state as JSON resumes where it stopped: same values as an uninterrupted run", () => {
    const ohlc: Bar[] = dax.map((close, i) => ({ time: i, close, high: close * 1.01, low: close * 0.99 }));
    const whole = run(new IndicatorSet({ windows: [20, 60] }), ohlc);
    const first = new IndicatorSet({ windows: [20, 60] });
    run(first, ohlc.slice(0, 777));
    const resumed = IndicatorSet.restore(JSON.parse(JSON.stringify(first.state())));
    const rest = run(resumed, ohlc.slice(777));
    // the same up to the order of a running sum's additions
    const got = rest[rest.length - 1] as IndicatorValues;
    const want = whole[whole.length - 1] as IndicatorValues;
    assert.deepEqual({ ...got, realizedVolatility: [] }, { ...want, realizedVolatility: [] });
    want.realizedVolatility.forEach((v, i) =>
      assertRelative(got.realizedVolatility[i] as number, v as number, 1e-12, `rv ${i}`),
    );
  });

  test("windows of two chunks that share their boundary bar merge into the whole run's window", () => {
    const whole = new IndicatorSet({ windows: [20] });
    run(whole, bars);
    const a = new IndicatorSet({ windows: [20] });
    run(a, bars.slice(0, 1000));
    const b = new IndicatorSet({ windows: [20] });
    run(b, bars.slice(999, 1010)); // 10 returns: the merged window needs 10 of a's
    const merged = mergeWindows(a.state().realized[0]!, b.state().realized[0]!);
    const reference = new IndicatorSet({ windows: [20] });
    const upTo = run(reference, bars.slice(0, 1010));
    assertRelative(
      realizedFromWindow(merged) as number,
      upTo[upTo.length - 1]?.realizedVolatility[0] as number,
      1e-12,
      "merged",
    );
  });
});
