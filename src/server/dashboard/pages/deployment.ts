/** A deployment: variants and weights, latency and errors over time, shadows, resilience, recent predictions. */
import type { Ballast } from "../../../ballast.js";
import { html, type Html } from "../html.js";
import { badge, page, type PageContext } from "../layout.js";
import { chart } from "../chart.js";
import { brief, duration, num, percent, when } from "../format.js";
import { ratesBetween, type TrafficSnapshot } from "../traffic.js";

export async function deploymentsPage(b: Ballast, ctx: PageContext): Promise<Html> {
  const all = await b.deployments.list();
  return page(
    ctx,
    "Deployments",
    "/deployments",
    html`<h1>Deployments</h1>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Variants</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          ${all.map(
            (d) =>
              html`<tr>
                <td><a href="/deployments/${encodeURIComponent(d.name)}">${d.name}</a></td>
                <td>
                  ${d.variants.map((v) => `${v.name} ${v.weight}%${v.shadow === true ? " (shadow)" : ""}`).join(", ")}
                </td>
                <td>${when(d.updatedAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>`,
  );
}

interface MetricValue {
  labels: Record<string, string | number | undefined>;
  value: number;
}

/** This deployment's values of one exported metric (circuit state, fallbacks, shed requests). */
async function metricFor(b: Ballast, name: string, deployment: string): Promise<MetricValue[]> {
  const metric = b.metrics.registry.getSingleMetric(name);
  if (metric === undefined) return [];
  return ((await metric.get()).values as MetricValue[]).filter((v) => v.labels.deployment === deployment);
}

export async function deploymentPage(
  b: Ballast,
  ctx: PageContext,
  name: string,
  history: readonly TrafficSnapshot[],
): Promise<Html> {
  const d = await b.deployments.get(name);
  const served = b.endpoints.list().find((e) => e.deployment.name === name);
  const problem = b.endpoints.problemsByDeployment().get(name);
  const shadows = b.shadows.reports(name);
  await b.predictionLog.flush();
  const [predictions, circuit, fallbacks, shed] = await Promise.all([
    b.predictions.query({ deployment: name, limit: 20 }),
    metricFor(b, "ballast_circuit_state", name),
    metricFor(b, "ballast_fallback_total", name),
    metricFor(b, "ballast_requests_shed_total", name),
  ]);
  const points = history.slice(1).map((s, i) => ({ at: s.at, r: ratesBetween(history[i], s, name) }));
  const x = points.map((p) => p.at / 1000);
  const body = html`<h1>
      Deployment ${name} ${problem === undefined ? badge("serving", "ok") : badge("not serving", "bad")}
    </h1>
    ${problem === undefined ? "" : html`<p class="error">${problem}</p>`}
    <h2>Variants</h2>
    <table>
      <thead>
        <tr>
          <th scope="col">Variant</th>
          <th scope="col">Model</th>
          <th scope="col" class="num">Version</th>
          <th scope="col" class="num">Weight</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        ${(served?.variants ?? []).map(
          (v) =>
            html`<tr>
              <td>${v.variant.name}${v.variant.shadow === true ? " (shadow)" : ""}</td>
              <td><a href="/models/${encodeURIComponent(v.version.model)}">${v.version.model}</a></td>
              <td class="num">${v.version.version}</td>
              <td class="num">${v.variant.weight}%</td>
              <td>${b.pool.state(v.version.model, v.version.version).state}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${b.rollouts.isRolling(name) ? html`<p><a href="/rollouts/${encodeURIComponent(name)}">A rollout is in progress</a></p>` : ""}
    <div class="grid">
      ${chart({ title: "Requests per second", x, series: [{ label: "req/s", values: points.map((p) => p.r.requestsPerSecond) }] })}
      ${chart({
        title: "p99 latency (ms) and 5xx share (%)",
        x,
        series: [
          {
            label: "p99 ms",
            values: points.map((p) => (p.r.p99Seconds === null ? null : p.r.p99Seconds * 1000)),
          },
          {
            label: "5xx %",
            values: points.map((p) => (p.r.errorShare === null ? null : p.r.errorShare * 100)),
            dash: true,
          },
        ],
      })}
    </div>
    <h2>Shadows</h2>
    ${
      shadows.length === 0
        ? html`<p class="muted">no shadow variants</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Shadow</th>
                <th scope="col">Version</th>
                <th scope="col" class="num">Compared</th>
                <th scope="col" class="num">Agreement</th>
                <th scope="col" class="num">Score difference p50 / p99</th>
              </tr>
            </thead>
            <tbody>
              ${shadows.map(
                (s) =>
                  html`<tr>
                    <td>${s.variant}</td>
                    <td>${s.model} v${s.version}</td>
                    <td class="num">${s.comparison.compared}</td>
                    <td class="num">${percent(s.comparison.agreement)}</td>
                    <td class="num">
                      ${num(s.comparison.scoreDifference.p50)} / ${num(s.comparison.scoreDifference.p99)}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>Resilience</h2>
    <table>
      <tbody>
        <tr>
          <th scope="row">Declared</th>
          <td>${d.resilience === undefined ? "defaults" : brief(d.resilience, 400)}</td>
        </tr>
        <tr>
          <th scope="row">Circuit breakers</th>
          <td>
            ${circuit.length === 0 ? "closed (none tripped)" : circuit.map((c) => html`<div>${String(c.labels.model)} v${String(c.labels.version)}: ${["closed", "half-open", "open"][c.value] ?? c.value}</div>`)}
          </td>
        </tr>
        <tr>
          <th scope="row">Fallbacks served</th>
          <td class="num">${fallbacks.reduce((s, v) => s + v.value, 0)}</td>
        </tr>
        <tr>
          <th scope="row">Requests shed</th>
          <td class="num">${shed.reduce((s, v) => s + v.value, 0)}</td>
        </tr>
        <tr>
          <th scope="row">Timeout</th>
          <td>${duration(d.timeoutMs)}</td>
        </tr>
      </tbody>
    </table>
    <h2>Recent predictions</h2>
    ${
      predictions.length === 0
        ? html`<p class="muted">none logged</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Request</th>
                <th scope="col">Variant</th>
                <th scope="col">Outputs</th>
                <th scope="col" class="num">Latency</th>
                <th scope="col">Feedback</th>
              </tr>
            </thead>
            <tbody>
              ${predictions.map(
                (p) =>
                  html`<tr>
                    <td>${when(p.createdAt)}</td>
                    <td>${p.requestId}</td>
                    <td>${p.variant} (v${p.modelVersion})</td>
                    <td>${brief(p.outputs, 80)}</td>
                    <td class="num">${num(p.latencyMs)} ms</td>
                    <td>
                      ${p.feedback.length === 0 ? html`<span class="muted">—</span>` : feedbackSummary(p.feedback).map((line) => html`<div>${line}</div>`)}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
  return page(ctx, `Deployment ${name}`, "/deployments", body, true);
}

/**
 * A request's feedback, one line per kind, its values counted: a batched request of 100 rows
 * has 100 labels, which read as "label: 0 ×98, 1 ×2" rather than as 100 lines.
 */
export function feedbackSummary(
  feedback: ReadonlyArray<{ readonly kind: string; readonly label?: unknown; readonly value?: unknown }>,
): string[] {
  const kinds = new Map<string, Map<string, number>>();
  for (const f of feedback) {
    const counts = kinds.get(f.kind) ?? new Map<string, number>();
    const shown = brief(f.label ?? f.value, 40);
    counts.set(shown, (counts.get(shown) ?? 0) + 1);
    kinds.set(f.kind, counts);
  }
  const SHOWN = 4;
  return [...kinds].map(([kind, counts]) => {
    const values = [...counts].sort((a, b) => b[1] - a[1]);
    const listed = values.slice(0, SHOWN).map(([v, n]) => (n === 1 ? v : `${v} ×${n}`));
    const more = values.length > SHOWN ? `, … ${values.length - SHOWN} more` : "";
    return `${kind}: ${listed.join(", ")}${more}`;
  });
}
