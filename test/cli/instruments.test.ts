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
