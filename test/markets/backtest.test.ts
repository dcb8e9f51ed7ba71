// The router backtest: the walk never reads the future (a poisoned later return moves nothing
// before it), hard routing equals picking the routed specialist per bar, refits are aligned to
// the previous fit's regimes, and the scores pair up with evaluation.ts's losses.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { alignRegimes, runBacktest, externalWindows, type BacktestSpec } from "../../src/markets/backtest.js";
import { filledForecasts, scoreBacktest } from "../../src/markets/backtest-score.js";
import { emptyScoreboard, performanceRows, recordRound } from "../../src/markets/regime-scoreboard.js";
import { qlike } from "../../src/markets/evaluation.js";
import { series } from "./data.js";

const dem = series("dem2gbp.csv", "ret").slice(0, 800);
const base: BacktestSpec = {
  specialists: [
    { name: "garch", kind: "garch" },
    { name: "ewma", kind: "ewma" },
    { name: "har-rv", kind: "har-rv" },
    { name: "last", kind: "last-value" },
  ],
  classifier: { method: "hmm", labels: ["calm", "turbulent"] },
  mode: "soft",
  learning: { algorithm: "fixed-share", rate: 1, share: 0.02 },
  minTrain: 400,
  refit: 100,
};

describe("router backtest on dem2gbp", () => {
  const result = runBacktest(dem, base);

  test("one row per bar from minTrain − 1 to n − 2; realized is the next squared return", () => {
    assert.equal(result.realized.length, dem.length - base.minTrain);
    assert.equal(result.bars[0], base.minTrain - 1);
    assert.equal(result.realized[0], (dem[base.minTrain] as number) ** 2);
    assert.equal(result.refits.length, Math.ceil(result.realized.length / base.refit));
    for (let i = 0; i < result.realized.length; i++) {
      const w = result.weights.reduce((a, s) => a + (s[i] as number), 0);
      assert.ok(Math.abs(w - 1) < 1e-12, `weights at row ${i} sum to ${w}`);
      const p = result.probabilities.reduce((a, s) => a + (s[i] as number), 0);
      assert.ok(Math.abs(p - 1) < 1e-9);
    }
  });

  for (const method of ["hmm", "markov-switching"] as const) {
    test(`${method}: a poisoned later return changes no forecast, probability or weight before it`, () => {
      const spec = { ...base, classifier: { ...base.classifier, method } };
      const clean = method === "hmm" ? result : runBacktest(dem, spec);
      const j = 650; // r_650 poisoned: bars t <= 649 (forecasts of r_{t+1} up to r_650) must not move
      const poisoned = dem.slice();
      poisoned[j] = 40;
      const other = runBacktest(poisoned, spec);
      let checked = 0;
      for (let row = 0; row < clean.bars.length && (clean.bars[row] as number) < j; row++) {
        assert.equal(other.router[row], clean.router[row], `router at bar ${clean.bars[row]}`);
        for (let s = 0; s < clean.forecasts.length; s++) {
          assert.equal(other.forecasts[s]?.[row], clean.forecasts[s]?.[row]);
          assert.equal(other.weights[s]?.[row], clean.weights[s]?.[row]);
        }
        for (let k = 0; k < 2; k++)
          assert.equal(other.probabilities[k]?.[row], clean.probabilities[k]?.[row]);
        checked++;
      }
      assert.equal(checked, j - (base.minTrain - 1));
      // ...and the poison is seen from the bar it arrives: the forecast made after it moves.
      const at = j - (base.minTrain - 1);
      assert.notEqual(other.router[at], clean.router[at]);
    });
  }

  test("hard routing, fixed weights: the router's forecast is the routed specialist's, bar by bar", () => {
    const hard = runBacktest(dem, {
      ...base,
      mode: "hard",
      weights: [
        [1, 0, 0, 0],
        [0, 0, 1, 0],
      ],
      learning: undefined,
    } as BacktestSpec);
    const route = [0, 2];
    let turbulent = 0;
    for (let row = 0; row < hard.router.length; row++) {
      const regime = hard.regime[row] as number;
      const top = (hard.probabilities[1]?.[row] as number) > (hard.probabilities[0]?.[row] as number) ? 1 : 0;
      assert.equal(regime, top);
      turbulent += regime;
      assert.equal(hard.router[row], hard.forecasts[route[regime] as number]?.[row]);
    }
    assert.ok(turbulent > 0 && turbulent < hard.router.length, `both regimes occur (${turbulent} turbulent)`);
  });

  test("refits: every fit's regimes are calm → turbulent; alignment undoes a flipped refit", () => {
    for (const r of result.refits) {
      const v = r.classifier.variances as number[];
      assert.ok((v[0] as number) < (v[1] as number), `refit at ${r.bar}: ${v.join(", ")}`);
    }
    assert.deepEqual(alignRegimes(undefined, [4, 1]), [1, 0]);
    assert.deepEqual(alignRegimes([1, 4], [4.4, 0.9]), [1, 0]);
    assert.deepEqual(alignRegimes([1, 3, 9], [8, 1.2, 2.5]), [1, 2, 0]);
    assert.deepEqual(alignRegimes([1, 4], [1.1, 3.8]), [0, 1]);
  });

  test("scores: QLIKE per model is evaluation.ts's, over the bars with r² > 0; DM is stated", () => {
    const scores = scoreBacktest(result);
    let sum = 0;
    let n = 0;
    result.realized.forEach((r, i) => {
      if (r > 0) {
        sum += qlike(r, result.router[i] as number);
        n++;
      }
    });
    assert.ok(Math.abs((scores.overall["router"]?.qlike as number) - sum / n) < 1e-12);
    assert.equal(scores.overall["router"]?.nQlike, n);
    assert.ok(scores.models.includes(scores.best) && scores.best !== "router");
    assert.ok((scores.dm.qlike?.pValue as number) > 0 && (scores.dm.qlike?.pValue as number) <= 1);
    const bars = scores.byRegime.reduce((a, r) => a + r.bars, 0);
    assert.equal(bars, result.realized.length);
  });

  test("the per-regime tables are the live scoreboard's (regime-scoreboard.ts) fed the same rounds", () => {
    const scores = scoreBacktest(result);
    const board = emptyScoreboard(scores.models, result.labels, result.realized.length);
    const filled = [...filledForecasts(result), result.router];
    for (let i = 0; i < result.realized.length; i++)
      recordRound(
        board,
        result.regime[i] as number,
        result.realized[i] as number,
        filled.map((f) => f[i] as number),
      );
    for (const row of performanceRows(board)) {
      const ours =
        row.regime === "all"
          ? scores.overall[row.model]
          : scores.byRegime.find((r) => r.label === row.regime)?.losses[row.model];
      assert.equal(row.n, ours?.n, `${row.regime} ${row.model}`);
      if (row.n === 0) continue;
      assert.ok(
        Math.abs((row.qlike as number) - (ours?.qlike as number)) < 1e-12,
        `${row.regime} ${row.model} qlike`,
      );
      assert.ok(
        Math.abs((row.mse as number) - (ours?.mse as number)) < 1e-9,
        `${row.regime} ${row.model} mse`,
      );
    }
  });

  test("external forecasts: windows end at their bar; too few returns name the minimum", () => {
    const w = externalWindows([1, 2, 3, 4, 5], 3, 2, 4);
    assert.deepEqual(Array.from(w), [1, 2, 3, 2, 3, 4, 3, 4, 5]);
    assert.throws(() => runBacktest(dem.slice(0, 300), base), /at least 401 points, got 300/);
    assert.throws(
      () => runBacktest(dem, { ...base, minTrain: 30 }),
      /minTrain must be a whole number of at least 100 returns, got 30/,
    );
  });
});
