import { test, describe } from "node:test";
import assert from "node:assert/strict";
import type { DriftResult, FeatureDriftResult } from "../../../src/monitoring/drift.js";
import { evaluateDrift } from "../../../src/monitoring/drift.js";
import { ProfileBuilder } from "../../../src/monitoring/profile/profile-builder.js";
import { WindowSketch } from "../../../src/monitoring/sketches/feature-window.js";
import { DEFAULT_RULE_TEXT } from "../../../src/math/stats/default-rule.js";
import { escapeHtml, formatNumber, renderDriftReport } from "../../../src/monitoring/report/html.js";

const EXTRA = ["__below__", "__above__", "__unseen__", "__missing__"];
const SCRIPT_NAME = "<script>alert(1)</script>";
const SCRIPT_CATEGORY = "<script>x</script>";
const LONG_CATEGORY = "a merchant category name that goes on and on";

// amount: reference 50/50, current 20/70 plus 10 above the range (KS from sketches).
const amount: FeatureDriftResult = {
  feature: "amount",
  featureKind: "numerical",
  test: "ks",
  kind: "p_value",
  score: 1.23456e-7,
  threshold: 0.05,
  drifted: true,
  detail: { statistic: 0.31234 },
  referenceCount: 100,
  currentCount: 100,
  currentMissing: 0,
  missingShare: 0,
  referenceMissingShare: 0,
  method: "sketch",
  exact: false,
  errorBound: 0.03,
  bins: {
    labels: ["[0.123456789, 1)", "[1, 2]", ...EXTRA],
    reference: [50, 50, 0, 0, 0, 0],
    current: [20, 70, 0, 10, 0, 0],
  },
};
const script: FeatureDriftResult = {
  feature: SCRIPT_NAME,
  featureKind: "categorical",
  test: "chi-square",
  kind: "p_value",
  score: 0.43214,
  threshold: 0.05,
  drifted: false,
  referenceCount: 100,
  currentCount: 95,
  currentMissing: 5,
  missingShare: 0,
  referenceMissingShare: 0,
  method: "binned",
  exact: true,
  bins: {
    labels: ["a", SCRIPT_CATEGORY, LONG_CATEGORY, "__other__", ...EXTRA],
    reference: [50, 30, 20, 0, 0, 0, 0, 0],
    current: [45, 30, 20, 0, 0, 0, 0, 5],
  },
};
const psi: FeatureDriftResult = {
  feature: "psi_feature",
  featureKind: "numerical",
  test: "psi",
  kind: "distance",
  score: 0.2,
  threshold: 0.1,
  drifted: true,
  referenceCount: 100,
  currentCount: 100,
  currentMissing: 0,
  missingShare: 0,
  referenceMissingShare: 0,
  method: "binned",
  exact: true,
  bins: { labels: ["[0, 5]", ...EXTRA], reference: [100, 0, 0, 0, 0], current: [100, 0, 0, 0, 0] },
};
const empty: FeatureDriftResult = {
  feature: "empty",
  featureKind: "binary",
  test: "z-test",
  kind: "p_value",
  score: 1,
  threshold: 0.05,
  drifted: false,
  referenceCount: 100,
  currentCount: 0,
  currentMissing: 12,
  missingShare: 0,
  referenceMissingShare: 0,
  method: "binned",
  exact: true,
  skipped: "no values in the window",
  bins: { labels: ["0", "1", ...EXTRA], reference: [60, 40, 0, 0, 0, 0], current: [0, 0, 0, 0, 0, 12] },
};

const verdict = (f: FeatureDriftResult, adjustedScore = f.score, drifted = f.drifted) => ({
  feature: f.feature,
  test: f.test,
  kind: f.kind,
  score: f.score,
  adjustedScore,
  threshold: f.threshold,
  drifted,
});

// Given in input order with the non-drifted ones first, to see the report put drifted first.
const result: DriftResult = {
  referenceRows: 1000,
  currentRows: 1234,
  features: [script, amount, empty, psi],
  dataset: {
    features: [verdict(script), verdict(amount), verdict(psi)],
    driftedCount: 2,
    share: 2 / 3,
    shareThreshold: 0.5,
    correction: "none",
    drifted: true,
  },
};

