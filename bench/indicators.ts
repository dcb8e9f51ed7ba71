/**
 * `npm run bench:indicators` (issue 11): the cost of one bar through the streaming indicators,
 * per bar update, on a seeded random walk with OHLC. Target: <= 2 µs per bar for the default set
 * (log return, realized volatility over 20 and 60 bars, EWMA, ATR, Kaufman efficiency ratio,
 * drawdown) and for the same with a GARCH model attached.
 *
 * Environment: BENCH_INDICATORS_BARS (2000000).
 */
import { IndicatorSet, type Bar } from "../src/markets/indicators.js";
import type { GarchModel } from "../src/markets/garch.js";

const TARGET_NS = 2000;
const bars = Number(process.env["BENCH_INDICATORS_BARS"] ?? 2_000_000);

function walk(n: number): Bar[] {
  let seed = 12345;
  const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const out: Bar[] = [];
  let close = 100;
  for (let i = 0; i < n; i++) {
    const next = close * Math.exp(0.01 * (uniform() - 0.5));
    // a repeated price now and then, like a filled holiday
    const c = uniform() < 0.02 ? close : next;
    out.push({
      time: i,
      close: c,
      open: close,
      high: Math.max(close, c) * 1.002,
      low: Math.min(close, c) * 0.998,
    });
    close = c;
  }
  return out;
}

const garch: GarchModel = {
  kind: "gjr",
  params: { mu: 0.02, omega: 0.01, alpha: 0.05, gamma: 0.05, beta: 0.9 },
  state: { lastResidual: 0, lastVariance: 1, observations: 1000 },
};

function measure(label: string, make: () => IndicatorSet, input: Bar[]): number {
  // warm up on a fresh set, then time another over every bar
  const warm = make();
  for (let i = 0; i < Math.min(200_000, input.length); i++) warm.update(input[i] as Bar);
  const set = make();
  let sink = 0;
  const start = process.hrtime.bigint();
  for (const bar of input) sink += set.update(bar).drawdown;
  const ns = Number(process.hrtime.bigint() - start) / input.length;
  if (Number.isNaN(sink)) throw new Error("unreachable");
  process.stdout.write(
    `${label.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns per bar  ${ns <= TARGET_NS ? "PASS" : "FAIL"} (target <= ${TARGET_NS} ns)\n`,
  );
  return ns;
}

const input = walk(bars);
process.stdout.write(`indicator update cost, ${bars} bars (Node ${process.version})\n`);
const results = [
  measure(
    "default set (rv 20/60, EWMA, ATR, ER, drawdown)",
    () => new IndicatorSet({ windows: [20, 60] }),
    input,
  ),
  measure(
    "the same with skipRepeats",
    () => new IndicatorSet({ windows: [20, 60], skipRepeats: true }),
    input,
  ),
  measure(
    "the same with a GJR-GARCH model attached",
    () => new IndicatorSet({ windows: [20, 60], garchScale: 100 }, garch),
    input,
  ),
];
process.exitCode = results.every((ns) => ns <= TARGET_NS) ? 0 : 1;
