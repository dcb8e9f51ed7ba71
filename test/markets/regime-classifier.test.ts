// Regime classifiers behind one interface: the switching filter against hamiltonFilter and the
// HMM's forward pass, the rules hand-checked (percentile, hysteresis, minimum duration each
// shown to matter), the indicators and percentiles against brute force, alignment of a
// deliberately flipped fit, degenerate models refused, regime change events.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { forwardBackward } from "../../src/markets/hmm.js";
import { hamiltonFilter, stationaryDistribution } from "../../src/markets/markov-switching.js";
import {
  classifySwitchingWindow,
  classifyWindow,
  parseRegimeModel,
  permuteRegimeModel,
  readRegime,
  regimeChange,
  regimePath,
  startRegime,
  stepRegime,
  type RegimeModel,
  type RulesRegimeModel,
  type SwitchingRegimeModel,
} from "../../src/markets/regime-classifier.js";
import { alignRegimeModel } from "../../src/markets/regime-alignment.js";
import { percentileRank, type RulesRegimeState } from "../../src/markets/regime-rules.js";
import { series } from "./data.js";

const sp = series("sp500dge.csv", "ret");
// `ballast fit regimes -f sp500dge.csv --column ret --scale 100 --switching-variance` (its MLE).
const MS: SwitchingRegimeModel = parseRegimeModel({
  method: "markov-switching",
  labels: ["calm", "turbulent"],
  transition: [
    [0.9887821638987552, 0.011217836101244886],
    [0.04753218770374541, 0.9524678122962545],
  ],
  means: [0.05475158139733519, -0.13636759273165464],
  variances: [0.4614964022251546, 4.938642993094513],
  scale: 100,
}) as SwitchingRegimeModel;

function rules(over: Record<string, unknown> = {}, labels = ["calm", "turbulent"]): RulesRegimeModel {
  return parseRegimeModel({
    method: "rules",
    labels,
    rules: {
      indicator: "realized",
      window: 1,
      lookback: 3,
      enter: { turbulent: 0.8 },
      exit: { turbulent: 0.4 },
      minDuration: 1,
      ...over,
    },
  }) as RulesRegimeModel;
}

function labelsOf(model: RegimeModel, returns: number[]): Array<string | undefined> {
  return regimePath(model, returns).map((r) => r?.label);
}

describe("switching classifiers", () => {
  test("classifyWindow's probabilities are hamiltonFilter's filtered ones (order 0) on sp500dge", () => {
    const y = Float64Array.from(sp.slice(0, 3000), (v) => v * 100);
    const batch = hamiltonFilter(y, {
      transition: MS.transition.map((r) => [...r]),
      means: [...MS.means],
      exog: [[], []],
      ar: [],
      variances: [...MS.variances],
    });
    for (const end of [1, 250, 1000, 2999, 3000]) {
      const reading = classifyWindow(MS, sp, 0, end);
      const expected = batch.filtered[end - 1] as Float64Array;
      reading.probabilities.forEach((p, s) =>
        assert.ok(Math.abs(p - (expected[s] as number)) < 1e-12, `t=${end} s=${s}: ${p} vs ${expected[s]}`),
      );
      assert.deepEqual(classifySwitchingWindow(MS, sp, 0, end), reading);
    }
    // 1987's crash (row 15,000-odd) reads turbulent, with near certainty.
    const crash = sp.findIndex((r) => r < -0.2);
    const reading = classifyWindow(MS, sp, crash - 249, 250);
    assert.equal(reading.label, "turbulent");
    assert.ok((reading.probabilities[1] as number) > 0.99);
  });

  test("an HMM's filter is forwardBackward's filtered pass (from the stationary distribution)", () => {
    const model = parseRegimeModel({ ...MS, method: "hmm" }) as SwitchingRegimeModel;
    const y = sp.slice(0, 800).map((v) => v * 100);
    const initial = stationaryDistribution(MS.transition.map((r) => [...r]));
    const fb = forwardBackward(y, {
      initial,
      transition: MS.transition.map((r) => [...r]),
      means: [...MS.means],
      variances: [...MS.variances],
    });
    const path = regimePath(model, sp.slice(0, 800));
    path.forEach((reading, t) =>
      reading?.probabilities.forEach((p, s) =>
        assert.ok(Math.abs(p - (fb.filtered[t]?.[s] as number)) < 1e-12, `t=${t} s=${s}`),
      ),
    );
  });

  test("the incremental state is plain JSON: persisted and resumed mid-series, same readings", () => {
    for (const model of [MS, rules({ window: 5, lookback: 20 })]) {
      let state = startRegime(model);
      for (const r of sp.slice(0, 100)) state = stepRegime(model, state, r);
      let resumed = JSON.parse(JSON.stringify(state));
      for (const r of sp.slice(100, 200)) {
        state = stepRegime(model, state, r);
        resumed = stepRegime(model, resumed, r);
      }
      assert.deepEqual(readRegime(model, resumed), readRegime(model, state));
      assert.deepEqual(readRegime(model, state), classifyWindow(model, sp, 0, 200));
    }
  });
});

