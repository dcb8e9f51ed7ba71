/**
 * The standalone HTML drift report: one document that opens from a file with no network (inline
 * CSS and inline SVG only, no scripts, fonts or images), so it can be mailed, attached to a
 * ticket or archived next to the data it describes.
 *
 * Layout: a summary (dataset verdict, row counts, when, the default test rule), a table with one
 * row per feature, then each feature's reference and current distributions as a grouped bar
 * chart of proportions. Drifted features come first in both the table and the charts.
 *
 * Feature names, categories, titles and file names are user data: every piece of text goes
 * through `escapeHtml`, and element ids are built from positions, never from names.
 *
 * Under a multiple-testing correction the verdict per feature is the dataset's (adjusted p-value),
 * so the badges add up to the summary's count.
 */
import { invalid } from "../../domain/errors.js";
import { methodLabel, type DriftResult, type FeatureDriftResult } from "../drift.js";
import { EXTRA_BINS } from "../sketches/feature-window.js";
import { OTHER_CATEGORY } from "../profile/reference-profile.js";
import { DEFAULT_RULE_TEXT } from "../../math/stats/default-rule.js";
import type { Correction, FeatureDrift } from "../../math/stats/dataset-drift.js";
import { STAT_TESTS } from "../../math/stats/index.js";

export interface DriftReportContext {
  readonly title: string;
  /** What the reference is (a file name, a model version's profile…). */
  readonly reference: string;
  /** What the current window is. */
  readonly current: string;
  /** Milliseconds since the epoch; passed in so the same inputs render the same bytes. */
  readonly generatedAt: number;
  readonly segment?: { readonly column: string; readonly value: string };
}

export function renderDriftReport(result: DriftResult, context: DriftReportContext): string {
  if (!Number.isFinite(context.generatedAt)) {
    throw invalid(`generatedAt must be a time in milliseconds since the epoch, got ${context.generatedAt}`);
  }
  const verdicts = new Map((result.dataset?.features ?? []).map((f) => [f.feature, f]));
  const rows = orderFeatures(result.features, verdicts);
  const title = context.segment
    ? `${context.title} — ${context.segment.column} = ${context.segment.value}`
    : context.title;
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<main>",
    renderHeader(context),
    renderSummary(result, rows),
    renderTable(rows, result.dataset?.correction ?? "none"),
    renderCharts(rows),
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** Escapes text for element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] as string);
}

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

interface Row {
  readonly feature: FeatureDriftResult;
  /** Position in the result: the element id, so names never reach an attribute. */
  readonly index: number;
  readonly drifted: boolean;
  /** The dataset's view of this feature (absent when skipped or no dataset verdict). */
  readonly verdict: FeatureDrift | undefined;
}

function orderFeatures(features: readonly FeatureDriftResult[], verdicts: Map<string, FeatureDrift>): Row[] {
  const rows = features.map((feature, index): Row => {
    const verdict = feature.skipped === undefined ? verdicts.get(feature.feature) : undefined;
    const drifted = feature.skipped === undefined && (verdict?.drifted ?? feature.drifted);
    return { feature, index, drifted, verdict };
  });
  // Array.prototype.sort is stable, so features keep their order within each group.
  return rows.sort((a, b) => Number(b.drifted) - Number(a.drifted));
}

function renderHeader(context: DriftReportContext): string {
  const parts = [
    `<span><b>Reference</b> ${escapeHtml(context.reference)}</span>`,
    `<span><b>Current</b> ${escapeHtml(context.current)}</span>`,
  ];
  if (context.segment) {
    parts.push(
      `<span><b>Segment</b> ${escapeHtml(context.segment.column)} = ${escapeHtml(context.segment.value)}</span>`,
    );
  }
  parts.push(`<span><b>Generated</b> ${escapeHtml(formatTime(context.generatedAt))}</span>`);
  return `<header><h1>${escapeHtml(context.title)}</h1><p class="meta">${parts.join("")}</p></header>`;
}

