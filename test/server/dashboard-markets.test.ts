/**
 * The markets pages against a server with an instrument, a markov-switching classifier and a
 * router over two specialists: bars posted through the instruments API, the router asked at a
 * calm and at a turbulent bar, then the next bar bringing the outcomes. The pages show the
 * regimes, the logged weights, the loss table's numbers and the transition matrix.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../helpers/app.js";
import {
  apply,
  askAcrossRegimes,
  BASE,
  CALM,
  deploySpecialists,
  MARKET_BARS,
  MARKET_START,
  registerClassifier,
  router,
  W,
} from "../helpers/router-fixtures.js";
import { answerAxis, expectedDuration, regimeBands } from "../../src/server/dashboard/pages/markets.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { escape } from "../../src/server/dashboard/html.js";
import { misalignedHeaders } from "../helpers/table-columns.js";

const HTML = { accept: "text/html,application/xhtml+xml" };
const DAY = 86_400_000;

/** The JSON block behind the chart with this title. */
function chartData(body: string, title: string) {
  const at = body.indexOf(`aria-label="${escape(title)}"`);
  assert.ok(at >= 0, `no chart "${title}"`);
  const block = /<script type="application\/json" id="[^"]+">([\s\S]*?)<\/script>/.exec(body.slice(at));
  assert.ok(block !== null);
  return JSON.parse(block[1] as string) as {
    x: number[];
    series: Array<{ label: string; values: Array<number | null> }>;
    bands?: Array<{ from: number; to: number; label: string }>;
  };
}

test("regimeBands: one band per run of answers in a regime; expected duration 1/(1-p)", () => {
  const row = (origin: number | null, regime: number) => ({
    router: "r",
    requestId: String(origin),
    at: 0,
    origin,
    regime,
    probabilities: [],
    weights: {},
    forecasts: {},
  });
  assert.deepEqual(
    regimeBands([row(1000, 0), row(2000, 0), row(null, 1), row(3000, 1), row(5000, 0)], ["calm", "storm"]),
    [
      { from: 1, to: 3, label: "calm" },
      { from: 3, to: 5, label: "storm" },
      { from: 5, to: 5, label: "calm" },
    ],
  );
  assert.equal(expectedDuration(0.95), 1 / (1 - 0.95));
  // At the bars when every answer has an origin and they run forward; else when answered.
  const at = (origin: number | null, when: number) => ({ ...row(origin, 0), at: when });
  assert.deepEqual(answerAxis([at(1000, 9000), at(1000, 9500), at(3000, 9900)]), {
    x: [1, 1, 3],
    over: "bars",
  });
  assert.deepEqual(answerAxis([at(1000, 9000), at(null, 9500)]), { x: [9, 9.5], over: "answers" });
  assert.deepEqual(answerAxis([at(3000, 9000), at(1000, 9500)]), { x: [9, 9.5], over: "answers" });
  assert.equal(expectedDuration(1), null);
});