describe("rules classifier", () => {
  // window 1: the indicator is |r|; lookback 3: the percentile among the last 3 values.
  const series1 = [1, 1, 1, 5, 1, 1, 1, 1];

  test("hand-checked: mid-rank percentile, entry at 0.8, exit below 0.4", () => {
    // bar 3: [1,1,1] -> p = (0+3)/6 = 0.5: calm (a weak rank, #<=x/n = 1, would say turbulent)
    // bar 4: [1,1,5] -> p(5) = (2+3)/6 = 0.83 >= 0.8: turbulent
    // bar 5: [1,5,1] -> p(1) = (0+2)/6 = 0.33 < 0.4: calm
    assert.deepEqual(labelsOf(rules(), series1), [
      undefined,
      undefined,
      "calm",
      "turbulent",
      "calm",
      "calm",
      "calm",
      "calm",
    ]);
    assert.equal(percentileRank([1, 2, 2, 3], 2), 0.5);
    assert.equal(percentileRank([4, 4, 4], 4), 0.5);
  });

  test("minimum duration: a regime is held minDuration bars before it may switch back", () => {
    // minDuration 3: turbulent entered at bar 4 is held through bars 5 and 6 (p 0.33 both);
    // bar 7: [1,1,1] -> p 0.5 >= exit 0.4: hysteresis keeps it turbulent
    assert.deepEqual(labelsOf(rules({ minDuration: 3 }), series1).slice(3), [
      "turbulent",
      "turbulent",
      "turbulent",
      "turbulent",
      "turbulent",
    ]);
  });

  test("hysteresis: without the gap between enter and exit the same bar goes calm", () => {
    // exit 0.8 = enter: bar 7's p 0.5 is below it
    assert.deepEqual(labelsOf(rules({ minDuration: 3, exit: { turbulent: 0.8 } }), series1).slice(3), [
      "turbulent",
      "turbulent",
      "turbulent",
      "calm",
      "calm",
    ]);
  });

  test("three regimes: up to the highest threshold reached, down to the highest exit still held", () => {
    const model = rules(
      { lookback: 4, enter: { normal: 0.5, turbulent: 0.8 }, exit: { normal: 0.3, turbulent: 0.6 } },
      ["calm", "normal", "turbulent"],
    );
    // bar 4: [1,2,3,4] p(4) = 7/8: turbulent; bar 5: [2,3,4,3] p(3) = (1+3)/8 = 0.5 < 0.6 and
    // >= normal's exit 0.3: normal; bar 6: [3,4,3,0] p(0) = 1/8: calm
    assert.deepEqual(labelsOf(model, [1, 2, 3, 4, 3, 0]).slice(3), ["turbulent", "normal", "calm"]);
  });

  test("every indicator and its percentile match a brute-force recomputation on sp500dge", () => {
    const n = 700;
    const r = sp.slice(5000, 5000 + n);
    const w = 10;
    const lookback = 60;
    const logPrice = [0];
    for (const v of r) logPrice.push((logPrice[logPrice.length - 1] as number) + v);
    const brute: Record<string, (t: number) => number | undefined> = {
      realized: (t) =>
        t + 1 < w ? undefined : Math.sqrt(r.slice(t + 1 - w, t + 1).reduce((a, b) => a + b * b, 0) / w),
      ewma: (t) => {
        if (t + 1 < w) return undefined;
        let s = (r[0] as number) ** 2;
        for (let i = 1; i <= t; i++) s = 0.9 * s + 0.1 * (r[i] as number) ** 2;
        return Math.sqrt(s);
      },
      efficiency: (t) => {
        if (t + 1 < w) return undefined;
        const part = r.slice(t + 1 - w, t + 1);
        const path = part.reduce((a, b) => a + Math.abs(b), 0);
        return path > 0 ? Math.abs(part.reduce((a, b) => a + b, 0)) / path : 0;
      },
      drawdown: (t) => {
        if (t + 1 < w) return undefined;
        const prices = logPrice.slice(Math.max(0, t + 1 - w), t + 2);
        return 1 - Math.exp((logPrice[t + 1] as number) - Math.max(...prices));
      },
    };
    for (const [indicator, value] of Object.entries(brute)) {
      const model = rules({
        indicator,
        window: w,
        lookback,
        ...(indicator === "ewma" ? { lambda: 0.9 } : {}),
      });
      const values = r.map((_, t) => value(t));
      let state = startRegime(model);
      r.forEach((v, t) => {
        state = stepRegime(model, state, v);
        const s = state as RulesRegimeState;
        const ready = values.slice(0, t + 1).filter((x): x is number => x !== undefined);
        if (ready.length < lookback) return assert.equal(s.percentile, null, `${indicator} t=${t}`);
        const last = ready.slice(-lookback);
        const x = last[last.length - 1] as number;
        // Values that tie up to rounding (the running sums round differently from a fresh sum)
        // may rank either way; otherwise the mid-rank is exact.
        const below = last.filter((v) => v < x - 1e-12).length / lookback;
        const atMost = last.filter((v) => v <= x + 1e-12).length / lookback;
        const p = s.percentile as number;
        assert.ok(
          p >= below - 1e-12 && p <= atMost + 1e-12,
          `${indicator} t=${t}: ${p} not in [${below}, ${atMost}]`,
        );
        const exactTies = last.filter((v) => v === x).length;
        const nearTies = last.filter((v) => Math.abs(v - x) <= 1e-12).length;
        if (exactTies === nearTies)
          assert.ok(Math.abs(p - (below + atMost) / 2) < 1e-12, `${indicator} t=${t}`);
        assert.equal(s.sorted.length, lookback);
      });
    }
  });

  test("a window shorter than window + lookback - 1 is refused, naming the minimum", () => {
    const model = rules({ window: 20, lookback: 504 });
    assert.throws(
      () => classifyWindow(model, sp, 0, 500),
      /at least 523 returns \(window \+ lookback - 1\), got 500/,
    );
    assert.equal(classifyWindow(model, sp, 0, 523).probabilities.length, 2);
  });

  test("bad rules name the field", () => {
    assert.throws(() => rules({ indicator: "rsi" }), /rules\.indicator must be one of realized, ewma/);
    assert.throws(
      () => rules({ exit: { turbulent: 0.9 } }),
      /rules\.exit\.turbulent \(0\.9\) is above rules\.enter/,
    );
    assert.throws(
      () => rules({ enter: { calm: 0.5, turbulent: 0.8 } }),
      /rules\.enter\.calm: 'calm' is not a regime after the first/,
    );
    assert.throws(() => rules({ lookback: 1 }), /rules\.lookback must be an integer from 2/);
    assert.throws(() => rules({ lambda: 0.9 }), /rules\.lambda is for the ewma indicator/);
  });
});

