/** `ballast profile` and `ballast report drift` as a user runs them. */
import { test } from "node:test";
import assert from "node:assert/strict";

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { generateFraudWeek, FRAUD_COLUMNS } from "../../src/sim/fraud.js";
import { parseProfile } from "../../src/monitoring/profile/reference-profile.js";
import { scratchDir } from "../helpers/scratch.js";
import { ballast } from "../helpers/cli.js";

const scratch = scratchDir("ballast-report-");

async function week(n: number): Promise<string> {
  const rows = generateFraudWeek({ seed: 3, week: n, rows: 3000 }) as readonly object[];
  const cell = (r: object, c: string) => String((r as Record<string, unknown>)[c]);
  const text = [
    FRAUD_COLUMNS.join(","),
    ...rows.map((r) => FRAUD_COLUMNS.map((c) => cell(r, c)).join(",")),
  ].join("\n");
  return scratch.file(`week-${n}.csv`, `${text}\n`);
}

test("profile writes a profile a user can read back, and prints a table", async () => {
  const out = join(scratch.dir, "profile.json");
  const r = ballast([
    "profile",
    await week(1),
    "-o",
    out,
    "--exclude",
    "is_fraud",
    "--kind",
    "txn_count_24h=categorical",
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^amount\s+input\s+numerical\s+3000\s+0\s+mean /m);
  assert.match(r.stdout, /^txn_count_24h\s+input\s+categorical/m);
  // The file is read twice (quantiles, then exact bin counts); its rows are counted once.
  assert.match(r.stderr, /^profiled 3000 rows in /m);
  const profile = parseProfile(await readFile(out, "utf8"));
  assert.equal(profile.rows, 3000);
  assert.ok(!profile.features.some((f) => f.name === "is_fraud"));
});

test("report drift: table, JSON and a standalone HTML page with the same verdicts", async () => {
  const html = join(scratch.dir, "report.html");
  const json = join(scratch.dir, "report.json");
  const r = ballast([
    "report",
    "drift",
    "--reference",
    await week(1),
    "--current",
    await week(3),
    "--exclude",
    "is_fraud",
    "--html",
    html,
    "--json",
    json,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^amount\s+numerical\s+wasserstein\s+\S+\s+0\.1\s+yes$/m);
  assert.match(r.stderr, /^compared 3000 current rows with 3000 reference rows in /m);
  const numbers = JSON.parse(await readFile(json, "utf8"));
  const drifted = numbers.overall.features
    .filter((f: { drifted: boolean }) => f.drifted)
    .map((f: { feature: string }) => f.feature);
  assert.deepEqual(drifted, ["amount"]);
  const page = await readFile(html, "utf8");
  assert.match(page, /^<!DOCTYPE html>/i);
  assert.ok(page.includes("amount"));
  assert.ok(!/(src|href)=["']https?:/i.test(page), "the page loads nothing from the network");
});

test("bad input is one line and a non-zero exit", async () => {
  const ref = await week(1);
  const cases: Array<[string[], number, RegExp]> = [
    [["report", "drift", "--reference", ref, "--current", join(scratch.dir, "nope.csv")], 3, /nope\.csv/],
    [
      ["report", "drift", "--reference", ref, "--current", ref, "--correction", "holm"],
      2,
      /--correction must be one of/,
    ],
    [
      ["report", "drift", "--reference", ref, "--current", ref, "--test", "amount=chi-square"],
      2,
      /chi-square does not apply to a numerical feature/,
    ],
    [
      ["report", "drift", "--reference", ref, "--current", ref, "--segment", "amount"],
      2,
      /more than 50 distinct values/,
    ],
    [
      ["profile", await scratch.file("empty.csv", "a,b\n"), "-o", join(scratch.dir, "p.json")],
      2,
      /has no rows/,
    ],
    [
      ["profile", await scratch.file("mixed.csv", "a\n1\nx\n"), "-o", join(scratch.dir, "p.json")],
      2,
      /\ba\b/,
    ],
  ];
  for (const [args, code, pattern] of cases) {
    const res = ballast(args);
    assert.equal(res.status, code, `${args.join(" ")}: ${res.stderr}`);
    assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    assert.match(res.stderr, pattern);
  }
});
