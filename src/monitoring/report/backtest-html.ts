/**
 * The standalone HTML backtest report (`ballast backtest --html`): like the drift report, one
 * file with inline CSS and inline SVG only, no scripts and no external URL. It shows the level
 * (price or cumulative index) with the regime timeline shaded behind it, forecasts against the
 * realized squared return on a log scale, the router's weights over time as a stacked area, the
 * per-regime loss tables, and the Diebold–Mariano p-values of the router against the best
 * single specialist. Long series are downsampled for the plots (bucket means, at most
 * MAX_POINTS points; the regime shading keeps each bucket's majority regime), which the report
 * says; the tables and the JSON report use every bar.
 */
import type { BacktestResult } from "../../markets/backtest.js";
import type { BacktestScores, DmSummary, LossSummary } from "../../markets/backtest-score.js";
import { escapeHtml, formatNumber, STYLE } from "./html.js";

export const MAX_POINTS = 800;

export interface BacktestReportContext {
  readonly title: string;
  readonly data: string;
  readonly generatedAt: number;
  /** Per row: its time (date) if the data had one. */
  readonly times?: ReadonlyArray<string | number | undefined> | undefined;
  /** Per row: the price or cumulative index. */
  readonly level: readonly number[];
  readonly levelName: string;
  readonly setup: Readonly<Record<string, unknown>>;
}

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
const REGIME_FILL = ["#dcfce7", "#fecaca", "#fef08a", "#bfdbfe"];
const REALIZED = "#9ca3af";
const W = 1040;
const H = 220;
const L = 56;
const R = 12;
const T = 10;
const B = 24;

export function renderBacktestReport(
  result: BacktestResult,
  scores: BacktestScores,
  context: BacktestReportContext,
): string {
  const n = result.realized.length;
  const buckets = bucketsOf(n);
  const legend = (names: readonly string[], colors: readonly string[] = COLORS): string =>
    `<p class="legend">${names.map((name, i) => `<span class="swatch" style="background:${colors[i % colors.length]}"></span>${escapeHtml(name)}`).join(" ")}</p>`;
  const regimeLegend = `<p class="legend">${result.labels.map((l, j) => `<span class="swatch" style="background:${REGIME_FILL[j % REGIME_FILL.length]};border:1px solid #d1d5db"></span>${escapeHtml(l)}`).join(" ")}</p>`;
  const best = result.names.indexOf(scores.best);
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(context.title)}</title>`,
    `<style>${STYLE}\n.swatch{margin-left:8px}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<header><h1>${escapeHtml(context.title)}</h1><p class="meta"><span><b>Data</b> ${escapeHtml(context.data)}</span><span><b>Bars scored</b> ${n}</span><span><b>Generated</b> ${escapeHtml(new Date(context.generatedAt).toISOString().slice(0, 19).replace("T", " "))} UTC</span></p></header>`,
    renderSummary(scores),
    "<section><h2>Regimes on the " + escapeHtml(context.levelName) + "</h2>",
    regimeLegend,
    `<div class="scroll">${levelChart(context.level, result, buckets, context.times)}</div>`,
    "</section>",
    "<section><h2>Forecast against realized (log scale)</h2>",
    legend(["realized r²", "router", `best single (${scores.best})`], [REALIZED, ...COLORS]),
    `<div class="scroll">${forecastChart(result, best, buckets, context.times)}</div>`,
    "</section>",
    "<section><h2>Router weights over time</h2>",
    legend(result.names),
    `<div class="scroll">${weightsChart(result, buckets, context.times)}</div>`,
    "</section>",
    renderLossTables(scores),
    renderDmTable(scores),
    "<section><h2>Setup and refits</h2>",
    `<p class="note">${escapeHtml(JSON.stringify(context.setup))}</p>`,
    `<p class="note">${result.refits.length} fits; ${result.refits.filter((r) => r.classifier.permutation !== undefined).length} classifier refits renumbered to the previous fit's regimes; ${result.refits.filter((r) => r.classifier.kept !== undefined || Object.values(r.specialists).some((s) => s.kept !== undefined)).length} kept a previous fit. Specialist failures (weight renormalised away): ${result.names.map((nm, i) => `${nm} ${result.failures[i]}`).join(", ")}.</p>`,
    `<p class="note">Plots: ${n > MAX_POINTS ? `downsampled to ${buckets.length} points (bucket means of ${Math.ceil(n / buckets.length)} bars; the regime shown is each bucket's majority)` : "every bar"}; the tables use every bar.</p>`,
    "</section>",
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

interface Bucket {
  readonly from: number;
  readonly to: number;
}

function bucketsOf(n: number): Bucket[] {
  const size = Math.max(1, Math.ceil(n / MAX_POINTS));
  const out: Bucket[] = [];
  for (let from = 0; from < n; from += size) out.push({ from, to: Math.min(n, from + size) });
  return out;
}

function meanIn(values: ArrayLike<number>, b: Bucket): number {
  let s = 0;
  let c = 0;
  for (let i = b.from; i < b.to; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      s += v;
      c++;
    }
  }
  return c > 0 ? s / c : Number.NaN;
}

