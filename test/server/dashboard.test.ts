/**
 * The dashboard in-process: escaping, every page against a seeded server, GET / for API
 * clients, page weight, CSP, assets, the login with the API's tokens, CSRF and Origin checks on
 * the buttons, and the live event stream.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { get, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { escape, html, jsonBlock, raw } from "../../src/server/dashboard/html.js";
import { DURATION_BUCKETS } from "../../src/observability/inference-series.js";
import { histogramQuantile } from "../../src/server/dashboard/traffic.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { alertName } from "../../src/server/dashboard/pages/monitor.js";
import { evidenceCharts } from "../../src/server/dashboard/pages/rollout.js";
import { windowTime } from "../../src/server/dashboard/pages/monitor.js";
import { feedbackSummary } from "../../src/server/dashboard/pages/deployment.js";
import { seedDashboard, type SeededServer } from "../helpers/dashboard-seed.js";
import { FRAUD_MODEL, startTestServer } from "../helpers/app.js";
import { misalignedHeaders } from "../helpers/table-columns.js";
import { STYLE } from "../../src/server/dashboard/client-script.js";

const PAYLOADS = [
  `<script>alert(1)</script>`,
  `"><img src=x onerror=alert(1)>`,
  `' onmouseover='alert(1)`,
  "`${alert(1)}`",
  `</script><script>alert(1)</script>`,
  `&lt;already&gt;`,
];

test("html: every interpolated value is escaped, in text and in attributes; raw() and nested templates are not", () => {
  for (const p of PAYLOADS) {
    const out = html`<p title="${p}">${p}</p>`.text;
    assert.ok(!out.includes("<script>"), out);
    assert.ok(!out.includes("<img"), out);
    assert.ok(!/title="[^"]*"[^>]*on\w+=/.test(out), out);
    assert.equal(out, `<p title="${escape(p)}">${escape(p)}</p>`);
  }
  assert.equal(escape(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  assert.equal(html`<b>${html`<i>${"<"}</i>`}</b>`.text, "<b><i>&lt;</i></b>");
  assert.equal(html`${raw("<br>")}`.text, "<br>");
  assert.equal(html`${["<a>", 1, null, undefined, false]}`.text, "&lt;a&gt;1");
  // A chart's data cannot close its script element.
  const block = jsonBlock("c", { label: "</script><script>alert(1)</script>" }).text;
  assert.equal(block.match(/<\/script>/g)?.length, 1);
  assert.deepEqual(JSON.parse(block.replace(/^<script[^>]*>/, "").replace(/<\/script>$/, "")), {
    label: "</script><script>alert(1)</script>",
  });
});

test("histogramQuantile interpolates inside the bucket as Prometheus' histogram_quantile does", () => {
  const cumulative = (perBucket: number[]) => {
    let c = 0;
    return perBucket.map((n) => (c += n));
  };
  const empty = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  // 100 observations in (0.001, 0.0025]: rank 99 lies 99% of the way through that bucket.
  const one = [...empty];
  one[2] = 100;
  assert.ok(Math.abs((histogramQuantile(0.99, cumulative(one)) as number) - (0.001 + 0.0015 * 0.99)) < 1e-12);
  // 90 in the first bucket (0, 0.0005], 10 in (0.005, 0.01]: rank 99 is 9/10 into the second.
  const two = [...empty];
  two[0] = 90;
  two[4] = 10;
  assert.ok(Math.abs((histogramQuantile(0.99, cumulative(two)) as number) - (0.005 + 0.005 * 0.9)) < 1e-12);
  // Beyond the last bound: the last finite bound, as Prometheus answers.
  const inf = [...empty];
  inf[DURATION_BUCKETS.length] = 5;
  assert.equal(histogramQuantile(0.99, cumulative(inf)), 10);
  assert.equal(histogramQuantile(0.99, empty), null);
});

const HTML = { accept: "text/html,application/xhtml+xml" };

describe("dashboard pages on an open server", () => {
  let s: SeededServer;
  before(async () => {
    s = await seedDashboard();
    await s.ballast.events.record({
      kind: "Deployment",
      name: "fraud",
      reason: "Probe",
      message: `<img src=x onerror=alert(1)> "quoted"`,
    });
  });
  after(async () => {
    await s.close();
    s.restore();
  });

  test("each page answers with its content", async () => {
    const expect: Array<[string, RegExp[]]> = [
      ["/", [/Deployments \(2\)/, /href="\/deployments\/fraud"/, /Rollouts in progress \(1\)/, /StepWeight/]],
      ["/deployments", [/shop/, /fraud/]],
      ["/deployments/fraud", [/Variants/, /Requests per second/, /Recent predictions/, /Resilience/]],
      ["/rollouts", [/shop/, /Paused/]],
      ["/rollouts/shop", [/data-phase>Paused</, /aria-current="step"/, /error_rate/, /Promote/, /Abort/]],
      ["/monitors", [/fraud-drift/]],
      [
        "/monitors/fraud-drift",
        [/Drift per feature over windows/, /<th scope="row">amount<\/th>/, /class="cell d1"/],
      ],
      ["/models", [/fraud/]],
      ["/models/fraud", [/v2/, /Compare versions/]],
      ["/pipelines", [/retrain/, /Succeeded/]],
      ["/pipelines/retrain", [/Run now/, new RegExp(s.runId)]],
      [`/pipelines/retrain/runs/${s.runId}`, [/twice/, /after: data/, /emitting ab/, /length: 4/]],
      ["/markets", [/No routers/]],
    ];
    for (const [url, patterns] of expect) {
      const r = await s.app.inject({ url, headers: HTML });
      assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 300)}`);
      assert.match(String(r.headers["content-type"]), /text\/html/);
      for (const p of patterns) assert.match(r.body, p, `${url} lacks ${p}`);
    }
    const missing = await s.app.inject({ url: "/deployments/nope", headers: HTML });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /nope/);
  });

  test("numeric columns: a header over right-aligned numbers is right-aligned too", async () => {
    assert.match(STYLE, /(^|[\s,])th\.num\s*[,{][^}]*text-align:\s*right/m, "th.num is aligned right");
    assert.deepEqual(
      misalignedHeaders(
        '<table><tr><th scope="col">Name</th><th scope="col">n</th></tr><tr><td>a</td><td class="num">1</td></tr></table>',
      ),
      ["n"],
    );
    const urls = ["/", "/deployments", "/deployments/fraud", "/rollouts", "/rollouts/shop", "/monitors"];
    urls.push("/monitors/fraud-drift", "/models", "/models/fraud", "/pipelines", "/pipelines/retrain");
    let numericColumns = 0;
    for (const url of urls) {
      const body = (await s.app.inject({ url, headers: HTML })).body;
      numericColumns += (body.match(/<th scope="col" class="num">/g) ?? []).length;
      assert.deepEqual(misalignedHeaders(body), [], `${url}: headers left-aligned over numbers`);
    }
    assert.ok(numericColumns >= 15, `only ${numericColumns} numeric columns seen`);
  });

  test("recorded text is escaped on the page", async () => {
    const r = await s.app.inject({ url: "/", headers: HTML });
    assert.ok(r.body.includes("&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot;"));
    assert.ok(!r.body.includes("<img src=x"));
  });

  test("GET / stays a JSON 404 for API clients", async () => {
    for (const headers of [{}, { accept: "application/json" }]) {
      const r = await s.app.inject({ url: "/", headers });
      assert.equal(r.statusCode, 404);
      assert.deepEqual(r.json(), { error: "no route for GET /", code: "not_found" });
    }
  });

  test("no inline script, a CSP that allows only this origin, and pages within 300 KB with their scripts", async () => {
    let heaviest = 0;
    for (const url of ["/", "/deployments/fraud", "/rollouts/shop", "/monitors/fraud-drift"]) {
      const r = await s.app.inject({ url, headers: HTML });
      const csp = String(r.headers["content-security-policy"]);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /default-src 'self'/);
      assert.ok(!/https?:/.test(csp), csp);
      for (const tag of r.body.match(/<script[^>]*>/g) ?? [])
        assert.ok(/ src="\/assets\//.test(tag) || /type="application\/json"/.test(tag), tag);
      assert.ok(!/<[a-z][^>]*\son[a-z]+=/i.test(r.body), `${url} has an inline handler`);
      let weight = Buffer.byteLength(r.body);
      for (const [, src] of r.body.matchAll(/<script src="([^"]+)"/g)) {
        weight += (await s.app.inject({ url: src as string })).rawPayload.length;
      }
      heaviest = Math.max(heaviest, weight);
    }
    assert.ok(heaviest <= 300 * 1024, `heaviest page weighs ${heaviest} bytes`);
  });

  test("assets come from the packages, with an ETag and a year's cache", async () => {
    const page = (await s.app.inject({ url: "/deployments/fraud", headers: HTML })).body;
    const src = /<script src="(\/assets\/[0-9a-f]{8}\/uPlot\.iife\.min\.js)"/.exec(page)?.[1];
    assert.ok(src !== undefined);
    const r = await s.app.inject({ url: src });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers["cache-control"]), /max-age=31536000/);
    assert.match(r.body, /uPlot/);
    const again = await s.app.inject({ url: src, headers: { "if-none-match": String(r.headers.etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal((await s.app.inject({ url: "/assets/00000000/uPlot.iife.min.js" })).statusCode, 404);
  });

  test("live events: the stream sends what is recorded, heartbeats, and ends when the server closes", async () => {
    const server = await startTestServer({
      app: { dashboard: { sampleMs: 0, stream: { pollMs: 10, heartbeatMs: 20 } } },
    });
    try {
      await server.app.listen({ host: "127.0.0.1", port: 0 });
      const port = (server.app.server.address() as AddressInfo).port;
      const res = await new Promise<IncomingMessage>((resolve) =>
        get(`http://127.0.0.1:${port}/events/stream`, resolve),
      );
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /text\/event-stream/);
      let text = "";
      const ended = new Promise<void>((resolve) => res.on("end", resolve));
      const seen = (pattern: RegExp) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (pattern.test(text)) {
              res.off("data", onData);
              resolve();
            }
          };
          const onData = (chunk: Buffer) => {
            text += chunk.toString();
            check();
          };
          res.on("data", onData);
          check();
        });
      await seen(/: connected/);
      server.clock.advance(1);
      await server.ballast.events.record({
        kind: "Deployment",
        name: "fraud",
        reason: "Live",
        message: "hello",
      });
      await seen(/event: ballast\nid: [^\n]+\ndata: \{[^\n]*"reason":"Live"/);
      await seen(/: heartbeat/);
      await server.app.close();
      await ended;
    } finally {
      await server.close().catch(() => undefined);
    }
  });
});

describe("dashboard with tokens", () => {
  let s: SeededServer;
  const tokens = parseTokenFile(
    [
      `- {name: grafana, role: viewer, sha256: ${hashToken("view-t")}}`,
      `- {name: ci, role: operator, sha256: ${hashToken("op-t")}}`,
      `- {name: scorer, role: inference, sha256: ${hashToken("inf-t")}}`,
      `- {name: root, role: admin, sha256: ${hashToken("admin-t")}}`,
    ].join("\n"),
    "tokens.yaml",
  );
  before(async () => {
    s = await seedDashboard({ tokens }, "admin-t");
  });
  after(async () => {
    await s.close();
    s.restore();
  });

  const login = async (token: string) => {
    const r = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        host: "localhost",
        origin: "http://localhost",
      },
      payload: new URLSearchParams({ token, next: "/rollouts/shop" }).toString(),
    });
    return r;
  };
  const cookieOf = (r: Awaited<ReturnType<typeof login>>) =>
    String(r.headers["set-cookie"]).split(";")[0] as string;
  const csrfOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1];

  test("pages send a browser to the login form; a wrong token is refused; a right one sets an HttpOnly SameSite=Strict cookie", async () => {
    const r = await s.app.inject({ url: "/rollouts/shop", headers: HTML });
    assert.equal(r.statusCode, 303);
    assert.equal(r.headers.location, "/login?next=%2Frollouts%2Fshop");
    assert.equal((await login("wrong")).statusCode, 401);
    const ok = await login("view-t");
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, "/rollouts/shop");
    const cookie = String(ok.headers["set-cookie"]);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await s.app.inject({ url: "/rollouts/shop", headers: { ...HTML, cookie: cookieOf(ok) } });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /signed in as grafana/);
    // A viewer sees no buttons.
    assert.ok(!page.body.includes("Promote"));
    // The cookie opens the dashboard, not the API: API clients still present a bearer token.
    assert.equal(
      (await s.app.inject({ url: "/api/v1/deployments", headers: { cookie: cookieOf(ok) } })).statusCode,
      401,
    );
    // An inference token reads nothing.
    const inf = await s.app.inject({
      url: "/",
      headers: { ...HTML, cookie: cookieOf(await login("inf-t")) },
    });
    assert.equal(inf.statusCode, 403);
    // Only paths on this server are followed after login.
    const evil = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "token=view-t&next=%2F%2Fevil.example%2F",
    });
    assert.equal(evil.headers.location, "/");
  });

  test("a button needs operator, the session's CSRF token and this origin; then the rollout changes", async () => {
    const viewer = cookieOf(await login("view-t"));
    const viewerCsrf = csrfOf((await s.app.inject({ url: "/", headers: { ...HTML, cookie: viewer } })).body);
    assert.ok(viewerCsrf !== undefined); // the sign-out form carries it
    const post = (cookie: string, fields: Record<string, string>, origin = "http://localhost") =>
      s.app.inject({
        method: "POST",
        url: "/rollouts/shop/promote",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          host: "localhost",
          origin,
          cookie,
          "hx-request": "true",
        },
        payload: new URLSearchParams(fields).toString(),
      });
    assert.equal((await post(viewer, { _csrf: viewerCsrf })).statusCode, 403);
    const operator = cookieOf(await login("op-t"));
    const page = await s.app.inject({ url: "/rollouts/shop", headers: { ...HTML, cookie: operator } });
    const csrf = csrfOf(page.body) as string;
    assert.ok(page.body.includes("Promote"));
    assert.equal((await post(operator, {})).statusCode, 403);
    assert.equal((await post(operator, { _csrf: viewerCsrf })).statusCode, 403, "another session's token");
    assert.equal((await post(operator, { _csrf: csrf }, "http://evil.example")).statusCode, 403);
    assert.equal((await s.ballast.rollouts.describe("shop")).rollout?.phase, "Paused");
    const done = await post(operator, { _csrf: csrf });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /data-phase>Succeeded</);
    assert.equal((await s.ballast.rollouts.describe("shop")).rollout?.phase, "Succeeded");
    // Again on an ended rollout: the panel says why.
    const again = await post(operator, { _csrf: csrf });
    assert.match(again.body, /role="alert"/);
  });
});

test("the model page compares the versions ?a= and ?b= name, the latest two without them, and names a version the model lacks", async () => {
  const s = await startTestServer();
  try {
    // v1 is registered by the helper; v2 and v3 with metrics that tell the versions apart.
    for (const [i, auc] of [0.8, 0.9].entries()) {
      const artifactPath = join(s.dataDir, `fraud-v${i + 2}.json`);
      await writeFile(artifactPath, JSON.stringify({ ...FRAUD_MODEL, intercept: -2 - 2 * i }));
      await s.ballast.registry.registerVersion({ model: "fraud", artifactPath, metrics: { auc } });
    }
    const compared = async (query: string) => {
      const r = await s.app.inject({ url: `/models/fraud${query}`, headers: HTML });
      assert.equal(r.statusCode, 200, r.body.slice(0, 300));
      const table = r.body.slice(r.body.indexOf("<h2>Compare versions</h2>"));
      const heads = [...table.matchAll(/<th scope="col">(v\d+)<\/th>/g)].map((m) => m[1]);
      const auc = /<td>metric auc<\/td>\s*<td>([^<]*)<\/td>\s*<td>([^<]*)<\/td>\s*<td>([^<]*)<\/td>/.exec(
        table,
      );
      const selected = (id: string) =>
        new RegExp(`<select id="${id}"[^>]*>[\\s\\S]*?<option value="(\\d+)"\\s+selected`).exec(table)?.[1];
      return { heads, auc: auc?.slice(1), selected: [selected("cmp-a"), selected("cmp-b")] };
    };
    assert.deepEqual(await compared(""), {
      heads: ["v2", "v3"],
      auc: ["0.8", "0.9", "0.1"],
      selected: ["2", "3"],
    });
    assert.deepEqual(await compared("?a=1&b=3"), {
      heads: ["v1", "v3"],
      auc: ["—", "0.9", "—"],
      selected: ["1", "3"],
    });
    assert.deepEqual(await compared("?a=3&b=2"), {
      heads: ["v3", "v2"],
      auc: ["0.9", "0.8", "-0.1"],
      selected: ["3", "2"],
    });
    const unknown = await s.app.inject({ url: "/models/fraud?a=1&b=7", headers: HTML });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.body, /fraud has no version 7 \(b=7\)/);
  } finally {
    await s.close();
  }
});

test("an alert reads as its name and the labels that tell it apart, escaped; anything else as it came", () => {
  const identity = JSON.stringify([
    ["alertname", "BallastPerformanceDegraded"],
    ["deployment", "fraud"],
    ["monitor", "fraud-auc"],
    ["severity", "critical"],
    ["variant", "<stable>"],
  ]);
  assert.equal(
    String(alertName(identity)),
    '<strong>BallastPerformanceDegraded</strong> <span class="muted">severity=critical, variant=&lt;stable&gt;</span>',
  );
  assert.equal(alertName("not json"), "not json");
  assert.equal(alertName('{"a":1}'), '{"a":1}');
});

test("a rollout's evidence: per gate its statistic against its boundary, named as declared; then the weight", () => {
  const event = (at: number, rollout: string, details: Record<string, unknown>) =>
    ({
      id: String(at),
      at,
      kind: "Deployment",
      name: "shop",
      type: "Normal",
      reason: "Analysis",
      message: "",
      details: { rollout, ...details },
    }) as unknown as Parameters<typeof evidenceCharts>[0][number];
  const events = [
    event(1000, "r1", {
      weight: 5,
      gates: [
        { observed: { harm: 0.01, harmUpperBound: 0.2 } },
        { observed: { canary: 40, stable: 35, max: 100 } },
      ],
    }),
    event(2000, "r0", { weight: 50, gates: [{ observed: { harm: 9 } }] }),
    event(3000, "r1", {
      weight: 25,
      gates: [
        { observed: { harm: 0.002, harmUpperBound: 0.008 } },
        { observed: { canary: 120, stable: 36, max: 100 } },
      ],
    }),
  ];
  const charts = evidenceCharts(events, "r1", [
    { metric: "error_rate", margin: 0.01 } as never,
    { metric: "latency_p99", max: 100 } as never,
  ]);
  assert.deepEqual(
    charts.map((c) => c.title),
    [
      "error_rate: harm (canary − stable) and its always-valid upper bound against the margin",
      "latency_p99: canary against its maximum",
      "Canary weight (%)",
    ],
  );
  assert.deepEqual(charts[0]?.x, [1, 3]);
  assert.deepEqual(
    charts[0]?.series.map((s) => [s.label, s.values]),
    [
      ["harm", [0.01, 0.002]],
      ["upper bound", [0.2, 0.008]],
      ["margin", [0.01, 0.01]],
    ],
  );
  assert.deepEqual(
    charts[1]?.series.map((s) => s.values),
    [
      [40, 120],
      [35, 36],
      [100, 100],
    ],
  );
  assert.deepEqual(charts[2]?.series[0]?.values, [5, 25], "another rollout's analyses are not drawn");
});

test("a drift window is drawn at its first row, else when it closed; a count window's start (a row ordinal) never", () => {
  const w = {
    monitor: "m",
    deployment: "d",
    variant: "stable",
    model: "x",
    version: 1,
    start: 5000,
    end: 10000,
    rows: 5000,
    drift: null,
  };
  assert.equal(
    windowTime({ ...w, firstAt: 1_700_000_000_000, closedAt: 1_700_000_100_000 }),
    1_700_000_000_000,
  );
  assert.equal(windowTime({ ...w, closedAt: 1_700_000_100_000 }), 1_700_000_100_000);
  assert.equal(windowTime(w), 5000, "an old window without either keeps its start");
});

test("a request's feedback reads one line per kind with its values counted, most first", () => {
  const labels = [
    ...Array.from({ length: 98 }, () => ({ kind: "label", label: 0 })),
    { kind: "label", label: 1 },
    { kind: "label", label: 1 },
  ];
  assert.deepEqual(feedbackSummary([...labels, { kind: "reward", value: 0.5 }]), [
    "label: 0 ×98, 1 ×2",
    "reward: 0.5",
  ]);
  const many = ["a", "b", "c", "d", "e", "f"].map((label) => ({ kind: "label", label }));
  assert.deepEqual(feedbackSummary(many), ["label: a, b, c, d, … 2 more"]);
});
