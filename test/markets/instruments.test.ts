// Market data in: appends are idempotent by time, late bars are taken within the tolerance and
// refused beyond it, every bar's indicators equal one uninterrupted IndicatorSet run over the same
// bars (across restarts and late arrivals), and listeners hear each batch once, after the commit.
import assert from "node:assert/strict";
import { before, after, test } from "node:test";
import { Instruments, type AcceptedBar } from "../../src/application/instruments.js";
import { InstrumentStore } from "../../src/markets/instrument-store.js";
import { IndicatorSet } from "../../src/markets/indicators.js";
import { snapshotOf, indicatorConfigOf, parseInstrumentConfig } from "../../src/markets/instrument.js";
import { openStore } from "../../src/store/db.js";
import { BallastError } from "../../src/domain/errors.js";
import { describeStores, type OpenedStore } from "../helpers/stores.js";
import { series } from "./data.js";

const clock = { now: () => 1_700_000_000_000 };
const dax = series("eustockmarkets.csv", "DAX");
const times = series("eustockmarkets.csv", "t");
/** DAX closes with a made-up high and low around them, so ATR runs too. */
const bars = dax.map((close, i) => ({
  time: times[i] as number,
  close,
  high: close * 1.004,
  low: close * 0.997,
}));

/** The indicators a single uninterrupted run gives after each bar. */
function reference(config: unknown, upTo = bars.length) {
  const c = parseInstrumentConfig(config);
  const set = new IndicatorSet(indicatorConfigOf(c));
  return bars.slice(0, upTo).map((b) => snapshotOf(set.update(b), c.windows));
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BallastError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "ok";
}