const context = {
  title: "Fraud drift <week 4>",
  reference: "ref.csv",
  current: 'cur "week 4".csv',
  generatedAt: Date.UTC(2025, 0, 15, 9, 30, 0),
};

const html = renderDriftReport(result, context);

/** The document between the first `start` and the next `end` after it. */
function between(text: string, start: string, end: string): string {
  const from = text.indexOf(start);
  assert.ok(from >= 0, `missing ${start}`);
  const to = text.indexOf(end, from);
  assert.ok(to >= 0, `missing ${end} after ${start}`);
  return text.slice(from, to);
}

const count = (text: string, pattern: RegExp): number => (text.match(pattern) ?? []).length;

/** The figure (heading, caption and chart) of the feature whose heading starts with `name`. */
function figureOf(name: string): string {
  const figures = html.split("<figure").slice(1);
  const found = figures.filter((f) => f.includes(`<h3>${escapeHtml(name)} `));
  assert.equal(found.length, 1, `one figure for ${name}`);
  return found[0] as string;
}

/** Heights of the bars of one class, in bin order. */
function barHeights(svg: string, which: "reference" | "current"): number[] {
  return [...svg.matchAll(new RegExp(`<rect class="${which}"[^>]* height="([0-9.]+)"`, "g"))].map((m) =>
    Number(m[1]),
  );
}

