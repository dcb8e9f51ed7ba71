/** The frame every page shares: head with the local assets, the navigation, who is signed in. */
import type { Assets } from "./assets.js";
import { CSRF_FIELD, type Viewer } from "./session.js";
import { html, type Html } from "./html.js";

export interface PageContext {
  readonly viewer: Viewer;
  /** The session's CSRF token, put in every form that changes something. */
  readonly csrf: string;
  /** Whether this viewer may press the operator buttons (promote, abort, run). */
  readonly canOperate: boolean;
  /** Whether a login is needed at all (tokens configured). */
  readonly secured: boolean;
  readonly assets: Assets;
}

const NAV: ReadonlyArray<readonly [string, string]> = [
  ["/", "Overview"],
  ["/deployments", "Deployments"],
  ["/rollouts", "Rollouts"],
  ["/monitors", "Monitors"],
  ["/models", "Models"],
  ["/pipelines", "Pipelines"],
  ["/markets", "Markets"],
];

export function page(ctx: PageContext, title: string, active: string, body: Html, charts = false): Html {
  const a = ctx.assets;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}' />
        <title>${title} · Ballast</title>
        <link rel="icon" href="${a.icon.url}" type="image/svg+xml" />
        <link rel="stylesheet" href="${a.style.url}" />
        ${charts && html`<link rel="stylesheet" href="${a.uplotCss.url}" />`}
        <script src="${a.htmx.url}" defer></script>
        ${charts && html`<script src="${a.uplot.url}" defer></script>`}
        <script src="${a.script.url}" defer></script>
      </head>
      <body>
        <header>
          <span class="brand">Ballast</span>
          <nav aria-label="Main">
            ${NAV.map(([href, label]) => html`<a href="${href}" ${href === active ? html` aria-current="page"` : ""}>${label}</a>`)}
          </nav>
          <span class="muted"
            >${ctx.secured ? html`signed in as ${ctx.viewer.name} (${ctx.viewer.role ?? ""}) ${logout(ctx)}` : "open server (no tokens)"}</span
          >
        </header>
        <main id="main">${body}</main>
      </body>
    </html>`;
}

function logout(ctx: PageContext): Html {
  return html`<form class="inline" method="post" action="/logout">
    <input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}" /><button type="submit">Sign out</button>
  </form>`;
}

/** A form whose POST htmx sends in place (a plain POST and redirect without script). */
export function actionButton(
  ctx: PageContext,
  action: string,
  label: string,
  target: string,
  options: { danger?: boolean; confirm?: string } = {},
): Html {
  if (!ctx.canOperate) return html``;
  return html`<form
    class="inline"
    method="post"
    action="${action}"
    hx-post="${action}"
    hx-target="${target}"
    hx-swap="outerHTML"
    ${options.confirm === undefined ? "" : html` hx-confirm="${options.confirm}"`}
  >
    <input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrf}" /><button
      type="submit"
      ${options.danger === true ? html` class="danger"` : ""}
    >
      ${label}
    </button>
  </form>`;
}

export function badge(text: string, tone: "ok" | "bad" | "warn" | "" = ""): Html {
  return html`<span class="badge ${tone}">${text}</span>`;
}

/** A chart placeholder and its data; the client script draws it with uPlot. */
export interface ChartSpec {
  readonly title: string;
  readonly x: readonly number[];
  readonly series: ReadonlyArray<{ label: string; values: ReadonlyArray<number | null>; dash?: boolean }>;
  /** false for an x axis that is not time (window ordinals). */
  readonly time?: boolean;
  readonly height?: number;
  /** Background bands behind the lines (a regime over an x range); `label` picks the colour. */
  readonly bands?: ReadonlyArray<{ from: number; to: number; label: string }>;
}
