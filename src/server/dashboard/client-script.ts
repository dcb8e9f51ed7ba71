/**
 * The dashboard's own script, served as /assets/dashboard.js (script-src 'self': no inline
 * script anywhere). It draws every chart a page declares (a `<div data-chart="id">` and a JSON
 * block with that id) with uPlot, and on the overview turns server-sent events into an htmx
 * refresh of the events list. Values reach the DOM only through uPlot and textContent.
 */
export const CLIENT_SCRIPT = `"use strict";
(function () {
  function draw(el) {
    var block = document.getElementById(el.getAttribute("data-chart"));
    if (!block || typeof uPlot === "undefined") return;
    var spec = JSON.parse(block.textContent);
    if (!spec.x || spec.x.length === 0) { el.textContent = "no data yet"; return; }
    var palette = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4"];
    var series = [{ label: spec.xLabel || "time" }];
    var data = [spec.x];
    spec.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: palette[i % palette.length], width: 2, dash: s.dash ? [6, 4] : undefined, spanGaps: true });
      data.push(s.values);
    });
    var width = Math.max(280, Math.min(el.clientWidth || 600, 900));
    var plugins = spec.bands && spec.bands.length > 0 ? [bandsPlugin(spec.bands)] : [];
    new uPlot({ width: width, height: spec.height || 200, title: spec.title, scales: { x: { time: spec.time !== false, range: xRange } }, series: series, plugins: plugins }, data, el);
  }
  // One point (a monitor's first window, a canary's first analysis) is drawn in a minute either
  // side of it; uPlot would otherwise stretch the axis over years.
  // (uPlot widens a lone time point itself before asking, so the data are read, not min/max.)
  function xRange(u, min, max) {
    var xs = u.data[0];
    var first = xs[0];
    return xs.length > 0 && first === xs[xs.length - 1] ? [first - 60, first + 60] : [min, max];
  }
  // Shades each band's x range behind the series, one colour per label (regimes over a price).
  function bandsPlugin(bands) {
    var shades = ["rgba(26,127,55,0.12)", "rgba(207,34,46,0.14)", "rgba(154,103,0,0.14)", "rgba(130,80,223,0.12)", "rgba(9,105,218,0.12)"];
    var labels = [];
    bands.forEach(function (b) { if (labels.indexOf(b.label) < 0) labels.push(b.label); });
    return { hooks: { drawClear: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      bands.forEach(function (b) {
        var x0 = u.valToPos(b.from, "x", true), x1 = u.valToPos(b.to, "x", true);
        ctx.fillStyle = shades[labels.indexOf(b.label) % shades.length];
        ctx.fillRect(Math.min(x0, x1), top, Math.max(1, Math.abs(x1 - x0)), height);
      });
      ctx.restore();
    }] } };
  }
  function drawAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (!el.hasAttribute("data-drawn")) { el.setAttribute("data-drawn", ""); draw(el); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
    var live = document.querySelector("[data-live-events]");
    if (live && typeof EventSource !== "undefined") {
      var source = new EventSource("/events/stream");
      var status = document.getElementById("live-status");
      var pending = false;
      source.addEventListener("open", function () { if (status) status.textContent = "live"; });
      source.addEventListener("error", function () { if (status) status.textContent = "reconnecting"; });
      source.addEventListener("ballast", function () {
        // Several events in a burst refresh the list once.
        if (pending) return;
        pending = true;
        setTimeout(function () { pending = false; document.body.dispatchEvent(new CustomEvent("events-changed")); }, 250);
      });
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) { drawAll(e.target); });
})();
`;

export const STYLE = `
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#fff; --panel:#f6f8fa; --accent:#0969da; --bad:#cf222e; --ok:#1a7f37; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
header .brand { font-weight: 700; margin-right: 1rem; }
nav a { margin-right: .8rem; }
main { padding: 1rem; max-width: 1400px; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #fb8f44; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
h1 { font-size: 1.4rem; margin: .2rem 0 .8rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; border: 1px solid var(--line); font-size: .85em; }
.bad { color: var(--bad); border-color: var(--bad); } .ok { color: var(--ok); border-color: var(--ok); } .warn { color: var(--warn); border-color: var(--warn); }
.current { background: #ddf4ff; font-weight: 600; }
button { font: inherit; padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); cursor: pointer; }
button.danger { color: var(--bad); border-color: var(--bad); }
form.inline { display: inline; margin-right: .4rem; }
label { display: block; margin: .4rem 0 .2rem; }
input[type=password], input[type=text] { font: inherit; padding: .3rem; width: 22rem; max-width: 100%; }
pre { background: var(--panel); padding: .5rem; overflow: auto; max-height: 24rem; }
.dag { display: flex; gap: .6rem; flex-wrap: wrap; align-items: stretch; }
.dag .step { border: 2px solid var(--line); border-radius: 6px; padding: .4rem .6rem; min-width: 10rem; }
.dag .Succeeded { border-color: var(--ok); } .dag .Failed { border-color: var(--bad); } .dag .Running { border-color: var(--accent); }
.heat td.cell { text-align: center; font-variant-numeric: tabular-nums; }
.heat .d1 { background: #ffebe9; } .heat .d0 { background: #dafbe1; }
.error { color: var(--bad); }
`;
