/**
 * The web dashboard, served by `ballast serve` at `/`: server-rendered pages over the same
 * services the API routes call, htmx for the buttons and partial refreshes, uPlot for charts,
 * server-sent events for the overview's live events. Assets come from the npm packages and are
 * served from memory; the Content-Security-Policy allows nothing from another origin.
 *
 * Access: the API's tokens and roles. Pages need viewer (or better), buttons operator; the
 * browser presents its token through the session cookie the login form sets, and every POST
 * carries the session's CSRF token and, when the browser names one, this server's origin.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { Ballast } from "../../ballast.js";
import { isBallastError } from "../../domain/errors.js";
import { statusFor } from "../../domain/http-status.js";
import type { ApiToken } from "../tokens.js";
import { loadAssets, type Assets } from "./assets.js";
import { html, type Html } from "./html.js";
import { page, type PageContext } from "./layout.js";
import { CSRF_FIELD, SESSION_COOKIE, Sessions, may, safeNext, sameOrigin, type Viewer } from "./session.js";
import { EventStream, type StreamOptions } from "./event-stream.js";
import { TrafficHistory, snapshot } from "./traffic.js";
import { RATE_WINDOW_MS, eventsTable, overviewPage } from "./pages/overview.js";
import { deploymentPage, deploymentsPage } from "./pages/deployment.js";
import { rolloutPage, rolloutPanel, rolloutsPage, strategySteps } from "./pages/rollout.js";
import { monitorPage, monitorsPage } from "./pages/monitor.js";
import { modelPage, modelsPage } from "./pages/model.js";
import { pipelinePage, pipelinesPage, runPage } from "./pages/pipeline.js";
import { marketsPage, routerPage } from "./pages/markets.js";
import type { ManualAction } from "../../rollout/rollout-state.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** A dashboard route: it checks the session cookie itself (the API's bearer hook lets it through). */
    dashboard?: boolean;
  }
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export interface DashboardOptions {
  readonly tokens: readonly ApiToken[];
  /** How often request counters are sampled for rates and charts (default 10 s; 0: only when a page renders). */
  readonly sampleMs?: number;
  readonly stream?: StreamOptions;
}

const ROLLOUT_ACTIONS: readonly ManualAction[] = ["promote", "abort", "pause", "resume"];