describe("markets pages", () => {
  let s: TestServer;
  const bars = MARKET_BARS;
  before(async () => {
    s = await startTestServer({ deploy: false });
    await deploySpecialists(s);
    await registerClassifier(s);
    const res = await apply(s, router("wired", { ...BASE, mode: "soft", instrument: "cac", scale: 100 }));
    assert.equal(res.statusCode, 200, res.body);
    // Asked at the last calm bar, then at the last turbulent bar; the final bar is the outcome.
    await askAcrossRegimes(s, "wired", [[CALM], [CALM]]);
  });
  after(async () => {
    await s.close();
  });

  test("/markets lists the router with its regime now, mode, specialists and instrument, and the instrument", async () => {
    const r = await s.app.inject({ url: "/markets", headers: HTML });
    assert.equal(r.statusCode, 200);
    const view = (await s.app.inject({ url: "/api/v1/routers/wired" })).json();
    const row = /<tr>\s*<td><a href="\/markets\/routers\/wired">wired<\/a><\/td>([\s\S]*?)<\/tr>/.exec(
      r.body,
    );
    assert.ok(row !== null, r.body);
    const cells = [...(row[1] as string).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) =>
      (m[1] as string).trim(),
    );
    assert.equal(cells[0], view.live.regime);
    assert.equal(cells[0], "turbulent");
    assert.equal(cells[1], `${Number((view.live.probabilities.turbulent * 100).toPrecision(3))}%`);
    assert.deepEqual(cells.slice(2, 5), ["soft", "ewma, last", "cac"]);
    assert.equal(cells[5], "2");
    assert.match(r.body, new RegExp(`<td>cac</td>\\s*<td class="num">${bars.length}</td>`));
  });

  test("a router's page: price with regime bands, probabilities and weights from its answers, loss table, transition matrix", async () => {
    const r = await s.app.inject({ url: "/markets/routers/wired", headers: HTML });
    assert.equal(r.statusCode, 200, r.body);
    const answers = await s.ballast.routers.recentAnswers("wired", 10);
    assert.equal(answers.length, 2);

    const price = chartData(r.body, "Regime over the price of cac (last 500 bars)");
    assert.equal(price.x.length, bars.length);
    assert.equal(price.series[0]?.values.at(-1), bars.at(-1)?.close);
    // The calm answer at bar W, the turbulent one at bar 2W: two bands, in that order.
    assert.deepEqual(
      price.bands?.map((b) => b.label),
      answers.map((a) => ["calm", "turbulent"][a.regime]),
    );
    assert.deepEqual(
      price.bands?.map((b) => b.label),
      ["calm", "turbulent"],
    );
    assert.equal(price.bands?.[0]?.from, (MARKET_START + W * DAY) / 1000);
    assert.equal(price.bands?.[0]?.to, (MARKET_START + 2 * W * DAY) / 1000);

    // Answers with origins are drawn at their bars: the same axis as the price.
    const probabilities = chartData(r.body, "Regime probabilities over bars");
    assert.deepEqual(
      probabilities.x,
      answers.map((a) => (a.origin as number) / 1000),
    );
    assert.deepEqual(
      probabilities.series.map((x) => x.label),
      ["calm", "turbulent"],
    );
    assert.deepEqual(
      probabilities.series[1]?.values,
      answers.map((a) => a.probabilities[1]),
    );
    assert.ok((probabilities.series[1]?.values[1] as number) > 0.5);

    const weights = chartData(r.body, "Router weights per specialist over bars");
    assert.deepEqual(
      weights.series.map((x) => x.label),
      ["ewma", "last"],
    );
    assert.deepEqual(
      weights.series[1]?.values,
      answers.map((a) => a.weights.last),
    );

    // Every model's loss in the table is the performance API's, to four significant digits.
    const perf = (await s.app.inject({ url: "/api/v1/routers/wired/performance?by=regime" })).json();
    let rows = 0;
    for (const [regime, models] of Object.entries(
      perf.regimes as Record<string, Array<Record<string, number | string>>>,
    ))
      for (const m of models) {
        rows++;
        const q = m.qlike === null ? "—" : String(Number((m.qlike as number).toPrecision(4)));
        assert.match(
          r.body,
          new RegExp(
            `<td>${regime}</td>\\s*<td>\\s*${m.model}\\b[^<]*(?:<span[^>]*>[^<]*</span>\\s*)?</td>\\s*<td class="num">${m.n}</td>\\s*<td class="num">${q.replace(".", "\\.")}</td>`,
          ),
          `${regime} ${m.model}`,
        );
      }
    assert.ok(rows >= 3, JSON.stringify(perf));

    // Champion per regime as the API names it; the transition matrix and durations (1/(1-p)).
    const view = (await s.app.inject({ url: "/api/v1/routers/wired" })).json();
    for (const g of ["calm", "turbulent"])
      assert.match(r.body, new RegExp(`<tr>\\s*<td>${g}</td>\\s*<td>${view.champions[g]}</td>`));
    assert.match(
      r.body,
      /<th scope="row">calm<\/th>\s*<td class="num">0\.95<\/td>\s*<td class="num">0\.05<\/td>\s*<td class="num">20<\/td>/,
    );
    assert.match(
      r.body,
      /<th scope="row">turbulent<\/th>\s*<td class="num">0\.1<\/td>\s*<td class="num">0\.9<\/td>\s*<td class="num">10<\/td>/,
    );
  });

  test("numeric columns on the markets pages have right-aligned headers", async () => {
    for (const url of ["/markets", "/markets/routers/wired"]) {
      const body = (await s.app.inject({ url, headers: HTML })).body;
      assert.match(body, /<th scope="col" class="num">/, url);
      assert.deepEqual(misalignedHeaders(body), [], `${url}: headers left-aligned over numbers`);
    }
  });

  test("an unknown router is a 404 page", async () => {
    const r = await s.app.inject({ url: "/markets/routers/%3Cb%3Enope", headers: HTML });
    assert.equal(r.statusCode, 404);
    assert.match(r.body, /Not found/);
    assert.ok(!r.body.includes("<b>nope"));
  });
});

describe("markets pages with tokens", () => {
  let s: TestServer;
  before(async () => {
    const tokens = parseTokenFile(
      `- {name: grafana, role: viewer, sha256: ${hashToken("view-t")}}`,
      "tokens.yaml",
    );
    s = await startTestServer({ deploy: false, app: { tokens } });
  });
  after(async () => {
    await s.close();
  });

  test("the pages send a browser without a session to the login form", async () => {
    for (const url of ["/markets", "/markets/routers/wired"]) {
      const r = await s.app.inject({ url, headers: HTML });
      assert.equal(r.statusCode, 303, url);
      assert.equal(r.headers.location, `/login?next=${encodeURIComponent(url)}`);
    }
  });
});
