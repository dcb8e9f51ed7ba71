// `ballast fit` as a user runs it: GARCH on DEM/GBP against the FCP benchmark, Markov switching
// on statsmodels' Fed funds case, and bad input as one line with a non-zero exit.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ballastAsync } from "../helpers/cli.js";
import { DATA_DIR, assertAbsolute, assertRelative, fixture } from "../markets/data.js";

interface MsFixture {
  data: { endog: number[] };
  published: { loglik: number };
  fit: { params: number[] };
  at_published: { smoothed: number[][]; filtered: number[][] };
}

const run = async (...args: string[]) => ballastAsync(args);

/** `ballast fit ...args -o json`, which must exit 0: its output, parsed. */
async function fitJson<T>(...args: string[]): Promise<T> {
  const r = await run("fit", ...args, "-o", "json");
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

describe("ballast fit", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ballast-fit-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * `fit regimes` with `--probabilities` on the series of fixture markov-switching-NAME.json,
   * written as column `column` of a CSV: the fixture, the fit and the probabilities file's lines.
   */
  async function fitRegimesOn<T>(name: string, column: string, ...args: string[]) {
    const c = fixture<MsFixture>(`markov-switching-${name}.json`);
    const file = join(dir, `${name}.csv`);
    await writeFile(file, `${column}\n${c.data.endog.join("\n")}\n`);
    const probabilities = join(dir, `${name}-probs.csv`);
    const out = await fitJson<T>(
      "regimes",
      "-f",
      file,
      "--column",
      column,
      ...args,
      "--probabilities",
      probabilities,
    );
    const lines = (await readFile(probabilities, "utf8")).trim().split("\n");
    return { c, out, lines };
  }

  test("fit garch on dem2gbp prints the FCP benchmark's numbers", async () => {
    const out = await fitJson<Record<string, number>>(
      "garch",
      "-f",
      join(DATA_DIR, "dem2gbp.csv"),
      "--column",
      "ret",
    );
    assert.deepEqual(Object.keys(out), ["n", "mu", "omega", "alpha", "beta", "loglik"]);
    assert.equal(out["n"], 1974);
    assertRelative(out["mu"] as number, -0.00619041, 5e-5, "mu");
    assertRelative(out["omega"] as number, 0.0107614, 5e-5, "omega");
    assertRelative(out["alpha"] as number, 0.153134, 5e-5, "alpha");
    assertRelative(out["beta"] as number, 0.805974, 5e-5, "beta");
    assertAbsolute(out["loglik"] as number, -1106.6079, 1e-4, "loglik");
  });

  test("fit garch --model gjr adds gamma", async () => {
    const dem = join(DATA_DIR, "dem2gbp.csv");
    const out = await fitJson<Record<string, number>>(
      "garch",
      "-f",
      dem,
      "--column",
      "ret",
      "--model",
      "gjr",
    );
    assert.deepEqual(Object.keys(out), ["n", "mu", "omega", "alpha", "gamma", "beta", "loglik"]);
    assert.ok((out["gamma"] as number) > 0);
    assert.ok((out["loglik"] as number) > -1106.6079, "GJR nests GARCH");
  });

  test("fit regimes on statsmodels' Fed funds case: log-likelihood, transition, durations, probabilities", async () => {
    const { c, out, lines } = await fitRegimesOn<{
      n: number;
      loglik: number;
      params: { means: number[]; variances: number[] };
      transition: number[][];
      expected_durations: number[];
    }>("fedfunds", "rate", "--method", "markov-switching", "--regimes", "2");
    assert.deepEqual(Object.keys(out), ["n", "loglik", "params", "transition", "expected_durations"]);
    assert.equal(out.n, 226);
    assertAbsolute(out.loglik, c.published.loglik, 1e-4, "loglik");
    const [p00, p10, mu0, mu1] = c.fit.params as [number, number, number, number];
    assertAbsolute(out.transition[0]?.[0] as number, p00, 1e-3, "P(0 -> 0)");
    assertAbsolute(out.transition[1]?.[0] as number, p10, 1e-3, "P(1 -> 0)");
    assertAbsolute(out.params.means[0] as number, mu0, 1e-2, "mean 0");
    assertAbsolute(out.params.means[1] as number, mu1, 1e-2, "mean 1");
    assertRelative(out.expected_durations[0] as number, 1 / (1 - p00), 0.05, "duration 0");
    assert.equal(lines[0], "row,line,smoothed_0,smoothed_1,filtered_0,filtered_1");
    assert.equal(lines.length, 227);
    const first = (lines[1] as string).split(",").map(Number);
    assert.equal(first[0], 1);
    assert.equal(first[1], 2); // the first data row is file line 2
    assertAbsolute(first[2] as number, c.at_published.smoothed[0]?.[0] as number, 1e-3, "smoothed at row 1");
    assertAbsolute(first[4] as number, c.at_published.filtered[0]?.[0] as number, 1e-3, "filtered at row 1");
  });

  test("fit regimes --ar 4 is Hamilton's GNP model: the first 4 rows are conditioned on", async () => {
    const { c, out, lines } = await fitRegimesOn<{ n: number; loglik: number; params: { ar: number[] } }>(
      "hamilton-gnp",
      "growth",
      "--ar",
      "4",
    );
    assert.equal(out.n, 131);
    assertAbsolute(out.loglik, c.published.loglik, 1e-4, "loglik");
    assert.equal(out.params.ar.length, 4);
    assert.equal(lines.length, 132);
    assert.deepEqual((lines[1] as string).split(",").slice(0, 2), ["5", "6"]); // row 5, file line 6
  });

  test("--returns log derives returns from prices", async () => {
    const file = join(dir, "prices.csv");
    // a seeded random walk whose volatility doubles in the middle third
    let seed = 42;
    const uniform = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const prices = [100];
    for (let i = 1; i < 300; i++) {
      const vol = i > 100 && i < 200 ? 0.02 : 0.01;
      prices.push((prices[i - 1] as number) * Math.exp(vol * Math.sqrt(3) * (2 * uniform() - 1)));
    }
    await writeFile(file, `close\n${prices.join("\n")}\n`);
    const out = await fitJson<{ n: number }>(
      "regimes",
      "-f",
      file,
      "--column",
      "close",
      "--returns",
      "log",
      "--scale",
      "100",
      "--method",
      "hmm",
    );
    assert.equal(out.n, 299);
  });

  test("--rows fits on the file's first rows only: the same fit as a file cut there", async () => {
    const all = (await readFile(join(DATA_DIR, "dem2gbp.csv"), "utf8")).trimEnd().split("\n");
    const cut = join(dir, "dem-head.csv");
    await writeFile(cut, `${all.slice(0, 1001).join("\n")}\n`);
    const fit = (...args: string[]) => fitJson<Record<string, number>>("garch", "--column", "ret", ...args);
    const head = await fit("-f", join(DATA_DIR, "dem2gbp.csv"), "--rows", "1000");
    assert.equal(head["n"], 1000);
    assert.deepEqual(head, await fit("-f", cut));
  });

  test("--skip-repeats drops holiday-filled prices before the returns are taken", async () => {
    const file = join(dir, "filled.csv");
    const prices = Array.from(
      { length: 160 },
      (_, i) => 100 * Math.exp(0.01 * Math.sin(i * 1.3) + 0.002 * i),
    );
    const filled = prices.flatMap((p, i) => (i % 10 === 5 ? [p, p] : [p]));
    await writeFile(file, `close\n${filled.join("\n")}\n`);
    const fit = (...args: string[]) =>
      fitJson<{ n: number }>("ewma", "-f", file, "--column", "close", "--returns", "log", ...args);
    assert.equal((await fit()).n, filled.length - 1);
    assert.equal((await fit("--skip-repeats")).n, prices.length - 1);
  });

  test("bad input: one line naming the problem, non-zero exit", async () => {
    const short = join(dir, "short.csv");
    await writeFile(short, "ret\n0.1\n-0.2\n0.3\n");
    const nan = join(dir, "nan.csv");
    await writeFile(
      nan,
      `ret\n${Array.from({ length: 150 }, (_, i) => (i === 40 ? "NaN" : String(Math.sin(i)))).join("\n")}\n`,
    );
    const prices = join(dir, "bad-prices.csv");
    await writeFile(prices, "close\n10\n11\n0\n12\n");
    const cases: Array<[string[], RegExp]> = [
      [["fit", "garch", "-f", short, "--column", "ret"], /GARCH\(1,1\) needs at least 100 points, got 3/],
      [["fit", "garch", "-f", short, "--column", "close"], /short\.csv has no column "close"/],
      [
        ["fit", "garch", "-f", nan, "--column", "ret"],
        /nan\.csv line 42: column "ret" is numeric but holds "NaN"/,
      ],
      [["fit", "garch", "-f", short, "--column", "ret", "--model", "egarch"], /--model must be garch or gjr/],
      [
        ["fit", "regimes", "-f", prices, "--column", "close", "--returns", "log"],
        /bad-prices\.csv line 4: price 0 in "close" is not positive/,
      ],
      [
        ["fit", "regimes", "-f", short, "--column", "ret", "--method", "kmeans"],
        /--method must be markov-switching, hmm or rules/,
      ],
      [["fit", "garch", "-f", join(dir, "missing.csv"), "--column", "ret"], /no such file/],
      [
        ["fit", "garch", "-f", short, "--column", "ret", "--rows", "0"],
        /--rows must be a positive whole number, got '0'/,
      ],
      [["fit", "garch", "-f", short, "--column", "ret", "--skip-repeats"], /--skip-repeats needs --returns/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      assert.notEqual(r.status, 0, args.join(" "));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});
