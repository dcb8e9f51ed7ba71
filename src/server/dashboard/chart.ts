import { html, jsonBlock, type Html } from "./html.js";
import type { ChartSpec } from "./layout.js";

let counter = 0;

/** A chart: a labelled figure for uPlot to fill, with its data beside it. x is in seconds for time axes. */
export function chart(spec: ChartSpec): Html {
  const id = `chart-${++counter}`;
  return html`<figure class="panel" aria-label="${spec.title}">
    <div data-chart="${id}"></div>
    ${jsonBlock(id, spec)}
    <figcaption class="muted">${spec.title}${spec.x.length === 0 ? " (no data yet)" : ""}</figcaption>
  </figure>`;
}