/** The visible axis labels of a chart. */
function axisLabels(svg: string): string[] {
  return [...svg.matchAll(/<text class="label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1] as string);
}

describe("drift report document", () => {
  test("is one complete HTML document", () => {
    assert.ok(html.startsWith('<!doctype html>\n<html lang="en">'));
    assert.ok(html.trimEnd().endsWith("</html>"));
    assert.equal(count(html, /<html/g), 1);
    assert.equal(count(html, /<body>/g), 1);
    assert.match(html, /<meta charset="utf-8">/);
  });

  test("needs nothing from the network: no scripts, links, sources or remote URLs", () => {
    assert.doesNotMatch(html, /https?:\/\//i);
    assert.doesNotMatch(html, /\/\/[a-z0-9.-]+\.[a-z]{2,}/i, "no protocol-relative URLs");
    assert.doesNotMatch(html, /\bsrc\s*=/i);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link/i);
    assert.doesNotMatch(html, /@import|url\(/i);
    const hrefs = [...html.matchAll(/\bhref\s*=\s*"([^"]*)"/gi)].map((m) => m[1] as string);
    assert.ok(hrefs.length > 0, "the table links to the charts");
    for (const href of hrefs) assert.match(href, /^#feature-\d+$/);
    // Every in-page link lands on an element that exists.
    for (const href of hrefs) assert.ok(html.includes(`id="${href.slice(1)}"`), href);
  });

  test("is the same for the same inputs", () => {
    assert.equal(renderDriftReport(result, context), html);
  });

  test("refuses a generation time that is not a time", () => {
    assert.throws(
      () => renderDriftReport(result, { ...context, generatedAt: Number.NaN }),
      (e: unknown) => e instanceof Error && "code" in e && e.code === "invalid_argument",
    );
  });
});

describe("summary", () => {
  const summary = between(html, '<section class="summary', "</section>");

  test("gives the dataset verdict, the drifted count, the share against its threshold and the correction", () => {
    assert.match(summary, /class="summary is-drifted"/);
    assert.match(summary, /Dataset drift detected/);
    assert.match(summary, /<b>2 of 3<\/b> tested features drifted/);
    assert.match(summary, /share 0\.6667 ≥ threshold 0\.5/);
    assert.match(summary, /<dt>Correction<\/dt><dd>none<\/dd>/);
    assert.match(summary, /<dt>Features<\/dt><dd>4 \(1 skipped\)<\/dd>/);
  });

  test("gives the row counts and when it was generated", () => {
    assert.match(summary, /<dt>Reference rows<\/dt><dd>1,000<\/dd>/);
    assert.match(summary, /<dt>Current rows<\/dt><dd>1,234<\/dd>/);
    assert.match(html, /<b>Generated<\/b> 2025-01-15 09:30:00 UTC/);
    assert.match(html, /<b>Current<\/b> cur &quot;week 4&quot;\.csv/);
  });

  test("states the default test rule, every line of it", () => {
    const lines = DEFAULT_RULE_TEXT.split("; ");
    assert.ok(lines.length >= 4);
    for (const line of lines) assert.ok(summary.includes(`<li>${escapeHtml(line)}</li>`), line);
  });

  test("says when no feature could be tested", () => {
    const none = renderDriftReport({ ...result, features: [empty], dataset: null }, context);
    assert.match(none, /Not evaluated/);
    assert.doesNotMatch(none, /Dataset drift detected|No dataset drift/);
    assert.equal(count(none, /<svg/g), 1);
  });

  test("says when the dataset did not drift", () => {
    const calm = renderDriftReport(
      {
        ...result,
        features: [script],
        dataset: {
          ...result.dataset!,
          features: [verdict(script)],
          driftedCount: 0,
          share: 0,
          drifted: false,
        },
      },
      context,
    );
    assert.match(calm, /No dataset drift/);
    assert.match(calm, /<b>0 of 1<\/b> tested feature drifted: share 0 &lt; threshold 0\.5/);
    assert.doesNotMatch(calm, /class="summary is-drifted"/);
  });
});

describe("feature table", () => {
  const table = between(html, '<table class="features">', "</table>");
  const rows = table.split('<tr class="feature-row').slice(1);

  test("has one row per feature, drifted ones first, otherwise in the result's order", () => {
    assert.equal(rows.length, 4);
    const names = rows.map((r) => /<td class="name"><a [^>]*>([^<]*)<\/a>/.exec(r)?.[1]);
    assert.deepEqual(names, ["amount", "psi_feature", escapeHtml(SCRIPT_NAME), "empty"]);
  });

  test("shows p-values as p-values and distances as distances, to 4 significant digits", () => {
    const [amountRow, psiRow, scriptRow, emptyRow] = rows as [string, string, string, string];
    assert.match(amountRow, /p = 1\.235e-7/);
    assert.match(amountRow, /p &lt; 0\.05/);
    assert.match(psiRow, /d = 0\.2</);
    assert.match(psiRow, /d ≥ 0\.1/);
    assert.match(scriptRow, /p = 0\.4321</);
    assert.match(emptyRow, /p = 1</);
  });

  test("badges say drifted, no drift or skipped", () => {
    const badge = (row: string) => /<span class="badge (\w+)">([^<]*)<\/span>/.exec(row)?.slice(1, 3);
    assert.deepEqual(rows.map(badge), [
      ["drifted", "drifted"],
      ["drifted", "drifted"],
      ["ok", "no drift"],
      ["muted", "skipped"],
    ]);
    assert.equal(count(table, /<tr class="feature-row is-drifted"/g), 2);
  });

  test("shows the current missing count, and notes skipped and sketch-based scores with the bound", () => {
    const [amountRow, psiRow, scriptRow, emptyRow] = rows as [string, string, string, string];
    assert.match(scriptRow, /<td class="num">5 <span class="sub">\(5%\)<\/span><\/td>/);
    assert.match(emptyRow, /<td class="num">12 <span class="sub">\(100%\)<\/span><\/td>/);
    assert.match(amountRow, /<td class="num">0<\/td>/);
    assert.match(emptyRow, /Skipped: no values in the window/);
    // The KS bound is on D, so D is shown with it.
    assert.match(amountRow, /From quantile sketches: <span class="nowrap">D = 0\.3123 ± 0\.03 at worst</);
    assert.doesNotMatch(amountRow, /statistic/);
    assert.doesNotMatch(psiRow, /quantile sketches/);
    assert.doesNotMatch(scriptRow, /Skipped/);
  });

  test("a sketch-based distance carries its bound; an exact sketch says so", () => {
    const wasserstein = {
      ...amount,
      test: "wasserstein",
      kind: "distance" as const,
      score: 0.3717,
      threshold: 0.1,
      errorBound: 0.5341,
      detail: { distance: 66.23, scale: 178.2 },
    };
    const exact = { ...amount, feature: "exact", errorBound: 0 };
    const out = renderDriftReport({ ...result, features: [wasserstein, exact], dataset: null }, context);
    assert.match(
      out,
      /From quantile sketches: <span class="nowrap">d ± 0\.5341 at worst<\/span><br><span class="sub">raw distance 66\.23, scale \(reference std\) 178\.2</,
    );
    assert.match(out, /From quantile sketches \(exact at this size\): <span class="nowrap">D = 0\.3123</);
  });

  test("under a correction shows the adjusted p-value and uses its verdict", () => {
    // Raw p 0.04 < 0.05 drifts; Bonferroni over 2 tests gives 0.08, which does not.
    const raw = { ...script, feature: "raw", score: 0.04, drifted: true };
    const corrected = renderDriftReport(
      {
        ...result,
        features: [raw, amount],
        dataset: {
          features: [verdict(raw, 0.08, false), verdict(amount, 2.46912e-7, true)],
          driftedCount: 1,
          share: 0.5,
          shareThreshold: 0.5,
          correction: "bonferroni",
          drifted: true,
        },
      },
      context,
    );
    const rawRow = between(corrected, '<a href="#feature-0">raw</a>', "</tr>");
    assert.match(rawRow, /p = 0\.04<br><span class="sub">adjusted p = 0\.08<\/span>/);
    assert.match(rawRow, /badge ok">no drift/);
    assert.match(corrected, /<dt>Correction<\/dt><dd>Bonferroni<\/dd>/);
  });
});

describe("distribution charts", () => {
  test("one inline SVG per feature, drifted features first", () => {
    assert.equal(count(html, /<svg /g), 4);
    assert.equal(count(html, /<\/svg>/g), 4);
    const order = [...html.matchAll(/<figure class="feature[^"]*" id="feature-(\d+)">/g)].map((m) =>
      Number(m[1]),
    );
    // Input order: script 0, amount 1, empty 2, psi 3.
    assert.deepEqual(order, [1, 3, 0, 2]);
  });

  test("bars are proportions of each sample, reference and current side by side", () => {
    const svg = figureOf("amount");
    const reference = barHeights(svg, "reference");
    const current = barHeights(svg, "current");
    // Shown bins: [0, 1), [1, 2], above range.
    assert.equal(reference.length, 3);
    assert.equal(current.length, 3);
    assert.equal(reference[0], reference[1]);
    assert.equal(reference[2], 0);
    // Current: 20, 70 and 10 of 100 values.
    const [a, b, c] = current as [number, number, number];
    assert.ok(Math.abs(b / a - 3.5) < 0.01, `${b}/${a}`);
    assert.ok(Math.abs(a / c - 2) < 0.01, `${a}/${c}`);
    // Reference 50% vs current 70% in the same bin, on the same axis.
    assert.ok(Math.abs(b / (reference[1] as number) - 1.4) < 0.01);
    // Each current bar sits right of its reference bar.
    const xs = (which: string) =>
      [...svg.matchAll(new RegExp(`<rect class="${which}" x="([0-9.]+)"`, "g"))].map((m) => Number(m[1]));
    xs("current").forEach((x, i) => assert.ok(x > (xs("reference")[i] as number)));
  });

  test("labels every shown bin, hides empty extra bins, shortens long numbers and labels", () => {
    assert.deepEqual(axisLabels(figureOf("amount")), ["[0.1235, 1)", "[1, 2]", "above range"]);
    const labels = axisLabels(figureOf(SCRIPT_NAME));
    assert.deepEqual(labels.slice(0, 2), ["a", escapeHtml(SCRIPT_CATEGORY)]);
    assert.equal(labels[2], `${LONG_CATEGORY.slice(0, 17)}…`);
    assert.equal(labels[3], "missing");
    assert.equal(labels.length, 4, "other, below, above and unseen are empty in both samples");
    // The full label stays in the bar's tooltip.
    assert.ok(
      figureOf(SCRIPT_NAME).includes(`<title>${LONG_CATEGORY}: reference 20% (20), current 20% (20)</title>`),
    );
    assert.deepEqual(axisLabels(figureOf("psi_feature")), ["[0, 5]"]);
  });

  test("long labels are turned so they do not overlap", () => {
    assert.match(figureOf(SCRIPT_NAME), /transform="rotate\(-45 /);
    assert.doesNotMatch(figureOf("psi_feature"), /rotate\(/);
  });
});

describe("escaping user text", () => {
  test("a <script> feature name or category never becomes a tag", () => {
    assert.doesNotMatch(html, /<script/i);
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(html.includes("&lt;script&gt;x&lt;/script&gt;"));
    assert.match(html, /<title>Fraud drift &lt;week 4&gt;<\/title>/);
  });

  test("quotes in names cannot break out of an attribute", () => {
    const sneaky = { ...psi, feature: '" onmouseover="alert(1)' };
    const out = renderDriftReport(
      { ...result, features: [sneaky], dataset: null },
      {
        ...context,
        segment: { column: "<b>merchant</b>", value: "'fuel'" },
      },
    );
    assert.doesNotMatch(out, /onmouseover="/);
    assert.match(out, /aria-label="Distribution of &quot; onmouseover=&quot;alert\(1\): /);
    assert.match(out, /<b>Segment<\/b> &lt;b&gt;merchant&lt;\/b&gt; = &#39;fuel&#39;/);
    assert.match(
      out,
      /<title>Fraud drift &lt;week 4&gt; — &lt;b&gt;merchant&lt;\/b&gt; = &#39;fuel&#39;<\/title>/,
    );
  });

  test("escapeHtml replaces the five special characters", () => {
    assert.equal(escapeHtml(`a&b<c>d"e'f`), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  });
});

describe("formatNumber", () => {
  test("four significant digits, exponents for the very small and large", () => {
    assert.equal(formatNumber(0.012345678), "0.01235");
    assert.equal(formatNumber(0.05), "0.05");
    assert.equal(formatNumber(12.3456), "12.35");
    assert.equal(formatNumber(1.23456e-7), "1.235e-7");
    assert.equal(formatNumber(4.9881994e-23), "4.988e-23");
    assert.equal(formatNumber(2e-9), "2e-9");
    assert.equal(formatNumber(1234567), "1.235e+6");
    assert.equal(formatNumber(0), "0");
    assert.equal(formatNumber(Infinity), "∞");
  });
});

describe("a report of a real drift result", () => {
  test("renders every evaluated feature from evaluateDrift", () => {
    const builder = new ProfileBuilder({ clock: { now: () => 0 } });
    builder.add(
      Array.from({ length: 200 }, (_, i) => ({
        x: i % 100,
        [SCRIPT_NAME]: i % 3 === 0 ? SCRIPT_CATEGORY : "plain",
      })),
    );
    const profile = builder.finish();
    const window = new WindowSketch(profile);
    // x shifted by 60 (above the reference's range for most rows); the category unchanged.
    for (let i = 0; i < 150; i++)
      window.updateRow({ x: (i % 100) + 60, [SCRIPT_NAME]: i % 3 === 0 ? SCRIPT_CATEGORY : "plain" });
    const drift = evaluateDrift(profile, window);
    const out = renderDriftReport(drift, { ...context, generatedAt: 0 });
    assert.equal(count(out, /<tr class="feature-row/g), 2);
    assert.equal(count(out, /<svg /g), 2);
    assert.match(out, /<dt>Reference rows<\/dt><dd>200<\/dd>/);
    assert.match(out, /<dt>Current rows<\/dt><dd>150<\/dd>/);
    assert.match(out, /<b>1 of 2<\/b> tested features drifted/);
    assert.match(out, /above range/);
    assert.doesNotMatch(out, /<script/i);
    assert.match(out, /1970-01-01 00:00:00 UTC/);
  });
});