const round = (x: number): number => Math.round(x * 10) / 10;

function frame(
  yTicks: Array<[number, string]>,
  xLabels: Array<[number, string]>,
  inner: string,
  label: string,
): string {
  const parts = [
    `<svg class="chart" role="img" width="100%" preserveAspectRatio="none" viewBox="0 0 ${W} ${H}" aria-label="${escapeHtml(label)}">`,
    inner,
  ];
  for (const [y, text] of yTicks)
    parts.push(
      `<line class="grid" x1="${L}" x2="${W - R}" y1="${round(y)}" y2="${round(y)}"/><text class="tick" x="${L - 6}" y="${round(y) + 4}" text-anchor="end">${escapeHtml(text)}</text>`,
    );
  for (const [x, text] of xLabels)
    parts.push(
      `<text class="tick" x="${round(x)}" y="${H - 6}" text-anchor="middle">${escapeHtml(text)}</text>`,
    );
  parts.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`, "</svg>");
  return parts.join("");
}

function xOf(i: number, count: number): number {
  return L + ((W - L - R) * (i + 0.5)) / Math.max(1, count);
}

function xLabelsFor(
  buckets: readonly Bucket[],
  result: BacktestResult,
  times?: BacktestReportContext["times"],
): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const steps = 6;
  for (let s = 0; s <= steps; s++) {
    const i = Math.min(buckets.length - 1, Math.round((s * (buckets.length - 1)) / steps));
    const row = (buckets[i] as Bucket).from;
    const time = times?.[row];
    out.push([
      xOf(i, buckets.length),
      time === undefined
        ? `bar ${result.bars[row]}`
        : typeof time === "number"
          ? String(Number(time.toFixed(2)))
          : time,
    ]);
  }
  return out;
}

function regimeBands(result: BacktestResult, buckets: readonly Bucket[]): string {
  const width = (W - L - R) / buckets.length;
  return buckets
    .map((b, i) => {
      const counts = new Array<number>(result.labels.length).fill(0);
      for (let r = b.from; r < b.to; r++)
        counts[result.regime[r] as number] = (counts[result.regime[r] as number] as number) + 1;
      const top = counts.indexOf(Math.max(...counts));
      return `<rect x="${round(L + i * width)}" y="${T}" width="${round(width + 0.5)}" height="${H - T - B}" fill="${REGIME_FILL[top % REGIME_FILL.length]}"/>`;
    })
    .join("");
}

function path(points: Array<[number, number]>, color: string, width = 1.2): string {
  const d = points
    .filter(([, y]) => Number.isFinite(y))
    .map(([x, y], i) => `${i === 0 ? "M" : "L"}${round(x)} ${round(y)}`)
    .join("");
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"/>`;
}

function scaleY(lo: number, hi: number, log: boolean): (v: number) => number {
  const f = log ? Math.log10 : (v: number) => v;
  const a = f(lo);
  const b = f(hi);
  return (v) => T + (H - T - B) * (1 - (f(v) - a) / (b - a || 1));
}

function levelChart(
  level: readonly number[],
  result: BacktestResult,
  buckets: readonly Bucket[],
  times: BacktestReportContext["times"],
): string {
  const values = buckets.map((b) => meanIn(level, b));
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const y = scaleY(lo, hi, false);
  const ticks: Array<[number, string]> = [0, 0.5, 1].map((q) => [
    y(lo + q * (hi - lo)),
    formatNumber(lo + q * (hi - lo)),
  ]);
  const inner =
    regimeBands(result, buckets) +
    path(
      values.map((v, i) => [xOf(i, buckets.length), y(v)]),
      "#1f2937",
    );
  return frame(ticks, xLabelsFor(buckets, result, times), inner, "level with the regime timeline shaded");
}

function forecastChart(
  result: BacktestResult,
  best: number,
  buckets: readonly Bucket[],
  times: BacktestReportContext["times"],
): string {
  const series = [result.realized, result.router, result.forecasts[best] as Float64Array].map((s) =>
    buckets.map((b) => meanIn(s, b)),
  );
  const positive = series.flat().filter((v) => v > 0);
  const lo = Math.min(...positive);
  const hi = Math.max(...positive);
  const y = scaleY(lo, hi, true);
  const ticks: Array<[number, string]> = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++)
    ticks.push([y(10 ** e), formatNumber(10 ** e)]);
  const inner = series
    .map((s, k) =>
      path(
        s.map((v, i) => [xOf(i, buckets.length), v > 0 ? y(v) : Number.NaN]),
        k === 0 ? REALIZED : (COLORS[k - 1] as string),
        k === 0 ? 0.8 : 1.4,
      ),
    )
    .join("");
  return frame(
    ticks,
    xLabelsFor(buckets, result, times),
    inner,
    "variance forecasts against the realized squared return, log scale",
  );
}