const CORRECTION_TEXT: Readonly<Record<Correction, string>> = {
  none: "none",
  bonferroni: "Bonferroni",
  "benjamini-hochberg": "Benjamini–Hochberg",
};

function renderSummary(result: DriftResult, rows: readonly Row[]): string {
  const dataset = result.dataset;
  const skipped = rows.filter((r) => r.feature.skipped !== undefined).length;
  let verdict: string;
  let sentence: string;
  if (dataset === null) {
    verdict = '<span class="badge muted">Not evaluated</span>';
    sentence =
      rows.length === 0
        ? "No features were evaluated."
        : "No feature had values in the current window, so dataset drift was not evaluated.";
  } else {
    const tested = dataset.features.length;
    verdict = dataset.drifted
      ? '<span class="badge drifted">Dataset drift detected</span>'
      : '<span class="badge ok">No dataset drift</span>';
    sentence =
      `<b>${dataset.driftedCount} of ${tested}</b> tested feature${tested === 1 ? "" : "s"} drifted: ` +
      escapeHtml(
        `share ${formatNumber(dataset.share)} ${dataset.drifted ? "≥" : "<"} threshold ${formatNumber(dataset.shareThreshold)}` +
          " (the dataset drifts when the share reaches the threshold).",
      );
  }
  const facts: [string, string][] = [
    ["Reference rows", formatCount(result.referenceRows)],
    ["Current rows", formatCount(result.currentRows)],
    ["Features", `${rows.length}${skipped > 0 ? ` (${skipped} skipped)` : ""}`],
    ["Drifted features", dataset === null ? "—" : `${dataset.driftedCount} of ${dataset.features.length}`],
    ["Correction", dataset === null ? "—" : CORRECTION_TEXT[dataset.correction]],
  ];
  const rule = DEFAULT_RULE_TEXT.split("; ")
    .map((line) => `<li>${escapeHtml(line)}</li>`)
    .join("");
  return [
    `<section class="summary${dataset === null ? " is-unknown" : dataset.drifted ? " is-drifted" : ""}">`,
    `<h2>Summary</h2>`,
    `<p class="verdict">${verdict} ${sentence}</p>`,
    `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join("")}</dl>`,
    `<div class="method">`,
    `<div><h3>Default choice of test</h3><p class="note">Used for every feature whose test was not named; the first line that matches wins.</p><ul class="rule">${rule}</ul></div>`,
    renderTestsUsed(rows),
    `</div>`,
    `</section>`,
  ].join("\n");
}

function renderTestsUsed(rows: readonly Row[]): string {
  const names = [...new Set(rows.map((r) => r.feature.test))];
  const items = names.map((name) => {
    const test = Object.hasOwn(STAT_TESTS, name) ? STAT_TESTS[name] : undefined;
    const what = test === undefined ? "" : `: ${test.description}`;
    const rule =
      test === undefined
        ? ""
        : test.kind === "p_value"
          ? " Drifted when p < threshold."
          : " Drifted when distance ≥ threshold.";
    return `<li><b>${escapeHtml(name)}</b>${escapeHtml(what)}.${escapeHtml(rule)}</li>`;
  });
  return items.length === 0 ? "" : `<div><h3>Tests used</h3><ul class="rule">${items.join("")}</ul></div>`;
}

function renderTable(rows: readonly Row[], correction: Correction): string {
  if (rows.length === 0) return `<section><h2>Features</h2><p class="note">No features.</p></section>`;
  const body = rows.map((row) => renderTableRow(row, correction)).join("\n");
  return [
    "<section>",
    "<h2>Features</h2>",
    '<div class="scroll">',
    '<table class="features">',
    '<thead><tr><th>Feature</th><th>Kind</th><th>Test</th><th>Method</th><th class="num">Score</th><th class="num">Drifted when</th><th>Drifted</th><th class="num">Current missing</th><th>Note</th></tr></thead>',
    `<tbody>\n${body}\n</tbody>`,
    "</table>",
    "</div>",
    "</section>",
  ].join("\n");
}

