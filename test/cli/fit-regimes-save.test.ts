// `ballast fit regimes --method markov-switching|hmm|rules --save file` as a user runs it: the
// file is a builtin classifier the registry parser accepts, and `--method rules` prints the
// empirical transition matrix of the rules' regime path. Real processes.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ballastAsync } from "../helpers/cli.js";
import { DATA_DIR, series } from "../markets/data.js";
import { parseBuiltinModel } from "../../src/runtimes/builtin/format.js";
import {
  readRegime,
  startRegime,
  stepRegime,
  type RegimeModel,
} from "../../src/markets/regime-classifier.js";

const SP = join(DATA_DIR, "sp500dge.csv");
const EU = join(DATA_DIR, "eustockmarkets.csv");

describe("ballast fit regimes --save and --method rules", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-fit-regimes-"));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("--method rules prints n, params, the empirical transition matrix and durations; --save is servable", async () => {
    const rules = join(dir, "rules.yaml");
    await writeFile(
      rules,
      "indicator: realized\nwindow: 20\nlookback: 504\nenter: {turbulent: 0.8}\nexit: {turbulent: 0.6}\nminDuration: 5\n",
    );
    const saved = join(dir, "rules.json");
    const r = await ballastAsync([
      "fit",
      "regimes",
      "-f",
      SP,
      "--column",
      "ret",
      "--method",
      "rules",
      "--rules",
      rules,
      "--save",
      saved,
      "-o",
      "json",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      n: number;
      loglik?: unknown;
      transition: number[][];
      expected_durations: number[];
    };
    assert.equal(out.loglik, undefined);
    const model = parseBuiltinModel(await readFile(saved, "utf8"));
    assert.equal(model.kind, "regime-rules");
    assert.equal((model as { window: number }).window, 523);
    // The same counts from the library, independently of the command.
    const regimes = (model as unknown as { regimes: RegimeModel }).regimes;
    const counts = [
      [0, 0],
      [0, 0],
    ];
    let state = startRegime(regimes);
    let prev: number | undefined;
    let n = 0;
    for (const v of series("sp500dge.csv", "ret")) {
      state = stepRegime(regimes, state, v);
      const now = readRegime(regimes, state)?.regime;
      if (now === undefined) continue;
      n += 1;
      if (prev !== undefined)
        (counts[prev] as number[])[now] = ((counts[prev] as number[])[now] as number) + 1;
      prev = now;
    }
    assert.equal(out.n, n);
    assert.equal(out.n, 17055 - 522);
    counts.forEach((row, i) => {
      const total = (row[0] as number) + (row[1] as number);
      row.forEach((c, j) => assert.ok(Math.abs((out.transition[i]?.[j] as number) - c / total) < 1e-15));
      assert.ok(
        Math.abs((out.expected_durations[i] as number) - 1 / (1 - (row[i] as number) / total)) < 1e-9,
      );
    });
  });

  test("--method hmm --save --labels writes a classifier with the fit's parameters and the names given", async () => {
    const saved = join(dir, "hmm.json");
    const r = await ballastAsync([
      "fit",
      "regimes",
      "-f",
      EU,
      "--column",
      "DAX",
      "--returns",
      "log",
      "--scale",
      "100",
      "--method",
      "hmm",
      "--labels",
      "quiet,stormy",
      "--save",
      saved,
      "--window",
      "120",
      "-o",
      "json",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { params: { variances: number[] }; transition: number[][] };
    const model = parseBuiltinModel(await readFile(saved, "utf8")) as unknown as {
      window: number;
      regimes: { labels: string[]; variances: number[]; transition: number[][]; scale: number };
    };
    assert.equal(model.window, 120);
    assert.deepEqual(model.regimes.labels, ["quiet", "stormy"]);
    assert.deepEqual(model.regimes.variances, out.params.variances);
    assert.deepEqual(model.regimes.transition, out.transition);
    assert.equal(model.regimes.scale, 100);
  });

  test("bad flags: rules without --rules, labels not matching --regimes", async () => {
    const a = await ballastAsync(["fit", "regimes", "-f", SP, "--column", "ret", "--method", "rules"]);
    assert.notEqual(a.status, 0);
    assert.match(a.stderr, /--method rules needs --rules <file>/);
    const b = await ballastAsync(["fit", "regimes", "-f", SP, "--column", "ret", "--labels", "a,b,c"]);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /--labels names 3 regimes but --regimes is 2/);
  });
});
