/** `ballast instruments load|list|show` against a real server, on the real market series. */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { ballastAsync, startServer } from "../helpers/cli.js";
import { DATA_DIR, series, assertRelative } from "../markets/data.js";
import { IndicatorSet } from "../../src/markets/indicators.js";
import { snapshotOf } from "../../src/markets/instrument.js";

describe("ballast instruments", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  const run = (args: string[]) => ballastAsync([...args, "--server", server.url]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-instruments-"));
    server = await startServer(["--data-dir", join(dir, "data")]);
  });
  after(async () => {
    server.child.kill("SIGTERM");
    await once(server.child, "exit");
    await rm(dir, { recursive: true, force: true });
  });

  test("load eustockmarkets.csv --close-column DAX: every bar, the holiday repeats counted; again: all duplicates", async () => {
    const file = join(DATA_DIR, "eustockmarkets.csv");
    const args = [
      "instruments",
      "load",
      "-f",
      file,
      "--id",
      "dax",
      "--time-column",
      "t",
      "--close-column",
      "DAX",
    ];
    const r = await run([...args, "--batch", "500", "-o", "json"]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const dax = series("eustockmarkets.csv", "DAX");
    const equalConsecutive = dax.filter((c, i) => i > 0 && c === dax[i - 1]).length;
    assert.equal(out.accepted, dax.length);
    assert.equal(out.repeated, equalConsecutive);
    assert.equal(out.duplicates, 0);
    assert.match(r.stderr, /^loaded 1860 bars in /m);

    const again = await run(args);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^dax: 0 bars accepted, 1860 already stored, 0 repeated prices/m);

    const show = await run(["instruments", "show", "dax", "-o", "json"]);
    const view = JSON.parse(show.stdout);
    assert.equal(view.bars, 1860);
    assert.equal(view.last.bar.close, dax[dax.length - 1]);
    const table = await run(["instruments", "show", "dax"]);
    assert.match(table.stdout, /^ewmaVolatility +0\.\d+$/m);
    const list = await run(["instruments", "list"]);
    assert.match(list.stdout, /^dax +1860 +1998\.64615384615 +5473\.72 /m);
  });

  test("--returns loads a price index whose log returns are the file's", async () => {
    const file = join(DATA_DIR, "sp500dge.csv");
    const r = await run(["instruments", "load", "-f", file, "--id", "sp500", "--column", "ret", "--returns"]);
    assert.equal(r.status, 0, r.stderr);
    const ret = series("sp500dge.csv", "ret");
    const zeros = ret.filter((x, i) => i > 0 && x === 0).length;
    assert.match(
      r.stdout,
      new RegExp(`^sp500: ${ret.length} bars accepted, 0 already stored, ${zeros} repeated`, "m"),
    );
    const page = (await (
      await fetch(`${server.url}/api/v1/instruments/sp500/indicators?limit=500`)
    ).json()) as {
      indicators: Array<{ time: number; logReturn: number | null }>;
    };
    assert.equal(page.indicators[0]?.logReturn, null);
    page.indicators.slice(1).forEach((x, i) => {
      const want = ret[i + 1] as number;
      if (want === 0) assert.equal(x.logReturn, 0);
      else assertRelative(x.logReturn as number, want, 1e-9, `row ${i + 2}`);
    });
  });

  test("a bad bar is named by its file line, and nothing of its batch is stored", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "date,close,high,low\n2026-01-02,10,11,9\n2026-01-03,11,10.5,10\n");
    const r = await run([
      "instruments",
      "load",
      "-f",
      bad,
      "--id",
      "bad",
      "--time-column",
      "date",
      "--high-column",
      "high",
      "--low-column",
      "low",
    ]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), "ballast: bad.csv line 3: high 10.5 is below its close 11");
    // Refused before anything was written: not even the instrument exists.
    const shown = await run(["instruments", "show", "bad"]);
    assert.equal(shown.status, 3);
    assert.equal(shown.stderr.trim(), "ballast: no instrument 'bad'");
  });
});

describe("kill -9 mid-load", () => {
  let dir: string;
  let server: { child: ChildProcess; url: string };
  const serve = () => startServer(["--data-dir", join(dir, "data")]);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-instruments-kill-"));
    server = await serve();
  });
  after(async () => {
    server.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("bars and indicators move together: after SIGKILL the count, the state and a finished reload are exact", async () => {
    const file = join(DATA_DIR, "sp500dge.csv");
    const args = [
      "instruments",
      "load",
      "-f",
      file,
      "--id",
      "sp500",
      "--column",
      "ret",
      "--returns",
      "--batch",
      "200",
    ];
    const loading = ballastAsync([...args, "--server", server.url]);
    const view = async () =>
      (await (await fetch(`${server.url}/api/v1/instruments/sp500`)).json()) as { bars?: number };
    // Until a few batches are in (each fetch is a round trip; no timers).
    for (let polls = 0; ((await view().catch(() => ({}) as { bars?: number })).bars ?? 0) < 2000; polls++)
      assert.ok(polls < 20_000, "the load never reached 2000 bars");
    server.child.kill("SIGKILL");
    await once(server.child, "exit");
    assert.notEqual((await loading).status, 0, "the load lost its server");

    server = await serve();
    const stored = await allIndicators(server.url);
    const counted = (await view()).bars as number;
    assert.ok(counted >= 2000 && counted < 17055, `${counted} bars before the kill`);
    assert.equal(stored.length, counted, "every stored bar is counted in the state, and no more");

    const resumed = await ballastAsync([...args, "--server", server.url, "-o", "json"]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(
      [JSON.parse(resumed.stdout).accepted, JSON.parse(resumed.stdout).duplicates],
      [17055 - counted, counted],
    );
    // The same index the CLI builds, through one uninterrupted run.
    const set = new IndicatorSet();
    let logPrice = Math.log(100);
    const want = series("sp500dge.csv", "ret").map((r, i) => {
      logPrice += r;
      return snapshotOf(set.update({ time: i + 1, close: Math.exp(logPrice) }), [20]);
    });
    assert.deepEqual(await allIndicators(server.url), want);
  });
});

async function allIndicators(url: string): Promise<unknown[]> {
  const out: unknown[] = [];
  let from: number | null = 0;
  while (from !== null) {
    const page = (await (
      await fetch(`${url}/api/v1/instruments/sp500/indicators?from=${from}&limit=9999`)
    ).json()) as { indicators: unknown[]; next: number | null };
    out.push(...page.indicators);
    from = page.next;
  }
  return out;
}
