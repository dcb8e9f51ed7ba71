/**
 * Monitors: drift per feature over windows (a heatmap of scores, drifted cells marked), the
 * drifted share over time, the latest window's feature against its reference, and for
 * performance monitors the metric over time with label coverage and the CBPE estimate made
 * before labels arrive; each with its alerts.
 */
import type { Ballast } from "../../../ballast.js";
import type { EvaluatedWindow, MonitorStatus } from "../../../monitoring/monitors.js";
import type { PerformanceMonitorStatus } from "../../../monitoring/performance-monitors.js";
import { html, type Html } from "../html.js";
import { badge, page, type PageContext } from "../layout.js";
import { chart } from "../chart.js";
import { num, percent, when } from "../format.js";

const WINDOWS_SHOWN = 24;

export function monitorsPage(b: Ballast, ctx: PageContext): Html {
  const all = b.monitors.list();
  return page(
    ctx,
    "Monitors",
    "/monitors",
    html`<h1>Monitors</h1>
      ${
        all.length === 0
          ? html`<p class="muted">no monitors</p>`
          : html`<table>
              <thead>
                <tr>
                  <th scope="col">Monitor</th>
                  <th scope="col">Deployment</th>
                  <th scope="col">Type</th>
                  <th scope="col" class="num">Open alerts</th>
                </tr>
              </thead>
              <tbody>
                ${all.map(
                  (m) =>
                    html`<tr>
                      <td><a href="/monitors/${encodeURIComponent(m.spec.name)}">${m.spec.name}</a></td>
                      <td>
                        <a href="/deployments/${encodeURIComponent(m.spec.deployment)}"
                          >${m.spec.deployment}</a
                        >
                      </td>
                      <td>${"variants" in m ? "drift" : "performance"}</td>
                      <td class="num">${m.alerts.filter((a) => a.phase === "firing").length}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

function alertsTable(alerts: MonitorStatus["alerts"]): Html {
  if (alerts.length === 0) return html`<p class="muted">no alerts</p>`;
  return html`<table>
    <thead>
      <tr>
        <th scope="col">Alert</th>
        <th scope="col">Phase</th>
        <th scope="col">Since</th>
      </tr>
    </thead>
    <tbody>
      ${alerts.map(
        (a) =>
          html`<tr>
            <td>${alertName(a.identity)}</td>
            <td>${a.phase === "firing" ? badge("firing", "bad") : a.phase}</td>
            <td>${when(a.since)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/**
 * An alert's identity (its labels as sorted [name, value] pairs, JSON) as a person reads it:
 * the alert's name, then the labels that tell this alert from the monitor's others.
 */
export function alertName(identity: string): Html | string {
  let pairs: unknown;
  try {
    pairs = JSON.parse(identity);
  } catch {
    return identity;
  }
  if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) return identity;
  const labels = pairs as Array<[unknown, unknown]>;
  const name = labels.find(([k]) => k === "alertname")?.[1];
  const rest = labels
    .filter(([k]) => k !== "alertname" && k !== "monitor" && k !== "deployment")
    .map(([k, v]) => `${String(k)}=${String(v)}`)
    .join(", ");
  return html`<strong>${String(name ?? "alert")}</strong> <span class="muted">${rest}</span>`;
}

/** Features as rows, windows (oldest first) as columns; each cell the test's score. */
export function driftHeatmap(windows: readonly EvaluatedWindow[]): Html {
  const evaluated = windows.filter((w) => w.drift !== null);
  const features = [...new Set(evaluated.flatMap((w) => w.drift?.features.map((f) => f.feature) ?? []))];
  if (features.length === 0) return html`<p class="muted">no evaluated windows yet</p>`;
  return html`<table class="heat">
    <caption class="muted">
      Score per feature and window (red: drifted)
    </caption>
    <thead>
      <tr>
        <th scope="col">Feature</th>
        ${evaluated.map((w, i) => html`<th scope="col" title="${when(w.firstAt ?? w.start)}">w${i + 1}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${features.map(
        (f) =>
          html`<tr>
            <th scope="row">${f}</th>
            ${evaluated.map((w) => {
              const r = w.drift?.features.find((x) => x.feature === f);
              return r === undefined
                ? html`<td class="cell">—</td>`
                : html`<td class="cell ${r.drifted ? "d1" : "d0"}">
                    ${num(r.score, 2)}${r.drifted ? " *" : ""}
                  </td>`;
            })}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/**
 * When a window was, in epoch ms: its first row's arrival, else when it was closed (the store
 * keeps no arrival times). Never a count window's start, which is a row ordinal, not a time.
 */
export function windowTime(w: EvaluatedWindow): number {
  return w.firstAt ?? w.closedAt ?? w.start;
}

function driftMonitor(ctx: PageContext, status: MonitorStatus, windows: EvaluatedWindow[]): Html {
  const evaluated = windows.filter((w) => w.drift !== null);
  const x = evaluated.map((w) => windowTime(w) / 1000);
  const latest = evaluated.at(-1)?.drift;
  const features = [...new Set(evaluated.flatMap((w) => w.drift?.features.map((f) => f.feature) ?? []))];
  return html`<h1>Monitor ${status.spec.name}</h1>
    <p>
      Watches
      <a href="/deployments/${encodeURIComponent(status.spec.deployment)}">${status.spec.deployment}</a> ·
      ${status.rowsObserved} rows
      observed${status.lastError === null ? "" : html` · <span class="error">${status.lastError}</span>`}
    </p>
    <div class="grid">
      ${chart({
        title: "Share of drifted features per window",
        x,
        series: [
          { label: "drifted share", values: evaluated.map((w) => w.drift?.dataset?.share ?? null) },
          {
            label: "threshold",
            values: evaluated.map((w) => w.drift?.dataset?.shareThreshold ?? null),
            dash: true,
          },
        ],
      })}
      ${chart({ title: "Drift score per feature over windows", x, series: features.map((f) => ({ label: f, values: evaluated.map((w) => w.drift?.features.find((r) => r.feature === f)?.score ?? null) })) })}
    </div>
    <h2>Drift per feature over windows</h2>
    ${driftHeatmap(windows.slice(-WINDOWS_SHOWN))}
    <h2>Latest window against the reference</h2>
    ${
      latest === undefined || latest === null
        ? html`<p class="muted">no window yet</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">Test</th>
                <th scope="col" class="num">Score</th>
                <th scope="col" class="num">Threshold</th>
                <th scope="col" class="num">Reference rows</th>
                <th scope="col" class="num">Current rows</th>
                <th scope="col" class="num">Missing (reference → current)</th>
                <th scope="col">Drifted</th>
              </tr>
            </thead>
            <tbody>
              ${latest.features.map(
                (f) =>
                  html`<tr>
                    <td>${f.feature}</td>
                    <td>${f.test}</td>
                    <td class="num">${num(f.score)}</td>
                    <td class="num">${num(f.threshold)}</td>
                    <td class="num">${f.referenceCount}</td>
                    <td class="num">${f.currentCount}</td>
                    <td class="num">${percent(f.referenceMissingShare)} → ${percent(f.missingShare)}</td>
                    <td>${f.drifted ? badge("drifted", "bad") : badge("no", "ok")}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>Alerts</h2>
    ${alertsTable(status.alerts)}`;
}

function performanceMonitor(status: PerformanceMonitorStatus): Html {
  const variants = status.latest?.variants ?? [];
  return html`<h1>Monitor ${status.spec.name} <span class="muted">(performance)</span></h1>
    <p>
      Watches
      <a href="/deployments/${encodeURIComponent(status.spec.deployment)}">${status.spec.deployment}</a> ·
      ${status.evaluations}
      evaluations${status.lastError === null ? "" : html` · <span class="error">${status.lastError}</span>`}
    </p>
    ${
      variants.length === 0
        ? html`<p class="muted">not evaluated yet</p>`
        : variants.map((v) => {
            const x = v.buckets.map((bk) => bk.start / 1000);
            return html`<h2>
                Variant ${v.variant}
                ${v.breached === true ? badge("breached", "bad") : v.breached === false ? badge("ok", "ok") : ""}
              </h2>
              <div class="grid">
                ${chart({
                  title: `Metric over time (threshold ${num(v.threshold)}), with the CBPE estimate before labels`,
                  x,
                  series: [
                    { label: "on labels", values: v.buckets.map((bk) => bk.value) },
                    { label: "CBPE estimate", values: v.buckets.map((bk) => bk.estimated), dash: true },
                  ],
                })}
                ${chart({ title: "Label coverage (%)", x, series: [{ label: "coverage %", values: v.buckets.map((bk) => (bk.coverage === null ? null : bk.coverage * 100)) }] })}
              </div>`;
          })
    }
    <h2>Alerts</h2>
    ${alertsTable(status.alerts)}`;
}

export async function monitorPage(b: Ballast, ctx: PageContext, name: string): Promise<Html> {
  const status = b.monitors.statusOf(name);
  if (!("variants" in status))
    return page(ctx, `Monitor ${name}`, "/monitors", performanceMonitor(status), true);
  const windows = (await b.monitorStore.windows(name, 100))
    .slice()
    .sort((p, q) => windowTime(p) - windowTime(q));
  return page(ctx, `Monitor ${name}`, "/monitors", driftMonitor(ctx, status, windows), true);
}