function renderTableRow(row: Row, correction: Correction): string {
  const f = row.feature;
  const pValue = f.kind === "p_value";
  let score = escapeHtml(`${pValue ? "p" : "d"} = ${formatNumber(f.score)}`);
  if (pValue && correction !== "none" && row.verdict !== undefined) {
    score += `<br><span class="sub">adjusted p = ${escapeHtml(formatNumber(row.verdict.adjustedScore))}</span>`;
  }
  const threshold = pValue ? `p < ${formatNumber(f.threshold)}` : `d ≥ ${formatNumber(f.threshold)}`;
  const badge =
    f.skipped !== undefined
      ? '<span class="badge muted">skipped</span>'
      : row.drifted
        ? '<span class="badge drifted">drifted</span>'
        : '<span class="badge ok">no drift</span>';
  const seen = f.currentCount + f.currentMissing;
  const missing =
    seen > 0 && f.currentMissing > 0
      ? `${formatCount(f.currentMissing)} <span class="sub">(${formatPercent(f.currentMissing / seen)})</span>`
      : formatCount(f.currentMissing);
  return [
    `<tr class="feature-row${row.drifted ? " is-drifted" : ""}">`,
    `<td class="name"><a href="#feature-${row.index}">${escapeHtml(f.feature)}</a></td>`,
    `<td>${escapeHtml(f.featureKind)}</td>`,
    `<td class="test">${escapeHtml(f.test)}</td>`,
    `<td class="computed">${escapeHtml(methodLabel(f))}</td>`,
    `<td class="num">${score}</td>`,
    `<td class="num">${escapeHtml(threshold)}</td>`,
    `<td>${badge}</td>`,
    `<td class="num">${missing}</td>`,
    `<td class="note">${renderNote(f)}</td>`,
    "</tr>",
  ].join("");
}

const DETAIL_NAMES: Readonly<Record<string, string>> = {
  statistic: "statistic",
  degreesOfFreedom: "df",
  logBase: "log base",
  distance: "raw distance",
  scale: "scale (reference std)",
  z: "z",
  method: "method",
};

function renderNote(f: FeatureDriftResult): string {
  if (f.skipped !== undefined) return `<span class="warn">Skipped: ${escapeHtml(f.skipped)}</span>`;
  const notes: string[] = [];
  const detail = { ...f.detail };
  if (f.method === "sketch") {
    const bound = f.errorBound ?? 0;
    const exact = bound > 0 ? "" : " (exact at this size)";
    // A guaranteed (worst-case) bound: loose for long-tailed data, where the sketch is in
    // practice far closer than that.
    const within = bound > 0 ? ` ± ${formatNumber(bound)} at worst` : "";
    // For KS the bound is on D, not on the p-value, so D is shown next to it.
    const d = f.test === "ks" ? detail.statistic : undefined;
    if (typeof d === "number") delete detail.statistic;
    const what =
      typeof d === "number"
        ? `D = ${formatNumber(d)}${within}`
        : `${f.kind === "p_value" ? "p" : "d"}${within}`;
    notes.push(
      `${escapeHtml(`From quantile sketches${exact}:`)} <span class="nowrap">${escapeHtml(what)}</span>`,
    );
  }
  const parts = Object.entries(detail).map(
    ([key, value]) =>
      `${DETAIL_NAMES[key] ?? key} ${typeof value === "number" ? formatNumber(value) : value}`,
  );
  if (parts.length > 0) notes.push(`<span class="sub">${escapeHtml(parts.join(", "))}</span>`);
  return notes.join("<br>");
}

