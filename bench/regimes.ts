/**
 * `npm run bench:regimes` (issue 11): the router backtest on the real series, walk-forward with
 * refits on the past only. For each series: QLIKE and MSE of every specialist, the best single
 * one, and the router in three designs, with Diebold–Mariano (HLN) p-values of the router
 * against the best single specialist. Target: router QLIKE <= 0.95 x the best single's on at
 * least 3 of the 5 series. Then, in the same run: the cost of an indicator update per bar, one
 * step of the regime filter, and the router's decision overhead per request (weightsFor +
 * renormalise + combine) against one specialist forecast (GARCH over a 250-return window).
 *
 * Series: sp500dge `ret` x 100; EuStockMarkets DAX, SMI, CAC, FTSE as log returns x 100, with a
 * price that repeats the previous close dropped as a holiday fill (readSeriesFile skipRepeats):
 * the fill would otherwise be a zero return the next day's move is missing from, which both
 * biases the variance down and hands the HMM/Markov switching fit a degenerate zero state.
 *
 * Every router starts from uniform weights and learns per regime from realized QLIKE losses
 * only as they arrive (nothing is chosen by looking at the evaluation period):
 *   hard:  argmax regime's row, Fixed-Share (rate 1, share 0.01)
 *   soft:  rows mixed by regime probabilities, Fixed-Share (rate 1, share 0.01)
 *   hedge: soft, plain Hedge (rate 0.05, no share)
 * Classifier: 2-regime Markov switching (switching mean and variance), refit every 250 bars on
 * the last 2000 returns (first fit on 1000).
 *
 * Environment: BENCH_REGIMES_SERIES (comma list, default all), BENCH_REGIMES_CLASSIFIER (hmm).
 */
import { join } from "node:path";
import { IndicatorSet, type Bar } from "../src/markets/indicators.js";
import { runBacktest, type BacktestSpec } from "../src/markets/backtest.js";
import { scoreBacktest, type BacktestScores } from "../src/markets/backtest-score.js";
import { readSeriesFile } from "../src/markets/series-file.js";
import { forecastFromWindow } from "../src/markets/specialists.js";
import { fitGarch } from "../src/markets/garch.js";
import { combine, renormalise, weightsFor } from "../src/markets/router-weights.js";
import { startRegimes, stepRegimes, type SwitchingRegimeModel } from "../src/markets/regime-classifier.js";

const DATA = join("examples", "markets", "data");
const KINDS = ["garch", "gjr", "ewma", "har-rv", "last-value"] as const;
const method = (process.env["BENCH_REGIMES_CLASSIFIER"] ?? "markov-switching") as "markov-switching" | "hmm";

interface Series {
  readonly name: string;
  readonly values: number[];
  readonly note: string;
}

async function load(): Promise<Series[]> {
  const out: Series[] = [];
  const sp = await readSeriesFile(join(DATA, "sp500dge.csv"), { column: "ret", scale: 100 });
  out.push({ name: "sp500dge", values: sp.values, note: "ret x 100" });
  for (const column of ["DAX", "SMI", "CAC", "FTSE"]) {
    const s = await readSeriesFile(join(DATA, "eustockmarkets.csv"), {
      column,
      returns: "log",
      scale: 100,
      skipRepeats: true,
    });
    out.push({
      name: column,
      values: s.values,
      note: `log returns x 100, ${s.repeats} repeated closes dropped`,
    });
  }
  const only = process.env["BENCH_REGIMES_SERIES"]?.split(",");
  return only === undefined ? out : out.filter((s) => only.includes(s.name));
}

const DESIGNS: Record<string, Pick<BacktestSpec, "mode" | "learning">> = {
  hard: { mode: "hard", learning: { algorithm: "fixed-share", rate: 1, share: 0.01 } },
  soft: { mode: "soft", learning: { algorithm: "fixed-share", rate: 1, share: 0.01 } },
  hedge: { mode: "soft", learning: { algorithm: "hedge", rate: 0.05, share: 0 } },
};

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : "-");
const p3 = (x: number | undefined): string =>
  x === undefined ? "-" : x < 1e-3 ? x.toExponential(1) : x.toFixed(3);

