/**
 * A rollout: its steps with the current one marked, the gates and their evidence (the
 * sequential test's numbers as they were recorded at each analysis), events, and the
 * operator's buttons. The buttons swap the panel in place with htmx.
 */
import type { Ballast } from "../../../ballast.js";
import type { BallastEvent } from "../../../events/event-log.js";
import type { RolloutView } from "../../../rollout/rollouts.js";
import type { Deployment } from "../../../domain/model.js";
import { html, type Html } from "../html.js";
import { actionButton, badge, page, type ChartSpec, type PageContext } from "../layout.js";
import { label } from "../../../rollout/analysis.js";
import type { Gate } from "../../../rollout/strategy.js";
import { chart } from "../chart.js";
import { brief, num, when } from "../format.js";
import { eventsTable } from "./overview.js";

export async function rolloutsPage(b: Ballast, ctx: PageContext): Promise<Html> {
  const deployments = await b.deployments.list();
  const views = (await Promise.all(deployments.map((d) => b.rollouts.describe(d.name)))).filter(
    (v) => v.rollout !== null,
  );
  return page(
    ctx,
    "Rollouts",
    "/rollouts",
    html`<h1>Rollouts</h1>
      ${
        views.length === 0
          ? html`<p class="muted">no rollouts yet</p>`
          : html`<table>
              <thead>
                <tr>
                  <th scope="col">Deployment</th>
                  <th scope="col">From → to</th>
                  <th scope="col">Phase</th>
                  <th scope="col" class="num">Weight</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                ${views.map(
                  (v) =>
                    html`<tr>
                      <td><a href="/rollouts/${encodeURIComponent(v.deployment)}">${v.deployment}</a></td>
                      <td>
                        v${v.rollout?.stable.version} → ${v.rollout?.canary.model}
                        v${v.rollout?.canary.version}
                      </td>
                      <td>${phaseBadge(v)}</td>
                      <td class="num">${v.rollout?.weight}%</td>
                      <td>${when(v.rollout?.startedAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

function phaseBadge(v: RolloutView): Html {
  const phase = v.rollout?.phase ?? "none";
  return badge(
    phase,
    phase === "Aborted" ? "bad" : phase === "Succeeded" ? "ok" : phase === "Paused" ? "warn" : "",
  );
}

/** The part the buttons replace: state, steps, gates and buttons. */
export function rolloutPanel(ctx: PageContext, v: RolloutView, strategySteps: readonly unknown[]): Html {
  const r = v.rollout;
  const enc = encodeURIComponent(v.deployment);
  if (r === null)
    return html`<section id="rollout-panel"><p class="muted">no rollout on this deployment</p></section>`;
  const live = r.phase === "Progressing" || r.phase === "Paused";
  const steps = Array.from({ length: v.steps }, (_, i) => i);
  return html`<section id="rollout-panel" aria-live="polite">
    <p>
      Phase: <strong data-phase>${r.phase}</strong> ${phaseBadge(v)} · canary weight
      <strong>${r.weight}%</strong> · ${r.canary.model} v${r.canary.version} replacing v${r.stable.version}
    </p>
    <p class="muted">${r.message}</p>
    ${live ? html`<div role="group" aria-label="Rollout actions">${actionButton(ctx, `/rollouts/${enc}/promote`, "Promote", "#rollout-panel", { confirm: "Promote the canary to 100%?" })}${r.phase === "Paused" ? actionButton(ctx, `/rollouts/${enc}/resume`, "Resume", "#rollout-panel") : actionButton(ctx, `/rollouts/${enc}/pause`, "Pause", "#rollout-panel")}${actionButton(ctx, `/rollouts/${enc}/abort`, "Abort", "#rollout-panel", { danger: true, confirm: "Abort and send all traffic back to the stable version?" })}</div>` : ""}
    <h2>Steps</h2>
    <ol>
      ${steps.map((i) => html`<li${i === r.step && live ? html` class="current" aria-current="step"` : ""}>${brief(strategySteps[i] ?? `step ${i + 1}`, 120)}${i < r.step ? html` <span class="muted">done</span>` : ""}</li>`)}
    </ol>
    <h2>Gates</h2>
    ${
      v.gates.length === 0
        ? html`<p class="muted">no analysis gates</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Gate</th>
                <th scope="col">Decision</th>
                <th scope="col">Numbers</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              ${v.gates.map(
                (g) =>
                  html`<tr>
                    <td>${g.gate}</td>
                    <td>${g.decision}</td>
                    <td>${Object.entries(g.observed).map(([k, n]) => html`<div>${k} = ${num(n)}</div>`)}</td>
                    <td>${g.detail}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    ${v.experiment === undefined ? "" : html`<p>Experiment: ${v.experiment.verdict} (α = ${v.experiment.alpha})</p>`}
  </section>`;
}

/**
 * The evidence at every analysis recorded in the event log, one chart per gate, each gate's
 * statistic against its boundary: a rate gate's harm (canary minus stable) and its always-valid
 * upper bound against the margin (promoted once the bound is below it, rolled back when the
 * harm is surely above it); a threshold gate's canary value against its maximum, with the
 * stable value beside. Then the canary's weight. Gates are named as the strategy declares them.
 */
export function evidenceCharts(
  events: readonly BallastEvent[],
  rollout: string,
  gates: readonly Gate[],
): ChartSpec[] {
  const analyses = events.filter((e) => e.details.rollout === rollout);
  const observedAt = (e: BallastEvent, i: number): Record<string, unknown> | undefined => {
    const all = e.details.gates;
    const g: unknown = Array.isArray(all) ? all[i] : undefined;
    const observed = typeof g === "object" && g !== null ? (g as { observed?: unknown }).observed : undefined;
    return typeof observed === "object" && observed !== null
      ? (observed as Record<string, unknown>)
      : undefined;
  };
  const number = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : null);
  const charts = gates.map((gate, i): ChartSpec => {
    const points = analyses.flatMap((e) => {
      const o = observedAt(e, i);
      return o === undefined ? [] : [{ at: e.at / 1000, o }];
    });
    const x = points.map((p) => p.at);
    const line = (label: string, key: string, dash = false) => ({
      label,
      values: points.map((p) => number(p.o[key])),
      dash,
    });
    const level = (label: string, value: number) => ({ label, values: points.map(() => value), dash: true });
    if (gate.metric.startsWith("latency") || gate.metric === "drift_share")
      return {
        title: `${label(gate)}: canary against its maximum`,
        x,
        series: [line("canary", "canary"), line("stable", "stable"), line("maximum", "max", true)],
      };
    return {
      title: `${label(gate)}: harm (canary − stable) and its always-valid upper bound against the margin`,
      x,
      series: [
        line("harm", "harm"),
        line("upper bound", "harmUpperBound"),
        level("margin", gate.margin ?? 0),
      ],
    };
  });
  const weighed = analyses.filter((e) => typeof e.details.weight === "number");
  charts.push({
    title: "Canary weight (%)",
    x: weighed.map((e) => e.at / 1000),
    series: [{ label: "canary weight %", values: weighed.map((e) => e.details.weight as number) }],
  });
  return charts;
}

/** The declared steps of a deployment's strategy (an A/B test has none to list). */
export function strategySteps(b: Ballast, d: Deployment): readonly unknown[] {
  if (!b.rollouts.rollsOut(d.strategy)) return [];
  const strategy = b.rollouts.strategyOf(d);
  return "steps" in strategy ? strategy.steps : [];
}

export async function rolloutPage(b: Ballast, ctx: PageContext, name: string): Promise<Html> {
  const d = await b.deployments.get(name);
  const v = await b.rollouts.describe(name);
  const events = await b.events.list({ kind: "Deployment", name, limit: 500 });
  const steps = strategySteps(b, d);
  const strategy = b.rollouts.rollsOut(d.strategy) ? b.rollouts.strategyOf(d) : undefined;
  const gates = strategy !== undefined && "analysis" in strategy ? strategy.analysis.gates : [];
  const evidence = v.rollout === null ? [] : evidenceCharts(events, v.rollout.id, gates);
  const body = html`<h1>Rollout of <a href="/deployments/${encodeURIComponent(name)}">${name}</a></h1>
    ${rolloutPanel(ctx, v, steps)}
    <h2>Evidence over time</h2>
    ${evidence.length === 0 ? html`<p class="muted">no rollout yet</p>` : html`<div class="grid">${evidence.map(chart)}</div>`}
    <h2>Events</h2>
    ${eventsTable(events.slice(-30))}`;
  return page(ctx, `Rollout ${name}`, "/rollouts", body, true);
}