describeStores("instruments", (storeCase) => {
  let opened: OpenedStore & { url?: string };
  let instruments: Instruments;
  before(async () => {
    opened = await storeCase.open();
    instruments = new Instruments(new InstrumentStore(opened.store), clock);
  });
  after(async () => opened.cleanup());

  const config = { windows: [5, 20], reorderTolerance: 3 };

  test("batches in any split, re-posted, resumed after a restart: the indicators of one uninterrupted run", async () => {
    const heard: Array<{ instrument: string; accepted: readonly AcceptedBar[] }> = [];
    const stop = instruments.onBars((instrument, accepted) => void heard.push({ instrument, accepted }));
    const first = await instruments.appendBars("dax", bars.slice(0, 700), config);
    assert.equal(first.accepted, 700);
    assert.equal(heard.length, 1, "one call per batch");
    assert.equal(heard[0]?.accepted.length, 700);
    assert.equal(heard[0]?.accepted[0]?.logReturn, null, "the first bar has no return");

    // The same batch again changes nothing, and no listener hears it.
    const again = await instruments.appendBars("dax", bars.slice(0, 700));
    assert.deepEqual([again.accepted, again.duplicates], [0, 700]);
    assert.equal(heard.length, 1);
    stop();

    // A restart: a new store connection and a new service resume from the stored state.
    await opened.store.close();
    const reopened = await openStore({ dataDir: opened.dataDir, url: opened.url });
    const cleanup = opened.cleanup;
    opened = { ...opened, store: reopened, cleanup: async () => (await reopened.close(), await cleanup()) };
    instruments = new Instruments(new InstrumentStore(opened.store), clock);
    // Overlapping the stored bars by 10 and reaching to the end, in chunks of 400.
    for (let start = 690; start < bars.length; start += 400)
      await instruments.appendBars("dax", bars.slice(start, start + 400));

    const want = reference(config);
    const stored = await instruments.bars("dax", { limit: 10_000 });
    assert.equal(stored.length, bars.length);
    // Exactly: the state resumes bit for bit, so no tolerance.
    assert.deepEqual(
      stored.map((s) => s.indicators),
      want,
    );
    const shown = await instruments.get("dax");
    assert.equal(shown.bars, bars.length);
    assert.deepEqual(shown.last?.indicators, want[want.length - 1]);
  });

  test("a GARCH model in the config: its conditional volatility after every bar, the hand recursion's", async () => {
    const model = {
      kind: "gjr",
      params: { mu: 0.05, omega: 0.02, alpha: 0.05, gamma: 0.06, beta: 0.9 },
      state: { lastResidual: 0, lastVariance: 1, observations: 0 },
    };
    const garchConfig = {
      garch: { format: "ballast.builtin/v1", kind: "garch", garch: model },
      garchScale: 100,
      skipRepeats: true,
    };
    for (let start = 0; start < 900; start += 300)
      await instruments.appendBars("dax-garch", bars.slice(start, start + 300), garchConfig);
    const stored = await instruments.bars("dax-garch", { limit: 900 });
    // h' = omega + (alpha + gamma [z < 0]) z^2 + beta h, z = 100 r - mu; a repeated close moves nothing.
    const { mu, omega, alpha, gamma, beta } = model.params;
    let z = 0;
    let h = 1;
    const next = () => omega + (alpha + (z < 0 ? gamma : 0)) * z * z + beta * h;
    stored.forEach((s, i) => {
      const r = s.indicators.logReturn;
      if (r !== null && !s.indicators.repeated) {
        h = next();
        z = 100 * r - mu;
      }
      const want = Math.sqrt(next());
      const got = s.indicators.garchVolatility as number;
      assert.ok(Math.abs(got - want) <= 1e-12 * want, `bar ${i}: ${got} vs ${want}`);
    });
    assert.ok(
      stored.some((s) => s.indicators.repeated),
      "the stretch has repeated closes",
    );

    assert.match(
      await code(instruments.appendBars("dax-bad", bars.slice(0, 2), { garch: { kind: "nope" } })),
      /^invalid_argument: garch: /,
    );
    // A hostile value is quoted, not echoed: the message stays short.
    const long = await code(
      instruments.appendBars("dax-bad", bars.slice(0, 2), { garch: { kind: "x".repeat(100_000) } }),
    );
    assert.match(long, /^invalid_argument: garch: kind must be garch or gjr, got "xxx/);
    assert.ok(long.length < 200, long.slice(0, 300));
    assert.match(
      await code(instruments.appendBars("dax-bad", bars.slice(0, 2), { garchScale: 0 })),
      /^invalid_argument: garchScale must be a positive number, got 0/,
    );
  });

  test("an instrument stored before garch existed reads with its defaults and takes the same config", async () => {
    await instruments.appendBars("dax-old", bars.slice(0, 3), config);
    const { garch: _garch, garchScale: _scale, ...before } = (await instruments.get("dax-old")).config;
    await opened.store.db
      .updateTable("instruments")
      .set({ config: JSON.stringify(before) })
      .where("id", "=", "dax-old")
      .execute();
    const read = await instruments.get("dax-old");
    assert.deepEqual([read.config.garch, read.config.garchScale], [null, 1]);
    const more = await instruments.appendBars("dax-old", bars.slice(3, 6), config);
    assert.equal(more.accepted, 3);
  });

  test("repeated closes are flagged: as many as equal consecutive closes in the file", async () => {
    const stored = await instruments.bars("dax", { limit: 10_000 });
    const expected = dax.filter((c, i) => i > 0 && c === dax[i - 1]).length;
    assert.ok(expected > 10, `EuStockMarkets fills holidays (${expected})`);
    assert.equal(stored.filter((s) => s.indicators.repeated).length, expected);
  });

  test("late bars within the tolerance land in place and later bars are recomputed; beyond it, refused", async () => {
    const late = { windows: [5], reorderTolerance: 3 };
    const n = 40;
    // Bars 0..n-1 except 37 and 33 arrive first.
    await instruments.appendBars(
      "late",
      bars.slice(0, n).filter((_, i) => i !== 37 && i !== 33),
      late,
    );
    // Bar 37 is 2 bars late (38, 39 after it): taken.
    const taken = await instruments.appendBars("late", [bars[37]]);
    assert.deepEqual([taken.accepted, taken.reordered], [1, 1]);
    // Bar 33 has 5 stored bars after it (34, 35, 36, 37... ): beyond a tolerance of 3.
    const refused = await code(instruments.appendBars("late", [bars[33]]));
    assert.match(refused, /^invalid_argument: bars\[0\] at .* by more than 3 bar\(s\) \(reorderTolerance\)/);
    // A batch with bars out of order within it is sorted.
    await instruments.appendBars("late", [bars[n + 1], bars[n], bars[n + 2]]);
    const stored = await instruments.bars("late", { limit: 100 });
    const set = new IndicatorSet(indicatorConfigOf(parseInstrumentConfig(late)));
    const kept = bars.slice(0, n + 3).filter((_, i) => i !== 33);
    const want = kept.map((b) => snapshotOf(set.update(b), [5]));
    assert.deepEqual(
      stored.map((s) => s.bar.time),
      kept.map((b) => b.time),
    );
    assert.deepEqual(
      stored.map((s) => s.indicators),
      want,
      "recomputed after the late bar, as if it had come in order",
    );
  });

  test("a bar that differs from the stored one at its time is a conflict naming the time", async () => {
    const b = bars[5] as (typeof bars)[number];
    const changed = await code(instruments.appendBars("dax", [{ ...b, close: b.close + 1 }]));
    assert.match(changed, new RegExp(`^conflict: bars\\[0\\] at ${b.time} differs from the bar stored`));
    const inBatch = await code(
      instruments.appendBars("fresh", [
        { time: 1, close: 10 },
        { time: 1, close: 11 },
      ]),
    );
    assert.match(inBatch, /^invalid_argument: bars\[1\] and bars\[0\] are both at 1 with different values/);
    const counts = instruments.stats();
    assert.equal(counts.refused.conflict, 1);
  });

  test("a listener that throws is counted and the bars are stored all the same", async () => {
    const stop = instruments.onBars(() => {
      throw new Error("boom");
    });
    const r = await instruments.appendBars("boom", [{ time: 1, close: 1 }]);
    stop();
    assert.equal(r.accepted, 1);
    assert.equal(instruments.stats().listenerErrors, 1);
    assert.equal((await instruments.get("boom")).bars, 1);
  });

  test("two services on one store appending to one instrument take turns", async () => {
    const other = new Instruments(new InstrumentStore(opened.store), clock);
    await instruments.ensure("race", { windows: [5], reorderTolerance: 0 });
    const slice = bars.slice(0, 200);
    // Growing prefixes from both: each is new bars after the stored ones, or repeats of them,
    // whatever order the transactions run in; without the lock two would move one state twice.
    const results = await Promise.all(
      [50, 100, 150, 200].flatMap((k) => [
        instruments.appendBars("race", slice.slice(0, k)),
        other.appendBars("race", slice.slice(0, k)),
      ]),
    );
    assert.equal(
      results.reduce((s, r) => s + r.accepted, 0),
      200,
      "every bar accepted exactly once",
    );
    const stored = await instruments.bars("race", { limit: 1000 });
    assert.equal(stored.length, 200);
    const set = new IndicatorSet(indicatorConfigOf(parseInstrumentConfig({ windows: [5] })));
    assert.deepEqual(
      stored.map((s) => s.indicators),
      slice.map((b) => snapshotOf(set.update(b), [5])),
    );
  });
});
