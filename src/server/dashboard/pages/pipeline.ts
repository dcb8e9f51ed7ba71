/**
 * Pipelines: their runs, and a run's DAG with each step's state, timings and cache hit, its
 * summary (a validate step's gate numbers are there), its log, and the run button.
 */
import type { Ballast } from "../../../ballast.js";
import type { PipelineRun } from "../../../pipelines/run-store.js";
import { html, type Html } from "../html.js";
import { actionButton, badge, page, type PageContext } from "../layout.js";
import { brief, duration, when } from "../format.js";

function stateBadge(state: string): Html {
  return badge(
    state,
    state === "Succeeded" ? "ok" : state === "Failed" || state === "Cancelled" ? "bad" : "",
  );
}

export async function pipelinesPage(b: Ballast, ctx: PageContext): Promise<Html> {
  const views = await b.resources.list("Pipeline");
  const rows = await Promise.all(
    views.map(async (v) => ({
      name: v.manifest.metadata.name,
      last: (await b.pipelines.list(v.manifest.metadata.name, 1))[0],
    })),
  );
  return page(
    ctx,
    "Pipelines",
    "/pipelines",
    html`<h1>Pipelines</h1>
      ${
        rows.length === 0
          ? html`<p class="muted">no pipelines</p>`
          : html`<table>
              <thead>
                <tr>
                  <th scope="col">Pipeline</th>
                  <th scope="col">Last run</th>
                  <th scope="col">State</th>
                  <th scope="col">Finished</th>
                </tr>
              </thead>
              <tbody>
                ${rows.map(
                  (r) =>
                    html`<tr>
                      <td><a href="/pipelines/${encodeURIComponent(r.name)}">${r.name}</a></td>
                      <td>
                        ${r.last === undefined ? "—" : html`<a href="/pipelines/${encodeURIComponent(r.name)}/runs/${encodeURIComponent(r.last.id)}">${r.last.id}</a>`}
                      </td>
                      <td>${r.last === undefined ? "—" : stateBadge(r.last.state)}</td>
                      <td>${when(r.last?.finishedAt)}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }`,
  );
}

export function runsTable(name: string, runs: readonly PipelineRun[]): Html {
  return html`<table id="runs">
    <thead>
      <tr>
        <th scope="col">Run</th>
        <th scope="col">State</th>
        <th scope="col">Trigger</th>
        <th scope="col">Created</th>
        <th scope="col">Took</th>
      </tr>
    </thead>
    <tbody>
      ${runs.map(
        (r) =>
          html`<tr>
            <td>
              <a href="/pipelines/${encodeURIComponent(name)}/runs/${encodeURIComponent(r.id)}">${r.id}</a>
            </td>
            <td>${stateBadge(r.state)}</td>
            <td>${r.trigger.kind}: ${r.trigger.reason}</td>
            <td>${when(r.createdAt)}</td>
            <td>
              ${r.startedAt !== undefined && r.finishedAt !== undefined ? duration(r.finishedAt - r.startedAt) : "—"}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export async function pipelinePage(
  b: Ballast,
  ctx: PageContext,
  name: string,
  notice?: string,
): Promise<Html> {
  const view = await b.resources.get("Pipeline", name);
  const runs = await b.pipelines.list(name, 20);
  const body = html`<h1>Pipeline ${name}</h1>
    <div id="run-control">
      ${notice === undefined ? "" : html`<p role="status">${notice}</p>`}${actionButton(ctx, `/pipelines/${encodeURIComponent(name)}/run`, "Run now", "#run-control")}
    </div>
    <p class="muted">${brief(view.status, 300)}</p>
    <h2>Runs</h2>
    ${runs.length === 0 ? html`<p class="muted">no runs yet</p>` : runsTable(name, runs)}`;
  return page(ctx, `Pipeline ${name}`, "/pipelines", body);
}

/** Steps in columns by depth (how many steps lie upstream), so the DAG reads left to right. */
export function dagLayers(run: PipelineRun): string[][] {
  const depth = new Map<string, number>();
  const upstreamOf = new Map(run.plan.map((s) => [s.name, s.upstream]));
  const depthOf = (step: string, seen: Set<string>): number => {
    const known = depth.get(step);
    if (known !== undefined) return known;
    if (seen.has(step)) return 0;
    seen.add(step);
    const ups = upstreamOf.get(step) ?? [];
    const d = ups.length === 0 ? 0 : 1 + Math.max(...ups.map((u) => depthOf(u, seen)));
    depth.set(step, d);
    return d;
  };
  const layers: string[][] = [];
  for (const s of run.steps) {
    const d = depthOf(s.step, new Set());
    (layers[d] ??= []).push(s.step);
  }
  return layers.filter((l) => l !== undefined);
}

export async function runPage(b: Ballast, ctx: PageContext, name: string, id: string): Promise<Html> {
  const run = await b.pipelines.mustGet(id);
  if (run.pipeline !== name)
    return page(ctx, "Not found", "/pipelines", html`<p>Pipeline ${name} has no run ${id}.</p>`);
  const logs = await b.pipelines.logs(id, undefined);
  const steps = new Map(run.steps.map((s) => [s.step, s]));
  const upstream = new Map(run.plan.map((s) => [s.name, s.upstream]));
  const body = html`<h1>
      Run ${run.id} of <a href="/pipelines/${encodeURIComponent(name)}">${name}</a> ${stateBadge(run.state)}
    </h1>
    <p>
      ${run.trigger.kind}: ${run.trigger.reason} · created ${when(run.createdAt)} · took
      ${run.startedAt !== undefined && run.finishedAt !== undefined ? duration(run.finishedAt - run.startedAt) : "—"}${run.reason === undefined ? "" : html` · <span class="error">${run.reason}</span>`}
    </p>
    <h2>Steps</h2>
    <div class="dag" role="list" aria-label="Steps, upstream first">
      ${dagLayers(run).map(
        (layer) =>
          html`<div role="listitem">
            ${layer.map((stepName) => {
              const s = steps.get(stepName);
              if (s === undefined) return "";
              return html`<div class="step ${s.state}">
                <strong>${s.step}</strong> <span class="muted">${s.kind}</span
                ><br />${stateBadge(s.state)}${s.cached ? html` ${badge("cache hit", "ok")}` : ""}<br /><span
                  class="muted"
                  >after: ${(upstream.get(s.step) ?? []).join(", ") || "—"}</span
                ><br />${s.startedAt !== undefined && s.finishedAt !== undefined ? duration(s.finishedAt - s.startedAt) : "—"}${s.attempt > 1 ? ` · attempt ${s.attempt}` : ""}
              </div>`;
            })}
          </div>`,
      )}
    </div>
    <table>
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">State</th>
          <th scope="col">Started</th>
          <th scope="col">Took</th>
          <th scope="col">Cache</th>
          <th scope="col">Summary (gate numbers, metrics)</th>
        </tr>
      </thead>
      <tbody>
        ${run.steps.map(
          (s) =>
            html`<tr>
              <td>${s.step}</td>
              <td>${stateBadge(s.state)}</td>
              <td>${when(s.startedAt)}</td>
              <td>
                ${s.startedAt !== undefined && s.finishedAt !== undefined ? duration(s.finishedAt - s.startedAt) : "—"}
              </td>
              <td>
                ${s.cached ? `hit${s.cachedFrom === undefined ? "" : ` (from ${s.cachedFrom})`}` : "miss"}
              </td>
              <td>
                ${s.error === undefined ? "" : html`<div class="error">${s.error}</div>`}${s.summary === undefined ? "—" : Object.entries(s.summary).map(([k, v]) => html`<div>${k}: ${brief(v, 200)}</div>`)}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h2>Log</h2>
    <pre>
${
        logs.length === 0
          ? "(empty)"
          : logs
              .slice(-500)
              .map((l) => `[${l.step}#${l.attempt}] ${l.line}\n`)
              .join("")
      }</pre>`;
  return page(ctx, `Run ${id}`, "/pipelines", body);
}