function renderCharts(rows: readonly Row[]): string {
  if (rows.length === 0) return "";
  const figures = rows.map((row) => {
    const f = row.feature;
    const badge =
      f.skipped !== undefined
        ? '<span class="badge muted">skipped</span>'
        : row.drifted
          ? '<span class="badge drifted">drifted</span>'
          : '<span class="badge ok">no drift</span>';
    const caption = `${f.featureKind} · ${f.test} · ${f.kind === "p_value" ? "p" : "d"} = ${formatNumber(f.score)} · ${formatCount(f.referenceCount)} reference and ${formatCount(f.currentCount)} current values`;
    return [
      `<figure class="feature${row.drifted ? " is-drifted" : ""}" id="feature-${row.index}">`,
      `<h3>${escapeHtml(f.feature)} ${badge}</h3>`,
      `<figcaption>${escapeHtml(caption)}</figcaption>`,
      `<div class="scroll">${renderDistributionChart(f)}</div>`,
      "</figure>",
    ].join("\n");
  });
  return [
    "<section>",
    "<h2>Distributions</h2>",
    '<p class="legend"><span class="swatch reference"></span>reference <span class="swatch current"></span>current <span class="note">share of each sample per bin (missing values included); bins in <i>italics</i> are outside the reference\'s bins and shown only when they hold values</span></p>',
    figures.join("\n"),
    "</section>",
  ].join("\n");
}

/** Extra bins, and "other", are hidden when neither sample has a value in them. */
const HIDEABLE_BINS = new Set<string>([...EXTRA_BINS, OTHER_CATEGORY]);
const BIN_NAMES: Readonly<Record<string, string>> = {
  __below__: "below range",
  __above__: "above range",
  __unseen__: "unseen",
  __missing__: "missing",
  [OTHER_CATEGORY]: "other",
};

interface Bin {
  readonly label: string;
  /** The shortened text on the axis. */
  readonly axis: string;
  /** A bin the reference does not define (shown in italics). */
  readonly special: boolean;
  readonly reference: number;
  readonly current: number;
  readonly referenceShare: number;
  readonly currentShare: number;
}

const CHART = {
  barWidth: 14,
  barGap: 2,
  groupGap: 16,
  plotHeight: 180,
  left: 48,
  right: 12,
  top: 12,
  /** Longest axis label in characters before it is cut with an ellipsis. */
  maxLabel: 18,
  /** Approximate width of one 11px character, for fitting labels. */
  charWidth: 6.8,
} as const;

