// `ballast backtest` as a user runs it: the sample router on a slice of sp500dge writing HTML and
// JSON, and bad input as one line with a non-zero exit.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ballastAsync } from "../helpers/cli.js";
import { DATA_DIR } from "../markets/data.js";

const run = async (...args: string[]) => ballastAsync(args);

describe("ballast backtest", () => {
  let dir: string;
  let slice: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-backtest-"));
    const lines = (await readFile(join(DATA_DIR, "sp500dge.csv"), "utf8")).split("\n");
    slice = join(dir, "sp.csv");
    await writeFile(slice, `${lines.slice(0, 1301).join("\n")}\n`); // header + 1300 returns
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("the sample backtest on 1300 returns writes JSON and a self-contained HTML report", async () => {
    const html = join(dir, "r.html");
    const json = join(dir, "r.json");
    const r = await run(
      "backtest",
      "-f",
      "examples/markets/backtest.yaml",
      "--data",
      slice,
      "--min-train",
      "1000",
      "--refit",
      "150",
      "--html",
      html,
      "--json",
      json,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /REGIME\s+MODEL\s+BARS\s+QLIKE\s+MSE\s+DM p/);
    assert.match(r.stdout, /^all\s+router\s+300 /m);
    assert.match(r.stderr, /backtested 300 bars/);
    const report = JSON.parse(await readFile(json, "utf8")) as {
      setup: { minTrain: number; refit: number; scale: number; mode: string };
      scores: {
        models: string[];
        best: string;
        overall: Record<string, { qlike: number; mse: number }>;
        dm: { qlike: { pValue: number } };
        byRegime: Array<{ label: string }>;
      };
      refits: Array<{ bar: number; n: number }>;
      series: {
        realized: number[];
        router: number[];
        regime: string[];
        weights: Record<string, number[]>;
        level: number[];
      };
    };
    assert.deepEqual(report.scores.models, ["garch", "gjr", "ewma", "har-rv", "last-value", "router"]);
    assert.equal(report.setup.scale, 100);
    assert.equal(report.setup.mode, "soft");
    assert.deepEqual(
      report.refits.map((f) => [f.bar, f.n]),
      [
        [999, 1000],
        [1149, 1150],
      ],
    );
    assert.equal(report.series.realized.length, 300);
    assert.equal(report.series.weights["garch"]?.length, 300);
    assert.deepEqual(
      report.scores.byRegime.map((r) => r.label),
      ["calm", "turbulent"],
    );
    assert.ok(report.scores.dm.qlike.pValue > 0 && report.scores.dm.qlike.pValue <= 1);
    assert.ok(report.series.regime.every((l) => l === "calm" || l === "turbulent"));
    const page = await readFile(html, "utf8");
    assert.equal((page.match(/<svg /g) ?? []).length, 3);
    for (const part of [
      "Regimes on the",
      "Forecast against realized",
      "Router weights over time",
      "Losses per regime",
      "Diebold–Mariano",
    ])
      assert.ok(page.includes(part), part);
    assert.doesNotMatch(page, /https?:\/\//);
  });

  test("too few points: the minimum is named", async () => {
    const r = await run(
      "backtest",
      "-f",
      "examples/markets/router.yaml",
      "--data",
      slice,
      "--min-train",
      "1500",
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ballast: a backtest needs at least 1501 returns .* has 1300\n$/);
  });

  test("NaN in the data: the row is named", async () => {
    const bad = join(dir, "nan.csv");
    await writeFile(bad, "ret\n0.01\n-0.02\nNaN\n0.01\n");
    const r = await run("backtest", "-f", "examples/markets/router.yaml", "--data", bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^ballast: nan\.csv line 4: column "ret" is numeric but holds "NaN"\n$/);
  });

  test("an unknown specialist: one line, non-zero exit", async () => {
    const router = join(dir, "router.yaml");
    await writeFile(
      router,
      "apiVersion: ballast/v1\nkind: Router\nmetadata: { name: r }\nspec:\n  specialists: [{ name: garch, deployment: g }, { name: prophet, deployment: p }]\n",
    );
    const r = await run("backtest", "-f", router, "--data", slice);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^ballast: specialist prophet: unknown kind 'prophet'; [^\n]*\n$/);
  });
});
