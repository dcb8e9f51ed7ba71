// Market data over HTTP: POST bars (idempotent, bad fields named, batches bounded), the reads,
// the roles, and the indicator series in /metrics.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestServer, type TestServer } from "../helpers/app.js";
import { hashToken, parseTokenFile } from "../../src/server/tokens.js";
import { IndicatorSet } from "../../src/markets/indicators.js";

describe("instruments API", () => {
  let s: TestServer;
  const tokens = parseTokenFile(
    [
      `- {name: grafana, role: viewer, sha256: ${hashToken("view-t")}}`,
      `- {name: feed, role: operator, sha256: ${hashToken("op-t")}}`,
    ].join("\n"),
    "tokens.yaml",
  );
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  before(async () => {
    s = await startTestServer({ deploy: false, app: { tokens } });
  });
  after(async () => s.close());

  const post = (id: string, body: unknown, token = "op-t") =>
    s.app.inject({
      method: "POST",
      url: `/api/v1/instruments/${id}/bars`,
      payload: body as object,
      headers: as(token),
    });
  const get = (url: string, token = "view-t") => s.app.inject({ method: "GET", url, headers: as(token) });

  const closes = [100, 101, 101, 99.5, 102, 103.25, 103.25, 103.25, 104];
  const bars = closes.map((close, i) => ({ time: `2026-01-${String(i + 5).padStart(2, "0")}`, close }));

  test("POST bars: accepted, then the same again is all duplicates; the answer carries the newest indicators", async () => {
    const first = await post("sp500", { bars, config: { windows: [3], efficiencyPeriod: 5 } });
    assert.equal(first.statusCode, 200, first.body);
    const body = first.json();
    assert.equal(body.accepted, closes.length);
    assert.equal(body.repeated, 3);
    const set = new IndicatorSet({ windows: [3], efficiencyPeriod: 5 });
    let want;
    for (const [i, close] of closes.entries()) want = set.update({ time: Date.parse(bars[i]!.time), close });
    assert.equal(body.last.time, Date.parse("2026-01-13T00:00:00Z"));
    assert.equal(body.last.ewmaVolatility, want!.ewmaVolatility);
    assert.equal(body.last.realizedVolatility["3"], want!.realizedVolatility[0]);

    const again = (await post("sp500", { bars })).json();
    assert.deepEqual([again.accepted, again.duplicates, again.reordered], [0, closes.length, 0]);
    assert.equal(again.last.time, body.last.time);
  });

  test("bad fields are refused with 400 naming the row and field; nothing of the batch is stored", async () => {
    const cases: Array<[unknown, RegExp, string]> = [
      [
        {
          bars: [
            { time: 1, close: 1 },
            { time: 2, close: "NaN" },
          ],
        },
        /bars\[1\]\.close must be a finite number > 0/,
        "bars[1].close",
      ],
      [
        { bars: [{ time: 1, close: -3 }] },
        /bars\[0\]\.close must be a finite number > 0, got -3/,
        "bars[0].close",
      ],
      [
        { bars: [{ time: 1, close: 5, high: 4, low: 6 }] },
        /bars\[0\]\.high 4 is below its low 6/,
        "bars[0].high",
      ],
      [
        { bars: [{ time: 1, close: 5, high: 4.5 }] },
        /bars\[0\]\.high 4.5 is below its close 5/,
        "bars[0].high",
      ],
      [
        { bars: [{ time: "yesterday", close: 5 }] },
        /bars\[0\]\.time must be a finite number or an ISO 8601 date/,
        "bars[0].time",
      ],
      [{ bars: [{ close: 5 }] }, /bars\[0\]\.time must be/, "bars[0].time"],
      [
        { bars: [{ time: 1, close: 5, volume: -1 }] },
        /bars\[0\]\.volume must be a finite number >= 0/,
        "bars[0].volume",
      ],
      [
        { bars: [{ time: 1, close: 5, price: 5 }] },
        /bars\[0\] has an unknown field 'price'/,
        "bars[0].price",
      ],
      [
        { bars: [{ time: 1, close: 5 }], config: { windows: [0] } },
        /windows\[0\] must be an integer/,
        "windows[0]",
      ],
    ];
    for (const [body, message, field] of cases) {
      const r = await post("bad", body);
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().error, message);
      assert.equal(r.json().details?.field, field);
    }
    // NaN is not JSON: a body carrying it is refused as such.
    const nan = await s.app.inject({
      method: "POST",
      url: "/api/v1/instruments/bad/bars",
      payload: '{"bars":[{"time":1,"close":NaN}]}',
      headers: { ...as("op-t"), "content-type": "application/json" },
    });
    assert.equal(nan.statusCode, 400);
    const id = await post("no%20spaces", { bars: [{ time: 1, close: 1 }] });
    assert.equal(id.statusCode, 400);
    assert.match(id.json().error, /instrument id 'no spaces' is not valid/);
    assert.equal(
      (await get("/api/v1/instruments/bad")).statusCode,
      404,
      "nothing stored from refused batches",
    );
  });

  test("a batch over 10,000 bars is 413 naming the limit", async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ time: i, close: 1 }));
    const r = await post("big", { bars: many });
    assert.equal(r.statusCode, 413);
    assert.match(r.json().error, /a batch holds at most 10000 bars, got 10001/);
  });

  test("a conflicting bar is 409 naming its time; a bar beyond the tolerance is 400", async () => {
    const r = await post("sp500", { bars: [{ ...bars[2], close: 150 }] });
    assert.equal(r.statusCode, 409);
    assert.match(r.json().error, new RegExp(`at ${Date.parse(bars[2]!.time)} differs from the bar stored`));
    const tooLate = await post("sp500", { bars: [{ time: "2026-01-01", close: 90 }] });
    assert.equal(tooLate.statusCode, 400);
    assert.match(tooLate.json().error, /older than the instrument's newest bar .* \(reorderTolerance\)/);
  });

  test("reads: list, one, bars and indicators by range, paged", async () => {
    const list = (await get("/api/v1/instruments")).json();
    assert.deepEqual(
      list.instruments.map((i: { id: string }) => i.id),
      ["sp500"],
    );
    const one = (await get("/api/v1/instruments/sp500")).json();
    assert.equal(one.bars, closes.length);
    assert.deepEqual(one.config.windows, [3]);
    assert.equal(one.last.bar.close, 104);
    const from = Date.parse("2026-01-07");
    const page = (await get(`/api/v1/instruments/sp500/bars?from=2026-01-07&limit=3`)).json();
    assert.deepEqual(
      page.bars.map((b: { close: number }) => b.close),
      [101, 99.5, 102],
    );
    assert.equal(page.next, from + 3 * 86_400_000);
    const rest = (await get(`/api/v1/instruments/sp500/indicators?from=${page.next}`)).json();
    assert.equal(rest.indicators.length, 4);
    assert.equal(rest.next, null);
    // closes 103.25, 103.25, 103.25, 104 from the 10th of January
    assert.deepEqual(
      rest.indicators.map((x: { repeated: boolean }) => x.repeated),
      [false, true, true, false],
    );
    assert.equal((await get("/api/v1/instruments/sp500/bars?limit=0")).statusCode, 400);
    assert.equal((await get("/api/v1/instruments/nope")).statusCode, 404);
  });

  test("a viewer reads but cannot write; an operator writes", async () => {
    const r = await post("sp500", { bars: [{ time: "2026-02-01", close: 100 }] }, "view-t");
    assert.equal(r.statusCode, 403);
    const put = await s.app.inject({
      method: "PUT",
      url: "/api/v1/instruments/fx",
      payload: { windows: [10, 20], reorderTolerance: 2 },
      headers: as("op-t"),
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json().config.windows, [10, 20]);
    const change = await s.app.inject({
      method: "PUT",
      url: "/api/v1/instruments/sp500",
      payload: { windows: [10] },
      headers: as("op-t"),
    });
    assert.equal(change.statusCode, 409);
    assert.match(change.json().error, /only reorderTolerance can change now/);
  });

  test("/metrics carries each instrument's indicators and the counts of bars", async () => {
    const text = (await s.app.inject("/metrics")).body;
    const one = (await get("/api/v1/instruments/sp500")).json();
    const line = (name: string) => new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
    assert.equal(
      Number(line('ballast_instrument_ewma_volatility\\{instrument="sp500"\\}')),
      one.last.indicators.ewmaVolatility,
    );
    assert.equal(
      Number(line('ballast_instrument_realized_volatility\\{instrument="sp500",window="3"\\}')),
      one.last.indicators.realizedVolatility["3"],
    );
    assert.equal(Number(line('ballast_instrument_drawdown\\{instrument="sp500"\\}')), 0);
    assert.equal(Number(line('ballast_instrument_bars\\{instrument="sp500"\\}')), closes.length);
    assert.equal(Number(line('ballast_instrument_bars_total\\{outcome="accepted"\\}')), closes.length);
    assert.equal(Number(line('ballast_instrument_bars_total\\{outcome="duplicate"\\}')), closes.length);
    assert.equal(Number(line("ballast_instrument_bars_repeated_total")), 3);
    assert.equal(Number(line('ballast_instrument_bars_refused_total\\{reason="too_large"\\}')), 1);
    assert.equal(Number(line('ballast_instrument_bars_refused_total\\{reason="conflict"\\}')), 1);
    assert.equal(Number(line('ballast_instrument_bars_refused_total\\{reason="too_late"\\}')), 1);
    assert.equal(Number(line("ballast_instruments_unexported")), 0);
    assert.equal(
      Number(line('ballast_instrument_efficiency_ratio\\{instrument="sp500"\\}')),
      one.last.indicators.efficiencyRatio,
    );
    // |104 - 99.5| / (2.5 + 1.25 + 0 + 0 + 0.75) over the last five changes: a straight climb.
    assert.equal(one.last.indicators.efficiencyRatio, 1);
  });
});