export function renderDistributionChart(f: FeatureDriftResult): string {
  const bins = chartBins(f);
  const groupWidth = 2 * CHART.barWidth + CHART.barGap + CHART.groupGap;
  const plotWidth = Math.max(bins.length, 1) * groupWidth;
  const longest = Math.max(1, ...bins.map((b) => b.axis.length));
  // Labels wider than their group are turned 45° instead of overlapping.
  const rotate = longest * CHART.charWidth > groupWidth - 4;
  const labelHeight = rotate ? Math.ceil(longest * CHART.charWidth * Math.SQRT1_2) + 18 : 22;
  // A turned label reaches down and to the left of its bin, so the first one needs room.
  const left = rotate
    ? Math.max(CHART.left, Math.ceil(longest * CHART.charWidth * Math.SQRT1_2 - groupWidth / 2) + 8)
    : CHART.left;
  const width = left + plotWidth + CHART.right;
  const height = CHART.top + CHART.plotHeight + labelHeight;
  const top = axisTop(Math.max(0, ...bins.map((b) => Math.max(b.referenceShare, b.currentShare))));
  const y = (share: number): number => CHART.top + CHART.plotHeight * (1 - share / top.max);
  const baseline = CHART.top + CHART.plotHeight;

  const parts: string[] = [];
  for (let i = 0; i <= top.ticks; i++) {
    const value = (top.max * i) / top.ticks;
    const ty = round(y(value));
    parts.push(
      `<line class="grid" x1="${left}" x2="${left + plotWidth}" y1="${ty}" y2="${ty}"/>`,
      `<text class="tick" x="${left - 6}" y="${ty + 4}" text-anchor="end">${escapeHtml(formatPercent(value))}</text>`,
    );
  }
  bins.forEach((bin, i) => {
    const x0 = left + i * groupWidth + CHART.groupGap / 2;
    const tip = `${bin.label}: reference ${formatPercent(bin.referenceShare)} (${formatCount(bin.reference)}), current ${formatPercent(bin.currentShare)} (${formatCount(bin.current)})`;
    parts.push(`<g><title>${escapeHtml(tip)}</title>`);
    parts.push(bar("reference", x0, bin.referenceShare, bin.reference, y, baseline));
    parts.push(
      bar("current", x0 + CHART.barWidth + CHART.barGap, bin.currentShare, bin.current, y, baseline),
    );
    parts.push("</g>");
    const cx = x0 + CHART.barWidth + CHART.barGap / 2;
    const ly = baseline + 14;
    const style = bin.special ? ' font-style="italic"' : "";
    parts.push(
      rotate
        ? `<text class="label" x="${round(cx)}" y="${ly}" text-anchor="end" transform="rotate(-45 ${round(cx)} ${ly})"${style}>${escapeHtml(bin.axis)}</text>`
        : `<text class="label" x="${round(cx)}" y="${ly}" text-anchor="middle"${style}>${escapeHtml(bin.axis)}</text>`,
    );
  });
  if (bins.length === 0) {
    parts.push(
      `<text class="tick" x="${left + 8}" y="${CHART.top + CHART.plotHeight / 2}">no values in either sample</text>`,
    );
  }
  parts.push(`<line class="axis" x1="${left}" x2="${left + plotWidth}" y1="${baseline}" y2="${baseline}"/>`);
  const label = `Distribution of ${f.feature}: reference and current share per bin`;
  return [
    `<svg class="chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-label="${escapeHtml(label)}">`,
    ...parts,
    "</svg>",
  ].join("");
}

function bar(
  which: "reference" | "current",
  x: number,
  share: number,
  count: number,
  y: (share: number) => number,
  baseline: number,
): string {
  // A bin with a handful of values still gets a visible sliver, so "few" never reads as "none".
  const top = count > 0 ? Math.min(y(share), baseline - 1) : baseline;
  return `<rect class="${which}" x="${round(x)}" y="${round(top)}" width="${CHART.barWidth}" height="${round(baseline - top)}"/>`;
}

function chartBins(f: FeatureDriftResult): Bin[] {
  const { labels, reference, current } = f.bins;
  const referenceTotal = sum(reference);
  const currentTotal = sum(current);
  const bins: Bin[] = [];
  labels.forEach((label, i) => {
    const r = reference[i] ?? 0;
    const c = current[i] ?? 0;
    const special = HIDEABLE_BINS.has(label);
    if (special && r === 0 && c === 0) return;
    const text = special
      ? (BIN_NAMES[label] ?? label)
      : f.featureKind === "numerical"
        ? shortenNumbers(label)
        : label;
    bins.push({
      label: special ? (BIN_NAMES[label] ?? label) : label,
      axis: text.length > CHART.maxLabel ? `${text.slice(0, CHART.maxLabel - 1)}…` : text,
      special,
      reference: r,
      current: c,
      referenceShare: referenceTotal > 0 ? r / referenceTotal : 0,
      currentShare: currentTotal > 0 ? c / currentTotal : 0,
    });
  });
  return bins;
}

/** Bin edges come from quantiles with full float precision; four digits are enough on an axis. */
function shortenNumbers(label: string): string {
  return label.replace(/-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?/gi, (n) => formatNumber(Number(n)));
}