export function dashboardRoutes(ballast: Ballast, options: DashboardOptions): FastifyPluginAsync {
  return async (app) => {
    const assets: Assets = loadAssets();
    const sessions = new Sessions(options.tokens);
    const stream = new EventStream(ballast.events, () => ballast.clock.now(), options.stream);
    const history = new TrafficHistory();
    const sample = async () => history.add(await snapshot(ballast.metrics.registry, ballast.clock.now()));
    await sample();
    const sampleMs = options.sampleMs ?? 10_000;
    const sampler =
      sampleMs > 0 ? setInterval(() => void sample().catch(() => undefined), sampleMs) : undefined;
    sampler?.unref();
    app.addHook("onClose", async () => {
      clearInterval(sampler);
      stream.close();
    });
    // Sending a closed stream's clients away before Fastify waits for their connections to end.
    app.addHook("preClose", async () => stream.close());

    const config = { dashboard: true };
    app.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 16_384 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    app.addHook("onSend", async (request, reply) => {
      if (request.routeOptions.config.dashboard !== true) return;
      reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
      reply.header("x-content-type-options", "nosniff");
      reply.header("referrer-policy", "same-origin");
      reply.header("x-frame-options", "DENY");
    });

    const contextOf = (viewer: Viewer): PageContext => ({
      viewer,
      csrf: sessions.csrfToken(viewer),
      canOperate: may(viewer, "operate"),
      secured: !sessions.open,
      assets,
    });

    const send = (reply: FastifyReply, body: Html, status = 200) =>
      reply
        .status(status)
        .type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(body.text);

    /** The viewer, or an answer sent (login redirect, 403) and undefined. */
    const viewerFor = (request: FastifyRequest, reply: FastifyReply): Viewer | undefined => {
      const viewer = sessions.viewerOf(request);
      if (viewer === undefined) {
        if (request.method === "GET")
          void reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
        else void send(reply, html`<p class="error">Sign in first.</p>`, 401);
        return undefined;
      }
      if (!may(viewer, "read")) {
        void send(
          reply,
          page(
            contextOf(viewer),
            "Forbidden",
            "",
            html`<h1>Forbidden</h1>
              <p>
                Token '${viewer.name}' has role ${viewer.role ?? ""}; the dashboard needs viewer, operator or
                admin.
              </p>`,
          ),
          403,
        );
        return undefined;
      }
      return viewer;
    };

    /** A page: authenticated, rendered, and its errors (unknown names) shown as pages. */
    const get = <P extends Record<string, string>, Q = Record<string, string | undefined>>(
      path: string,
      render: (ctx: PageContext, params: P, query: Q, request: FastifyRequest) => Promise<Html> | Html,
    ) =>
      app.get<{ Params: P; Querystring: Q }>(path, { config }, async (request, reply) => {
        const viewer = viewerFor(request, reply);
        if (viewer === undefined) return reply;
        const ctx = contextOf(viewer);
        try {
          return send(reply, await render(ctx, request.params as P, request.query as Q, request));
        } catch (error) {
          if (!isBallastError(error)) throw error;
          return send(
            reply,
            page(
              ctx,
              "Not found",
              "",
              html`<h1>${error.code === "not_found" ? "Not found" : "Error"}</h1>
                <p class="error">${error.message}</p>`,
            ),
            statusFor(error.code),
          );
        }
      });

    /** A button's POST: operator, same origin, the session's CSRF token. */
    const post = <P extends Record<string, string>>(
      path: string,
      act: (
        ctx: PageContext,
        params: P,
        request: FastifyRequest,
        reply: FastifyReply,
      ) => Promise<FastifyReply>,
    ) =>
      app.post<{ Params: P }>(path, { config }, async (request, reply) => {
        const viewer = viewerFor(request, reply);
        if (viewer === undefined) return reply;
        const fields = (request.body ?? {}) as Record<string, unknown>;
        const given = fields[CSRF_FIELD] ?? request.headers["x-csrf-token"];
        if (!sameOrigin(request) || !sessions.csrfValid(viewer, given))
          return send(
            reply,
            html`<p class="error" role="alert">
              Refused: the form did not come from this dashboard (CSRF check). Reload the page and try again.
            </p>`,
            403,
          );
        if (!may(viewer, "operate"))
          return send(
            reply,
            html`<p class="error" role="alert">
              Token '${viewer.name}' has role ${viewer.role ?? ""}; this needs operator or admin.
            </p>`,
            403,
          );
        return act(contextOf(viewer), request.params as P, request, reply);
      });

    app.get("/assets/:hash/:name", { config }, async (request, reply) => {
      const { hash, name } = request.params as { hash: string; name: string };
      const asset = assets.byName(name);
      if (asset === undefined || asset.url !== `/assets/${hash}/${name}`)
        return reply.status(404).type("text/plain").send("no such asset");
      void reply.header("etag", asset.etag).header("cache-control", "public, max-age=31536000, immutable");
      if (request.headers["if-none-match"] === asset.etag) return reply.status(304).send();
      return reply.type(asset.type).send(asset.body);
    });

    // GET / stays a 404 for API clients (JSON), as before the dashboard; browsers get the overview.
    app.get("/", { config }, async (request, reply) => {
      if (!String(request.headers.accept ?? "").includes("text/html"))
        return reply.status(404).send({ error: "no route for GET /", code: "not_found" });
      const viewer = viewerFor(request, reply);
      if (viewer === undefined) return reply;
      const now = await snapshot(ballast.metrics.registry, ballast.clock.now());
      return send(
        reply,
        await overviewPage(ballast, contextOf(viewer), {
          now,
          before: history.before(now.at, RATE_WINDOW_MS),
        }),
      );
    });

    get("/partials/events", async () => eventsTable(await ballast.events.list({ limit: 20 })));
    get("/deployments", (ctx) => deploymentsPage(ballast, ctx));
    get<{ name: string }>("/deployments/:name", async (ctx, p) => {
      const now = await snapshot(ballast.metrics.registry, ballast.clock.now());
      return deploymentPage(ballast, ctx, p.name, [...history.all(), now]);
    });
    get("/rollouts", (ctx) => rolloutsPage(ballast, ctx));
    get<{ name: string }>("/rollouts/:name", (ctx, p) => rolloutPage(ballast, ctx, p.name));
    get("/monitors", (ctx) => monitorsPage(ballast, ctx));
    get<{ name: string }>("/monitors/:name", (ctx, p) => monitorPage(ballast, ctx, p.name));
    get("/models", (ctx) => modelsPage(ballast, ctx));
    get<{ name: string }, { a?: string; b?: string }>("/models/:name", (ctx, p, q) =>
      modelPage(ballast, ctx, p.name, q),
    );
    get("/pipelines", (ctx) => pipelinesPage(ballast, ctx));
    get<{ name: string }>("/pipelines/:name", (ctx, p) => pipelinePage(ballast, ctx, p.name));
    get<{ name: string; id: string }>("/pipelines/:name/runs/:id", (ctx, p) =>
      runPage(ballast, ctx, p.name, p.id),
    );
    get("/markets", (ctx) => marketsPage(ballast, ctx));
    get<{ name: string }>("/markets/routers/:name", (ctx, p) => routerPage(ballast, ctx, p.name));

    post<{ name: string; action: string }>("/rollouts/:name/:action", async (ctx, p, request, reply) => {
      const action = p.action as ManualAction;
      let problem: string | undefined;
      if (!ROLLOUT_ACTIONS.includes(action))
        return send(reply, html`<p class="error">unknown action ${p.action}</p>`, 400);
      try {
        await ballast.rollouts.act(p.name, action);
      } catch (error) {
        if (!isBallastError(error)) throw error;
        problem = error.message;
      }
      if (request.headers["hx-request"] !== "true")
        return reply.redirect(`/rollouts/${encodeURIComponent(p.name)}`, 303);
      const steps = strategySteps(ballast, await ballast.deployments.get(p.name));
      const panel = rolloutPanel(ctx, await ballast.rollouts.describe(p.name), steps);
      return send(
        reply,
        problem === undefined
          ? panel
          : html`${panel}
              <p class="error" role="alert">${problem}</p>`,
      );
    });

    post<{ name: string }>("/pipelines/:name/run", async (ctx, p, request, reply) => {
      const started = await ballast.pipelines.start(p.name, {
        params: {},
        trigger: { kind: "manual", reason: `started from the dashboard by ${ctx.viewer.name}` },
      });
      const notice = started.started ? `Started run ${started.runId}.` : `Not started: ${started.reason}`;
      if (request.headers["hx-request"] !== "true")
        return reply.redirect(`/pipelines/${encodeURIComponent(p.name)}`, 303);
      return send(
        reply,
        html`<div id="run-control">
          <p role="status">
            ${notice}${started.started ? html` <a href="/pipelines/${encodeURIComponent(p.name)}/runs/${encodeURIComponent(started.runId)}">Open it</a>` : ""}
          </p>
        </div>`,
      );
    });

    app.get("/events/stream", { config }, async (request, reply) => {
      const viewer = viewerFor(request, reply);
      if (viewer === undefined) return reply;
      reply.hijack();
      if (!stream.attach(reply.raw)) {
        reply.raw.writeHead(503, { "content-type": "text/plain", "retry-after": "30" });
        reply.raw.end("too many event streams open");
      }
      return reply;
    });

    app.get<{ Querystring: { next?: string } }>("/login", { config }, async (request, reply) =>
      send(reply, loginPage(assets, safeNext(request.query.next))),
    );

    app.post<{ Body: Record<string, string | undefined> }>("/login", { config }, async (request, reply) => {
      const fields = request.body ?? {};
      const next = safeNext(fields.next);
      if (!sameOrigin(request))
        return send(reply, loginPage(assets, next, "Refused: the form came from another site."), 403);
      if (sessions.open) return reply.redirect(next, 303);
      const token = sessions.login(fields.token ?? "");
      if (token === undefined)
        return send(reply, loginPage(assets, next, "That token is not one this server knows."), 401);
      const secure = request.protocol === "https" ? "; Secure" : "";
      void reply.header(
        "set-cookie",
        `${SESSION_COOKIE}=${encodeURIComponent(fields.token ?? "")}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200${secure}`,
      );
      return reply.redirect(next, 303);
    });

    post("/logout", async (_ctx, _p, _request, reply) => {
      void reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      return reply.redirect("/login", 303);
    });
  };
}

function loginPage(assets: Assets, next: string, problem?: string): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · Ballast</title>
        <link rel="icon" href="${assets.icon.url}" type="image/svg+xml" />
        <link rel="stylesheet" href="${assets.style.url}" />
      </head>
      <body>
        <main>
          <h1>Sign in to Ballast</h1>
          ${problem === undefined ? "" : html`<p class="error" role="alert">${problem}</p>`}
          <form method="post" action="/login">
            <input type="hidden" name="next" value="${next}" />
            <label for="token">API token (the same as for the API: viewer to look, operator to act)</label>
            <input
              type="password"
              id="token"
              name="token"
              autocomplete="current-password"
              required
              autofocus
            />
            <p><button type="submit">Sign in</button></p>
          </form>
        </main>
      </body>
    </html>`;
}