describe("regime models: parsing, alignment, events", () => {
  test("a degenerate regime (variance collapsed) is refused, naming the regime and its variance", () => {
    assert.throws(
      () => parseRegimeModel({ ...MS, variances: [1e-12, 4.9] }),
      /regime 0 \(calm\) is degenerate: its variance 1\.000e-12 is below 0\.000001 of the largest/,
    );
    assert.throws(
      () =>
        parseRegimeModel({
          ...MS,
          transition: [
            [0.5, 0.6],
            [0.1, 0.9],
          ],
        }),
      /transition\[0\] must sum to 1/,
    );
    assert.throws(() => parseRegimeModel({ ...MS, means: [0] }), /means must be an array of 2 numbers/);
    assert.throws(() => parseRegimeModel({ ...MS, sigma: 1 }), /unknown field 'sigma'/);
    assert.throws(() => parseRegimeModel({ ...MS, labels: ["a", "a"] }), /labels\[1\] repeats 'a'/);
  });

  test("a deliberately flipped refit is aligned back: permutation [1, 0], the champion's labels", () => {
    const flipped = permuteRegimeModel(MS, [1, 0], ["turbulent", "calm"]) as SwitchingRegimeModel;
    assert.deepEqual(flipped.variances, [MS.variances[1], MS.variances[0]]);
    const window = sp.slice(14000, 16000);
    const aligned = alignRegimeModel(flipped, MS, window);
    assert.deepEqual(aligned.permutation, [1, 0]);
    assert.equal(aligned.permuted, true);
    assert.equal(aligned.agreement, 1);
    assert.equal(aligned.agreementBefore, 0);
    assert.deepEqual(aligned.model, MS);
    // An unflipped refit is left as it is.
    const same = alignRegimeModel(MS, MS, window);
    assert.deepEqual(same.permutation, [0, 1]);
    assert.equal(same.permuted, false);
  });

  test("regimeChange: an event only when the regime changes with enough probability", () => {
    const calm = { regime: 0, label: "calm", probabilities: [0.9, 0.1] };
    const unsure = { regime: 1, label: "turbulent", probabilities: [0.45, 0.55] };
    const sure = { regime: 1, label: "turbulent", probabilities: [0.05, 0.95] };
    assert.equal(regimeChange(calm, calm, 0.8), undefined);
    assert.equal(regimeChange(calm, unsure, 0.8), undefined);
    assert.deepEqual(regimeChange(calm, sure, 0.8), {
      from: { regime: 0, label: "calm" },
      to: { regime: 1, label: "turbulent" },
      probability: 0.95,
    });
    assert.deepEqual(regimeChange(undefined, sure, 0.8)?.from, null);
    assert.throws(() => regimeChange(calm, sure, 2), /minProbability must be between 0 and 1/);
  });
});