/** A round top for the y axis and how many steps to divide it into. */
function axisTop(largest: number): { max: number; ticks: number } {
  for (const step of [0.01, 0.02, 0.05, 0.1, 0.2, 0.25]) {
    const ticks = Math.ceil(largest / step - 1e-9);
    if (ticks <= 5) return { max: Math.max(1, ticks) * step, ticks: Math.max(1, ticks) };
  }
  return { max: 1, ticks: 4 };
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Four significant digits; exponent form for the very small and very large. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "∞";
  if (x === -Infinity) return "−∞";
  if (x === 0) return "0";
  const magnitude = Math.abs(x);
  if (magnitude < 1e-4 || magnitude >= 1e6) {
    const [mantissa, exponent] = x.toExponential(3).split("e");
    return `${String(Number(mantissa))}e${exponent}`;
  }
  return String(Number(x.toPrecision(4)));
}

function formatPercent(share: number): string {
  const percent = share * 100;
  if (percent === 0) return "0%";
  if (percent < 0.1) return "<0.1%";
  return `${String(Number(percent.toPrecision(percent >= 10 ? 3 : 2)))}%`;
}

function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export const STYLE = `
:root { --text: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff; --panel: #f9fafb;
  --reference: #9ca3af; --current: #2563eb; --red: #dc2626; --red-bg: #fef2f2; --green: #15803d; --green-bg: #f0fdf4; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
h3 { font-size: 14px; margin: 0 0 6px; }
.meta { color: var(--muted); margin: 0; display: flex; flex-wrap: wrap; gap: 4px 20px; }
.meta b { color: var(--text); font-weight: 600; margin-right: 4px; }
.summary { border: 1px solid var(--line); border-left: 4px solid var(--green); border-radius: 6px; padding: 4px 18px 16px; margin-top: 20px; }
.summary.is-drifted { border-left-color: var(--red); }
.summary.is-unknown { border-left-color: var(--line); }
.summary h2 { margin-top: 12px; }
.verdict { font-size: 15px; margin: 0 0 14px; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px 16px; margin: 0 0 14px; }
.facts div { background: var(--panel); border-radius: 4px; padding: 6px 10px; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; font-size: 15px; font-weight: 600; font-variant-numeric: tabular-nums; }
.method { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 760px) { .method { grid-template-columns: 1fr; } }
.rule { margin: 4px 0 0; padding-left: 18px; color: var(--text); }
.rule li { margin: 2px 0; }
.note, .sub { color: var(--muted); font-size: 12px; }
.warn { color: #b45309; }
.nowrap { white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; vertical-align: 1px; }
.badge.drifted { background: var(--red); color: #fff; }
.badge.ok { background: var(--green-bg); color: var(--green); border: 1px solid #bbf7d0; }
.badge.muted { background: var(--panel); color: var(--muted); border: 1px solid var(--line); }
.scroll { overflow-x: auto; }
table.features { border-collapse: collapse; width: 100%; }
.features th, .features td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
.features th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--panel); }
.features td.num, .features th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.features tr.is-drifted td { background: var(--red-bg); }
.features tr.is-drifted td.name { box-shadow: inset 3px 0 0 var(--red); }
.features td.name a { color: var(--text); font-weight: 600; text-decoration: none; overflow-wrap: break-word; }
.features td.test { white-space: nowrap; }
.features td.name a:hover { text-decoration: underline; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 0 0 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-left: 8px; }
.swatch.reference { background: var(--reference); margin-left: 0; }
.swatch.current { background: var(--current); }
.legend .note { margin-left: 12px; }
figure.feature { margin: 0 0 18px; padding: 12px 16px; border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 6px; }
figure.feature.is-drifted { border-left-color: var(--red); }
figure.feature h3 { overflow-wrap: anywhere; }
figcaption { color: var(--muted); font-size: 12px; margin-bottom: 6px; }
svg.chart { display: block; font-family: inherit; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .axis { stroke: #9ca3af; stroke-width: 1; }
svg.chart .tick { fill: var(--muted); font-size: 11px; }
svg.chart .label { fill: var(--text); font-size: 11px; }
svg.chart rect.reference { fill: var(--reference); }
svg.chart rect.current { fill: var(--current); }
@media print { main { max-width: none; } figure.feature { break-inside: avoid; } }
`;