function weightsChart(
  result: BacktestResult,
  buckets: readonly Bucket[],
  times: BacktestReportContext["times"],
): string {
  const y = scaleY(0, 1, false);
  const means = result.weights.map((w) => buckets.map((b) => meanIn(w, b)));
  const below = buckets.map(() => 0);
  const areas: string[] = [];
  means.forEach((m, s) => {
    const top = below.map((v, i) => v + (Number.isFinite(m[i]) ? (m[i] as number) : 0));
    const upper = top.map((v, i) => `${round(xOf(i, buckets.length))} ${round(y(v))}`);
    const lower = below.map((v, i) => `${round(xOf(i, buckets.length))} ${round(y(v))}`).reverse();
    areas.push(
      `<path d="M${upper.join("L")}L${lower.join("L")}Z" fill="${COLORS[s % COLORS.length]}" fill-opacity="0.75"/>`,
    );
    top.forEach((v, i) => (below[i] = v));
  });
  const ticks: Array<[number, string]> = [0, 0.5, 1].map((v) => [y(v), String(v)]);
  return frame(
    ticks,
    xLabelsFor(buckets, result, times),
    areas.join(""),
    "router weights over time, stacked",
  );
}

function renderSummary(scores: BacktestScores): string {
  const router = scores.overall["router"] as LossSummary;
  const single = scores.overall[scores.best] as LossSummary;
  const facts: Array<[string, string]> = [
    ["Router QLIKE", formatNumber(router.qlike)],
    [`Best single (${scores.best}) QLIKE`, formatNumber(single.qlike)],
    ["Ratio QLIKE", formatNumber(scores.ratio.qlike)],
    ["Ratio MSE", formatNumber(scores.ratio.mse)],
    ["DM p (QLIKE, two-sided)", scores.dm.qlike === undefined ? "—" : formatNumber(scores.dm.qlike.pValue)],
    ["Zero returns (left out of QLIKE)", String(scores.zeroRealized)],
  ];
  return `<section class="summary"><h2>Summary</h2><dl class="facts">${facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join("")}</dl></section>`;
}

function renderLossTables(scores: BacktestScores): string {
  const scopes = [
    {
      label: "all bars",
      bars: (scores.overall["router"] as LossSummary).n,
      losses: scores.overall,
      best: scores.best,
    },
    ...scores.byRegime.map((r) => ({
      label: `regime ${r.label}`,
      bars: r.bars,
      losses: r.losses,
      best: r.best,
    })),
  ];
  const tables = scopes.map((scope) => {
    const rows = scores.models.map((m) => {
      const l = scope.losses[m] as LossSummary;
      const cls = m === "router" ? ' class="is-router"' : m === scope.best ? ' class="is-best"' : "";
      return `<tr${cls}><td>${escapeHtml(m)}${m === scope.best ? " ★" : ""}</td><td class="num">${formatNumber(l.qlike)}</td><td class="num">${formatNumber(l.mse)}</td><td class="num">${l.nQlike}</td></tr>`;
    });
    return `<div><h3>${escapeHtml(scope.label)} (${scope.bars} bars)</h3><table class="features"><thead><tr><th>Model</th><th class="num">QLIKE</th><th class="num">MSE</th><th class="num">Bars in QLIKE</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
  });
  return `<section><h2>Losses per regime</h2><p class="note">★ best single specialist by QLIKE. Regime: the classifier's most probable regime at the bar the forecast was made.</p><div class="method">${tables.join("")}</div></section>`;
}

function renderDmTable(scores: BacktestScores): string {
  const row = (scope: string, dm: DmSummary | undefined): string =>
    dm === undefined
      ? `<tr><td>${escapeHtml(scope)}</td><td colspan="5" class="note">no test (too few bars, or the router is that specialist)</td></tr>`
      : `<tr><td>${escapeHtml(scope)}</td><td>${escapeHtml(dm.loss)} vs ${escapeHtml(dm.against)}</td><td class="num">${formatNumber(dm.meanDifferential)}</td><td class="num">${formatNumber(dm.statistic)}</td><td class="num">${formatNumber(dm.pValue)}</td><td class="num">${formatNumber(dm.pBetter)}</td></tr>`;
  const rows = [
    row("all bars", scores.dm.qlike),
    row("all bars", scores.dm.mse),
    ...scores.byRegime.flatMap((r) => [
      row(`regime ${r.label}`, r.dm?.qlike),
      row(`regime ${r.label}`, r.dm?.mse),
    ]),
  ];
  return `<section><h2>Diebold–Mariano: router against the best single specialist</h2><p class="note">HLN-corrected, h = 1; differential = router loss − specialist loss (negative: the router does better); per regime against that regime's best.</p><table class="features"><thead><tr><th>Scope</th><th>Loss</th><th class="num">Mean differential</th><th class="num">DM statistic</th><th class="num">p (two-sided)</th><th class="num">p (router better)</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`;
}