async function main(): Promise<void> {
  const all = await load();
  process.stdout.write(`bench:regimes, classifier ${method}, Node ${process.version}\n`);
  let passes = 0;
  const lines: string[] = [];
  for (const s of all) {
    const spec = (design: string): BacktestSpec => ({
      specialists: KINDS.map((k) => ({ name: k, kind: k })),
      classifier: { method, labels: ["calm", "turbulent"] },
      ...(DESIGNS[design] as Pick<BacktestSpec, "mode" | "learning">),
      minTrain: 1000,
      refit: 250,
      window: 2000,
    });
    const scored: Record<string, BacktestScores> = {};
    const started = Date.now();
    for (const design of Object.keys(DESIGNS))
      scored[design] = scoreBacktest(runBacktest(s.values, spec(design)));
    const first = scored["hard"] as BacktestScores;
    const best = first.best;
    const bestQ = first.overall[best]?.qlike as number;
    const bestM = first.overall[best]?.mse as number;
    lines.push(
      `\n${s.name} (${s.note}): ${s.values.length} returns, ${first.overall[best]?.n} bars scored, ${((Date.now() - started) / 1000).toFixed(1)} s for the three designs`,
    );
    lines.push(
      `  ${"model".padEnd(14)} ${"QLIKE".padStart(8)} ${"MSE".padStart(10)} ${"QLIKE/best".padStart(10)} ${"MSE/best".padStart(9)}  DM p QLIKE (2-sided / router better)`,
    );
    for (const k of KINDS) {
      const l = first.overall[k];
      lines.push(
        `  ${(k + (k === best ? " *" : "")).padEnd(14)} ${f4(l?.qlike as number).padStart(8)} ${f4(l?.mse as number).padStart(10)} ${f4((l?.qlike as number) / bestQ).padStart(10)} ${f4((l?.mse as number) / bestM).padStart(9)}`,
      );
    }
    let seriesPass = false;
    for (const [design, sc] of Object.entries(scored)) {
      const l = sc.overall["router"];
      const ratio = (l?.qlike as number) / bestQ;
      const pass = ratio <= 0.95;
      seriesPass ||= pass;
      lines.push(
        `  ${`router ${design}`.padEnd(14)} ${f4(l?.qlike as number).padStart(8)} ${f4(l?.mse as number).padStart(10)} ${f4(ratio).padStart(10)} ${f4((l?.mse as number) / bestM).padStart(9)}  ${p3(sc.dm.qlike?.pValue)} / ${p3(sc.dm.qlike?.pBetter)}  ${pass ? "PASS" : "FAIL"}`,
      );
    }
    if (seriesPass) passes++;
    process.stdout.write(lines.splice(0).join("\n") + "\n");
  }
  process.stdout.write(
    `\nrouter QLIKE <= 0.95 x best single (any design): ${passes} of ${all.length} series; target >= 3: ${passes >= 3 ? "PASS" : "FAIL"}\n`,
  );
  costs();
}

function time(label: string, n: number, body: (i: number) => number, warm = true): number {
  let sink = 0;
  if (warm) for (let i = 0; i < Math.min(n, 20_000); i++) sink += body(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += body(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  if (Number.isNaN(sink)) process.stdout.write("");
  process.stdout.write(`${label.padEnd(64)} ${ns.toFixed(0).padStart(7)} ns\n`);
  return ns;
}

function costs(): void {
  process.stdout.write("\ncosts per bar / per request (same run)\n");
  let seed = 7;
  const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const bars: Bar[] = [];
  let close = 100;
  for (let i = 0; i < 200_000; i++) {
    const c = close * Math.exp(0.01 * (uniform() - 0.5));
    bars.push({
      time: i,
      close: c,
      open: close,
      high: Math.max(c, close) * 1.002,
      low: Math.min(c, close) * 0.998,
    });
    close = c;
  }
  const warm = new IndicatorSet({ windows: [20, 60] });
  for (const bar of bars) warm.update(bar);
  const set = new IndicatorSet({ windows: [20, 60] });
  const indicator = time(
    "indicator update (rv 20/60, EWMA, ATR, ER, drawdown; target <= 2000)",
    bars.length,
    (i) => set.update(bars[i] as Bar).drawdown,
    false,
  );
  const returns = Array.from({ length: 2000 }, () => (uniform() - 0.5) * 2);
  const model: SwitchingRegimeModel = {
    method: "markov-switching",
    labels: ["calm", "turbulent"],
    transition: [
      [0.98, 0.02],
      [0.05, 0.95],
    ],
    means: [0.05, -0.1],
    variances: [0.5, 3],
    scale: 1,
  };
  let state = startRegimes(model);
  time("regime filter step (stepRegimes, 2 regimes)", 1_000_000, (i) => {
    state = stepRegimes(model, state, returns[i % 2000] as number);
    return state.filtered[0] as number;
  });
  const table = [
    [0.3, 0.3, 0.2, 0.1, 0.1],
    [0.2, 0.4, 0.2, 0.1, 0.1],
  ];
  const answered = [true, true, true, true, true];
  const forecasts = [1.1, 1.2, 0.9, 1.0, 1.3];
  const decision = time("router decision (weightsFor soft + renormalise + combine, 5)", 1_000_000, (i) => {
    const w = weightsFor("soft", table, [0.3 + (i % 7) * 0.01, 0.7 - (i % 7) * 0.01]);
    return combine(renormalise(w, answered) as number[], forecasts);
  });
  const garch = { kind: "garch" as const, garch: fitGarch(returns, { standardErrors: false }).model };
  const specialist = time(
    "one specialist forecast (GARCH over a 250-return window)",
    200_000,
    (i) => forecastFromWindow(garch, returns, 1, { from: i % 1500, width: 250 })[0] as number,
  );
  process.stdout.write(
    `router decision overhead = ${((100 * decision) / specialist).toFixed(1)}% of one specialist forecast; indicator update ${indicator <= 2000 ? "PASS" : "FAIL"} (<= 2 µs)\n`,
  );
}

await main();
