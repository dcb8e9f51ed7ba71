/** The overview: every deployment at a glance, the rollouts under way, and the last events. */
import type { Ballast } from "../../../ballast.js";
import type { BallastEvent } from "../../../events/event-log.js";
import { html, type Html } from "../html.js";
import { badge, page, type PageContext } from "../layout.js";
import { duration, num, percent, when } from "../format.js";
import { ratesBetween, type TrafficSnapshot } from "../traffic.js";
import { driftByDeployment } from "./health.js";

export const RATE_WINDOW_MS = 5 * 60_000;

export async function overviewPage(
  b: Ballast,
  ctx: PageContext,
  traffic: { now: TrafficSnapshot; before: TrafficSnapshot | undefined },
): Promise<Html> {
  const [deployments, events] = await Promise.all([b.deployments.list(), b.events.list({ limit: 20 })]);
  const serving = new Map(b.endpoints.list().map((e) => [e.deployment.name, e]));
  const problems = b.endpoints.problemsByDeployment();
  const health = driftByDeployment(b);
  const rolling = deployments.filter((d) => b.rollouts.isRolling(d.name));
  const rollouts = await Promise.all(rolling.map((d) => b.rollouts.describe(d.name)));
  const rows = deployments.map((d) => {
    const served = serving.get(d.name);
    const r = ratesBetween(traffic.before, traffic.now, d.name);
    const h = health.get(d.name);
    const problem = problems.get(d.name);
    return html`<tr>
      <td>
        <a href="/deployments/${encodeURIComponent(d.name)}">${d.name}</a
        >${problem === undefined ? "" : html` ${badge("not serving", "bad")}`}
      </td>
      <td>
        ${(served?.variants ?? []).map((v) => html`<div>${v.variant.name}: ${v.version.model} v${v.version.version} · ${v.variant.weight}%</div>`)}
      </td>
      <td class="num">${r.requestsPerSecond === null ? "—" : num(r.requestsPerSecond)}</td>
      <td class="num">${percent(r.errorShare)}</td>
      <td class="num">${r.p99Seconds === null ? "—" : duration(r.p99Seconds * 1000)}</td>
      <td>
        ${h === undefined ? html`<span class="muted">no monitor</span>` : h.drifted ? badge(`drift ${percent(h.share)}`, "bad") : badge(h.share === null ? "no window yet" : `ok ${percent(h.share)}`, h.share === null ? "" : "ok")}
      </td>
      <td class="num">${h === undefined || h.openAlerts === 0 ? "0" : badge(String(h.openAlerts), "bad")}</td>
      <td>
        ${b.rollouts.isRolling(d.name) ? html`<a href="/rollouts/${encodeURIComponent(d.name)}">rolling out</a>` : html`<span class="muted">—</span>`}
      </td>
    </tr>`;
  });
  const body = html`<h1>Overview</h1>
    <p class="muted">
      Rates over the last
      ${traffic.before === undefined ? "period since start" : duration(traffic.now.at - traffic.before.at)},
      from the server's own counters (as /metrics exports them).
    </p>
    <h2>Deployments (${deployments.length})</h2>
    <table>
      <thead>
        <tr>
          <th scope="col">Deployment</th>
          <th scope="col">Serves</th>
          <th scope="col" class="num">req/s</th>
          <th scope="col" class="num">5xx share</th>
          <th scope="col" class="num">p99</th>
          <th scope="col">Drift</th>
          <th scope="col" class="num">Open alerts</th>
          <th scope="col">Rollout</th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="8" class="muted">no deployments</td>
              </tr>`
            : rows
        }
      </tbody>
    </table>
    <h2>Rollouts in progress (${rollouts.length})</h2>
    ${
      rollouts.length === 0
        ? html`<p class="muted">none</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Canary</th>
                <th scope="col">Phase</th>
                <th scope="col">Step</th>
                <th scope="col" class="num">Weight</th>
              </tr>
            </thead>
            <tbody>
              ${rollouts.map(
                (r) =>
                  html`<tr>
                    <td><a href="/rollouts/${encodeURIComponent(r.deployment)}">${r.deployment}</a></td>
                    <td>${r.rollout?.canary.model} v${r.rollout?.canary.version}</td>
                    <td>${r.rollout?.phase}</td>
                    <td>${(r.rollout?.step ?? 0) + 1} / ${r.steps}</td>
                    <td class="num">${r.rollout?.weight}%</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>Last events <span id="live-status" class="muted" aria-live="polite"></span></h2>
    <div data-live-events hx-get="/partials/events" hx-trigger="events-changed from:body" hx-swap="innerHTML">
      ${eventsTable(events)}
    </div>`;
  return page(ctx, "Overview", "/", body);
}

export function eventsTable(events: readonly BallastEvent[]): Html {
  if (events.length === 0) return html`<p class="muted">no events</p>`;
  return html`<table>
    <thead>
      <tr>
        <th scope="col">When</th>
        <th scope="col">About</th>
        <th scope="col">Reason</th>
        <th scope="col">Message</th>
      </tr>
    </thead>
    <tbody>
      ${[...events].reverse().map(
        (e) =>
          html`<tr>
            <td>${when(e.at)}</td>
            <td>${e.kind}/${e.name}</td>
            <td>${e.type === "Warning" ? badge(e.reason, "warn") : e.reason}</td>
            <td>${e.message}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
